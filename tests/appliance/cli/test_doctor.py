"""`codemoat doctor`: every check a pass or a fail with what to do, as text or one JSON object; read-only."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.appliance.cli.test_cli_output import VENV_BIN, codemoat

CHECKS = [
    "versions",
    "python",
    "torch",
    "models",
    "engine library",
    "index",
    "embedder",
    "database",
    "license",
    "free disk",
    "clock",
    "port",
    "gpu",
    "tpm",
]


def test_a_fresh_install_passes_and_nothing_is_written(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = codemoat(home, "doctor", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True and [c["name"] for c in report["checks"]] == CHECKS
    assert all(set(c) == {"name", "ok", "detail"} and c["detail"] for c in report["checks"])
    by_name = {c["name"]: c["detail"] for c in report["checks"]}
    assert "nothing indexed yet" in by_name["index"] and "not created yet" in by_name["database"]
    assert by_name["license"].startswith("UNLICENSED: ")
    assert not home.exists()  # a check never creates what it looks at


def test_it_reports_what_is_there_and_fails_with_what_to_do(tmp_path: Path) -> None:
    home = tmp_path / "home"
    repo = tmp_path / "shop"
    repo.mkdir()
    (repo / "cart.py").write_text("def total(items):\n    return sum(items)\n")
    assert codemoat(home, "index", str(repo), "--name", "shop").returncode == 0
    assert codemoat(home, "token", "create", "alice", "--admin").returncode == 0
    report = json.loads(codemoat(home, "doctor", "--json").stdout)
    by_name = {c["name"]: c for c in report["checks"]}
    assert by_name["index"]["ok"] and by_name["index"]["detail"].startswith("1 repositories, 1 files")
    assert by_name["database"]["ok"] and "migrations at" in by_name["database"]["detail"]

    (home / "config.toml").write_text(f'[engine]\nmodel_path = "{tmp_path / "gone.gguf"}"\n')
    failed = codemoat(home, "doctor")
    assert failed.returncode == 1
    line = next(line for line in failed.stdout.splitlines() if line.startswith("FAIL  models: "))
    assert "gone.gguf does not exist" in line


@pytest.mark.skipif(
    os.geteuid() != 0, reason="hiding a system library needs a private mount namespace (root)"
)
def test_a_system_library_llama_cpp_needs_is_named_when_missing(tmp_path: Path) -> None:
    # libgomp hidden behind an overlay whose upper layer holds whiteouts for its names, as on a minimal root.
    libs, upper, work = Path("/usr/lib/x86_64-linux-gnu"), tmp_path / "upper", tmp_path / "work"
    upper.mkdir(), work.mkdir()
    for name in ("libgomp.so.1", "libgomp.so.1.0.0"):
        os.mknod(upper / name, stat.S_IFCHR | 0o600, os.makedev(0, 0))
    env = {**os.environ, "CODEMOAT_HOME": str(tmp_path / "home"), "CODEMOAT_ENGINE__KIND": "llama_cpp"}
    script = (
        f"mount -t overlay overlay -o lowerdir={libs},upperdir={upper},workdir={work} {libs} && "
        f"exec {VENV_BIN / 'codemoat'} doctor --json"
    )
    done = subprocess.run(
        ["unshare", "--mount", "bash", "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 1, done.stdout + done.stderr
    check = {c["name"]: c for c in json.loads(done.stdout)["checks"]}["engine library"]
    assert (
        check["ok"] is False and "libgomp.so.1" in check["detail"] and "libgomp1 provides" in check["detail"]
    )
