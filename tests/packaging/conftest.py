"""The bundle the packaging tests install: built once by `make bundle` from this checkout, signed by a vendor
the tests made (so that they can sign updates too)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from licensing.vendor import VendorKeyring
from tests.packaging.bundles import ROOT


@pytest.fixture(scope="session")
def vendor_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("vendor") / "keys"
    VendorKeyring.generate(directory, name="Packaging test vendor", now=int(time.time()) - 86400)
    return directory


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory, vendor_dir: Path) -> Path:
    """SmolLM2 only and no .vsix (the extension has its own tests), build 100."""
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        ["make", "-s", "bundle", "BUNDLE_MODELS=smollm2-135m",
         f"BUNDLE_ARGS=--no-vsix --out {out} --vendor {vendor_dir} --build 100"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    path = Path(built.stdout.strip().splitlines()[-1])  # the contract: the archive's path is the last line
    assert path.parent == out and path.name.endswith(".tar") and path.is_file()
    return path
