"""The offline bundle, as a customer site uses it: `make bundle` from this checkout, then packaging/install.sh
and a served completion inside a network namespace with no network at all, with every name lookup and
connection attempt of every Python process recorded (netaudit/sitecustomize.py) and none allowed but loopback.
Then the ways a bundle can be altered on its way in, each refused before anything is installed.

Needs root (for `unshare --net --mount` and the service user); CI runs it (CODEMOAT_REQUIRE_PACKAGING_TESTS=1)."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import tarfile
import time
from pathlib import Path

from tests.packaging.bundles import INSTALL, as_root, member, resummed, rewrite

HERE = Path(__file__).resolve().parent
pytestmark = as_root


def test_the_bundle_installs_and_serves_with_no_network(archive: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "shop.py").write_text(
        "def total_price(items):\n    return sum(item.price * item.quantity for item in items)\n"
    )
    work = tmp_path / "site"
    work.mkdir()
    site = subprocess.run(
        ["unshare", "--net", "--mount", HERE / "offline_site.sh", INSTALL, archive, repo, work, HERE / "netaudit"],
        capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    logs = {name: _tail(work / name) for name in ("install.log", "index.log", "serve.log")}
    assert site.returncode == 0, f"{site.stderr[-2000:]}\n{logs}"

    result = json.loads((work / "result.json").read_text())
    assert result["status"] == 200, result
    assert result["body"]["choices"][0]["text"].strip(), result
    # The installer's contract: the CLI at DEST/bin/codemoat, printed last; the data directory the service user's.
    assert (work / "install.out").read_text().strip().splitlines()[-1] == "/opt/codemoat/bin/codemoat"
    assert (work / "data-dir").read_text().split() == ["700", "codemoat"]
    doctor = json.loads((work / "doctor.json").read_text())
    checks = {check["name"]: check for check in doctor["checks"]}
    assert checks["models"]["ok"], checks["models"]  # the bundle without the default model serves its own
    assert checks["engine library"]["ok"], checks["engine library"]
    assert "signed by root-" in (work / "install.log").read_text()

    attempts = [json.loads(line) for line in (work / "net-audit.jsonl").read_text().splitlines()]
    outside = [a for a in attempts if not a["loopback"]]
    assert not outside, outside
    # The recorder saw the traffic there was (the client and the server on loopback): it was running.
    assert any(a["event"] == "socket.connect" for a in attempts)
    print(
        f"offline install {result['install_s']:.0f} s, ready to serve {result['ready_s']:.0f} s after start"
    )


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-1500:] if path.exists() else "(none)"


def _install(archive: Path, dest: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [INSTALL, archive, dest, "--no-user", *extra], capture_output=True, text=True, timeout=600
    )


def _edit_meta(name: str, data: bytes) -> bytes:
    return data.replace(b'"build":', b'"build": 1, "was":') if name == "bundle.json" else data


def test_an_edited_file_is_refused(archive: Path, tmp_path: Path) -> None:
    tampered = rewrite(archive, tmp_path / "edited.tar", _edit_meta)
    refused = _install(tampered, tmp_path / "dest")
    assert refused.returncode != 0 and "checksums do not match" in refused.stderr
    assert not (tmp_path / "dest").exists()  # nothing was left behind


def test_an_edited_manifest_is_refused_by_the_signature(archive: Path, tmp_path: Path) -> None:
    meta = _edit_meta("bundle.json", member(archive, "bundle.json"))

    manifest = resummed(member(archive, "SHA256SUMS"), {"bundle.json": meta})  # made to agree with the edit
    replaced = {"bundle.json": meta, "SHA256SUMS": manifest}

    def edit(name: str, data: bytes) -> bytes:
        return replaced.get(name, data)

    refused = _install(rewrite(archive, tmp_path / "resummed.tar", edit), tmp_path / "dest")
    assert refused.returncode != 0
    assert "release signature refused" in refused.stderr and "altered" in refused.stderr
    assert not (tmp_path / "dest").exists()


def test_a_file_outside_the_manifest_is_refused(archive: Path, tmp_path: Path) -> None:
    # A wheel slipped in beside the others, in no manifest.
    with tarfile.open(archive) as source:
        top = source.getmembers()[0].name.split("/")[0]
    extra = rewrite(archive, tmp_path / "extra.tar", lambda name, data: data)
    with tarfile.open(extra, "a") as target:
        info = tarfile.TarInfo(f"{top}/wheels/evil-1.0-py3-none-any.whl")
        info.size = 3
        target.addfile(info, io.BytesIO(b"pk!"))
    refused = _install(extra, tmp_path / "dest")
    assert refused.returncode != 0 and "files not in the checksum manifest: wheels/evil" in refused.stderr


def test_a_bundle_from_a_vendor_the_operator_did_not_name_is_refused(archive: Path, tmp_path: Path) -> None:
    from licensing.vendor import VendorKeyring

    other = VendorKeyring.generate(tmp_path / "other", name="Someone else", now=int(time.time()))
    refused = _install(archive, tmp_path / "dest", "--trust", str(other.directory / "root.json"))
    assert refused.returncode != 0 and "does not trust" in refused.stderr
    assert not (tmp_path / "dest").exists()


def test_a_system_without_a_library_the_wheels_need_is_refused(archive: Path, tmp_path: Path) -> None:
    # A minimal Debian root has no libgomp, which llama.cpp links to. Here it is hidden in a private mount
    # namespace by an overlay whose upper layer holds whiteouts (0:0 character devices) for its two names.
    libs, upper, work = Path("/usr/lib/x86_64-linux-gnu"), tmp_path / "upper", tmp_path / "work"
    upper.mkdir(), work.mkdir()
    for name in ("libgomp.so.1", "libgomp.so.1.0.0"):
        os.mknod(upper / name, stat.S_IFCHR | 0o600, os.makedev(0, 0))
    dest = tmp_path / "dest"
    script = (
        f"mount -t overlay overlay -o lowerdir={libs},upperdir={upper},workdir={work} {libs} && "
        f"exec {INSTALL} {archive} {dest} --no-user --python /usr/bin/python3.11"
    )
    refused = subprocess.run(
        ["unshare", "--mount", "bash", "-c", script], capture_output=True, text=True, timeout=900
    )
    assert refused.returncode != 0
    assert "lacks the shared libraries libgomp.so.1 " in refused.stderr and "libgomp1" in refused.stderr
    assert not dest.exists()
