"""What the packaging tests share: the root gate, and edits of a built bundle (a file changed, the manifest made
to agree, a new release signature from the test's vendor)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "packaging" / "install.sh"

_missing = (
    "needs root"
    if os.geteuid() != 0
    else "needs unshare and ip"
    if not (shutil.which("unshare") and shutil.which("ip"))
    else ""
)
if _missing and os.environ.get("CODEMOAT_REQUIRE_PACKAGING_TESTS") == "1":
    raise RuntimeError(f"the packaging tests must run here but {_missing}")
# Installing needs root: for `unshare --net --mount`, a service user, and files owned by it.
as_root = [
    pytest.mark.skipif(bool(_missing), reason=f"the packaging test {_missing}"),
    pytest.mark.timeout(1800),
]

Edit = Callable[[str, bytes], bytes | None]


def rewrite(archive: Path, out: Path, edit: Edit) -> Path:
    """A copy of the archive with `edit(name, data) -> data | None` applied to each file (None drops it)."""
    with tarfile.open(archive) as source, tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as target:
        for member in source.getmembers():
            data = source.extractfile(member).read() if member.isfile() else None
            if data is not None:
                data = edit(member.name.split("/", 1)[1], data)
                if data is None:
                    continue
                member.size = len(data)
            target.addfile(member, None if data is None else io.BytesIO(data))
    return out


def member(archive: Path, name: str) -> bytes:
    with tarfile.open(archive) as source:
        top = source.getmembers()[0].name.split("/")[0]
        return source.extractfile(f"{top}/{name}").read()


def resummed(manifest: bytes, changed: dict[str, bytes]) -> bytes:
    """SHA256SUMS with the lines of the `changed` files made to match their new contents."""
    lines = []
    for line in manifest.decode().splitlines():
        name = line[66:]
        lines.append(f"{hashlib.sha256(changed[name]).hexdigest()}  {name}" if name in changed else line)
    return ("\n".join(lines) + "\n").encode()


def release(archive: Path, out: Path, vendor: Path, *, build: int) -> Path:
    """The same bundle as another build, signed again by `vendor`: an update (or an older one)."""
    meta = json.loads(member(archive, "bundle.json"))
    meta["build"] = build
    new_meta = (json.dumps(meta, indent=2) + "\n").encode()
    manifest = resummed(member(archive, "SHA256SUMS"), {"bundle.json": new_meta})
    scratch = out.with_suffix(".sums")
    scratch.write_bytes(manifest)
    signature = out.with_suffix(".sig")
    signature.unlink(missing_ok=True)
    subprocess.run(
        [sys.executable, "-m", "appliance.cli.main", "vendor", "sign-release", scratch, "--vendor", vendor,
         "--version", meta["version"], "--build", str(build), "--platform", meta["platform"], "--out", signature],
        check=True, capture_output=True,
    )  # fmt: skip
    replaced = {"bundle.json": new_meta, "SHA256SUMS": manifest, "SHA256SUMS.sig": signature.read_bytes()}
    return rewrite(archive, out, lambda name, data: replaced.get(name, data))
