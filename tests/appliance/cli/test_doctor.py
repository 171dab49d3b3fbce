"""`codemoat doctor`: every check a pass or a fail with what to do, as text or one JSON object; read-only."""

from __future__ import annotations

import json
from pathlib import Path

from tests.appliance.cli.test_cli_output import codemoat

CHECKS = [
    "versions",
    "python",
    "torch",
    "models",
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
