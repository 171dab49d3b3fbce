"""Release signatures (licensing.release): the vendor signs a bundle's checksum manifest; an installer accepts
it only when it covers exactly that manifest and chains to a trusted root. Real keys, real signatures."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from licensing.errors import LicensingError
from licensing.release import newer, verify_release
from licensing.vendor import VendorKeyring

NOW = int(time.time())
MANIFEST = b"0" * 64 + b"  wheels/a.whl\n" + b"1" * 64 + b"  bundle.json\n"


@pytest.fixture(scope="module")
def vendors(tmp_path_factory: pytest.TempPathFactory) -> tuple[VendorKeyring, VendorKeyring]:
    base = tmp_path_factory.mktemp("vendors")
    make = VendorKeyring.generate
    return make(base / "ours", name="Vendor", now=NOW - 86400), make(
        base / "other", name="Other", now=NOW - 86400
    )


def _sign(vendor: VendorKeyring, manifest: bytes = MANIFEST, version: str = "1.2.0", build: int = 7) -> str:
    return vendor.sign_release(manifest, version=version, build=build, platform="cp311-linux_x86_64", now=NOW)


def test_a_signature_over_the_manifest_verifies_and_names_the_release(vendors) -> None:
    ours, _ = vendors
    release = verify_release(_sign(ours), MANIFEST, ours.trust())
    assert (release.version, release.build, release.platform) == ("1.2.0", 7, "cp311-linux_x86_64")
    assert release.root_kid == ours.trust().roots()[0].kid


def test_an_edited_manifest_or_signature_or_another_vendor_is_refused(vendors) -> None:
    ours, other = vendors
    signature = _sign(ours)
    with pytest.raises(LicensingError, match="altered"):
        verify_release(signature, MANIFEST.replace(b"a.whl", b"b.whl"), ours.trust())
    with pytest.raises(LicensingError, match="does not trust"):
        verify_release(_sign(other), MANIFEST, ours.trust())
    body = signature.splitlines()
    body[2] = body[2][:-4] + ("AAAA" if not body[2].endswith("AAAA") else "BBBB")
    with pytest.raises(LicensingError):
        verify_release("\n".join(body), MANIFEST, ours.trust())


def test_newer_orders_versions_numerically_then_builds(vendors) -> None:
    ours, _ = vendors
    release = verify_release(_sign(ours, version="1.10.0", build=3), MANIFEST, ours.trust())
    assert newer(release, ("1.9.9", 99))
    assert newer(release, ("1.10.0", 2))
    assert not newer(release, ("1.10.0", 3))
    assert not newer(release, ("1.11.0", 0))


def test_the_installer_check_runs_as_a_module_with_a_reason_on_refusal(vendors, tmp_path: Path) -> None:
    ours, other = vendors
    (tmp_path / "SHA256SUMS").write_bytes(MANIFEST)
    (tmp_path / "SHA256SUMS.sig").write_text(_sign(ours))
    for name in ("ours", "other"):  # the public root each vendor hands its customers
        shutil.copy(vendors[name == "other"].directory / "root.json", tmp_path / f"{name}.json")

    def check(*extra: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "licensing.release", "verify", "--signature", "SHA256SUMS.sig"]
        return subprocess.run(
            [*command, "--manifest", "SHA256SUMS", *extra], cwd=tmp_path, capture_output=True, text=True
        )

    trusted = check("--trust", "ours.json")
    assert trusted.returncode == 0, trusted.stderr
    assert json.loads(trusted.stdout)["build"] == 7
    # A development bundle carries its root: trusted, with a warning naming its key id.
    bundled = check("--bundled-root", "ours.json")
    assert bundled.returncode == 0 and "development build" in bundled.stderr
    # An operator who names the vendor's root is not fooled by a bundle that brings another one.
    refused = check("--bundled-root", "ours.json", "--trust", "other.json")
    assert refused.returncode == 3 and refused.stderr.startswith("release signature refused:")
