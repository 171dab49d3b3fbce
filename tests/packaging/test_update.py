"""`codemoat update apply|rollback|status` on an appliance installed from the bundle: a newer release signed by
the vendor installs beside the current one, keeps the data, and is audited; an older, re-signed-by-someone-else
or altered bundle is refused and changes nothing; rollback returns to the previous release."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from licensing.vendor import VendorKeyring
from tests.packaging.bundles import INSTALL, as_root, release, rewrite

pytestmark = as_root


@pytest.fixture(scope="module")
def site(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The appliance as install.sh leaves it (build 100), with a token that an update must keep."""
    prefix = tmp_path_factory.mktemp("site") / "codemoat"
    installed = subprocess.run(
        [INSTALL, archive, prefix, "--no-user", "--python", "/usr/bin/python3.11"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-3000:]
    assert _codemoat(prefix, "token", "create", "alice", "--admin").returncode == 0
    return prefix


def _codemoat(prefix: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEMOAT_", "PYTHON"))}
    return subprocess.run(
        [prefix / "bin" / "codemoat", *args], env=env, capture_output=True, text=True, timeout=900
    )


def _status(prefix: Path) -> list[str]:
    return [line.split(" at ")[0] for line in _codemoat(prefix, "update", "status").stdout.splitlines()]


def test_an_update_applies_keeps_the_data_and_rolls_back(site: Path, archive: Path, vendor_dir: Path) -> None:
    platform = json.loads((site / "current" / "share" / "codemoat" / "bundle.json").read_text())["platform"]
    update = release(archive, archive.with_name("update-101.tar"), vendor_dir, build=101)
    updated = [f"current: 0.1.0 build 101 ({platform})", f"previous: 0.1.0 build 100 ({platform})"]
    started = time.monotonic()
    applied = _codemoat(site, "update", "apply", str(update))
    apply_s = time.monotonic() - started
    assert applied.returncode == 0, applied.stderr[-3000:]
    assert _status(site) == updated
    tokens = _codemoat(site, "token", "list")
    assert "alice" in tokens.stdout, tokens.stderr
    log = _codemoat(site, "audit", "list")
    assert "update.apply" in log.stdout, log.stderr
    verified = _codemoat(site, "audit", "verify")
    assert verified.returncode == 0, verified.stderr

    started = time.monotonic()
    rolled = _codemoat(site, "update", "rollback")
    rollback_s = time.monotonic() - started
    assert rolled.returncode == 0, rolled.stderr
    assert _status(site)[0] == f"current: 0.1.0 build 100 ({platform})"
    assert "alice" in _codemoat(site, "token", "list").stdout
    assert "update.rollback" in _codemoat(site, "audit", "list").stdout

    # Applying the same bundle again rolls forward to the release left on disk, migrating first.
    started = time.monotonic()
    again = _codemoat(site, "update", "apply", str(update))
    forward_s = time.monotonic() - started
    assert again.returncode == 0, again.stderr[-3000:]
    assert _status(site) == updated
    assert "alice" in _codemoat(site, "token", "list").stdout
    assert _codemoat(site, "audit", "verify").returncode == 0
    assert _codemoat(site, "update", "rollback").returncode == 0
    assert _status(site)[0] == f"current: 0.1.0 build 100 ({platform})"
    print(f"update apply {apply_s:.0f} s, rollback {rollback_s:.1f} s, roll forward {forward_s:.1f} s")


def test_a_release_on_disk_from_another_bundle_is_not_switched_to(
    site: Path, archive: Path, vendor_dir: Path, tmp_path: Path
) -> None:
    before = _status(site)
    occupied = site / "versions" / "0.1.0-700"
    occupied.mkdir()
    try:
        other = release(archive, tmp_path / "update-700.tar", vendor_dir, build=700)
        refused = _codemoat(site, "update", "apply", str(other))
        assert refused.returncode == 3 and "from another bundle" in refused.stderr, refused.stderr
        assert _status(site) == before
    finally:
        occupied.rmdir()


def test_an_older_release_is_refused_unless_forced(site: Path, archive: Path, vendor_dir: Path) -> None:
    before = _status(site)
    older = release(archive, archive.with_name("older-99.tar"), vendor_dir, build=99)
    refused = _codemoat(site, "update", "apply", str(older))
    assert (
        refused.returncode == 3
        and "older than the installed" in refused.stderr
        and "--force" in refused.stderr
    )
    assert _status(site) == before
    assert _codemoat(site, "update", "apply", str(archive)).stderr.count("is the one installed") == 1


def test_an_update_from_another_vendor_or_altered_is_refused(
    site: Path, archive: Path, vendor_dir: Path, tmp_path: Path
) -> None:
    before = _status(site)
    other = tmp_path / "other"
    VendorKeyring.generate(other, name="Someone else", now=int(time.time()) - 86400)
    foreign = release(archive, tmp_path / "foreign.tar", other, build=500)
    refused = _codemoat(site, "update", "apply", str(foreign))
    assert (
        refused.returncode == 3
        and "signature was refused" in refused.stderr
        and "does not trust" in refused.stderr
    )

    def edit(name: str, data: bytes) -> bytes:  # a wheel changed after the vendor signed
        return data + b"\0" if name.startswith("wheels/codemoat-") else data

    signed = release(archive, tmp_path / "signed.tar", vendor_dir, build=600)
    altered = rewrite(signed, tmp_path / "altered.tar", edit)
    refused = _codemoat(site, "update", "apply", str(altered))
    assert refused.returncode == 3 and "checksums do not match" in refused.stderr
    assert _status(site) == before
    assert not (site / "versions" / "0.1.0-600").exists()
