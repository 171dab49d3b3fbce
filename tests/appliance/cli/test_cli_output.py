"""The exact output of the commands users read most: a change of wording or layout is a visible decision here.
Run as real processes at 80 columns, as a terminal, a log or CI shows them."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from tests.conftest import VENV_BIN


def codemoat(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CODEMOAT_HOME": str(home), "COLUMNS": "80", "NO_COLOR": "1"}
    return subprocess.run(
        [str(VENV_BIN / "codemoat"), *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_index_summary(tmp_path: Path) -> None:
    repo = tmp_path / "shop"
    (repo / "cart").mkdir(parents=True)
    (repo / "cart" / "total.py").write_text("def add(a, b):\n    return a + b\n")
    (repo / ".env").write_text('API_KEY = "x"\n')
    done = codemoat(tmp_path / "home", "index", str(repo), "--name", "shop")
    assert done.returncode == 0, done.stderr
    seconds = re.compile(r"(│ seconds        │)\s+[\d.]+ │")
    assert seconds.sub(r"\1 S │", done.stdout) == (
        "Index summary\n"
        "┏━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━┓\n"
        "┃                ┃         shop ┃\n"
        "┡━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━┩\n"
        "│ files          │            1 │\n"
        "│ changed        │            1 │\n"
        "│ removed        │            0 │\n"
        "│ chunks written │            1 │\n"
        "│ total chunks   │            1 │\n"
        "│ symbols        │            1 │\n"
        "│ skipped        │ 1 (secret 1) │\n"
        "│ seconds        │ S │\n"
        "└────────────────┴──────────────┘\n"
    )


def test_token_create(tmp_path: Path) -> None:
    done = codemoat(tmp_path / "home", "token", "create", "alice", "--admin")
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"cm_[A-Za-z0-9_-]{43}\n", done.stdout), done.stdout
    assert done.stderr == (
        "token 'alice' (id 1) for admin 'alice', scope: all repositories. Copy it now: it is not shown again.\n"
    )
    narrowed = codemoat(
        tmp_path / "home", "token", "create", "ci", "--user", "alice", "--repos", "shop", "--json"
    )
    assert narrowed.returncode == 0, narrowed.stderr
    data = json.loads(narrowed.stdout)
    assert data["token"].startswith("cm_") and (data["name"], data["user"], data["repos"]) == (
        "ci",
        "alice",
        ["shop"],
    )


def test_license_status_without_a_license(tmp_path: Path) -> None:
    done = codemoat(tmp_path / "home", "license", "status")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "state: UNLICENSED\n"
        "reason: no license is installed and the model is not sealed: the open model serves without one\n"
        "license: STOPPED: no license is installed; run `codemoat license request`, send the file to the "
        "vendor, then `codemoat license activate LICENSE_FILE`\n"
    )


def test_version() -> None:
    from importlib.metadata import version

    done = subprocess.run([str(VENV_BIN / "codemoat"), "--version"], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, f"codemoat {version('codemoat')}\n")


def test_search_of_a_repository_that_is_not_indexed(tmp_path: Path) -> None:
    repo = tmp_path / "shop"
    repo.mkdir()
    (repo / "total.py").write_text("def add(a, b):\n    return a + b\n")
    assert codemoat(tmp_path / "home", "index", str(repo), "--name", "shop").returncode == 0
    done = codemoat(tmp_path / "home", "search", "add", "--repo", "shpo")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "error: no repository named shpo is indexed (indexed: shop)\n"
    assert codemoat(tmp_path / "home", "search", "add", "--repo", "shop").returncode == 0


def test_serve_on_a_port_in_use_says_so_at_once(tmp_path: Path) -> None:
    import socket
    import time

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        done = codemoat(tmp_path / "home", "serve", "--port", str(port))
        seconds = time.monotonic() - started
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use: another server is using it; "
        "choose another with --port\n"
    )
    assert seconds < 10  # before any model or index loads (uvicorn alone binds after the app's startup)


def test_audit_list_reads_at_80_columns(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert codemoat(home, "token", "create", "alice", "--admin").returncode == 0
    assert codemoat(home, "token", "create", "ci", "--user", "alice", "--repos", "web").returncode == 0
    done = codemoat(home, "audit", "list")
    assert done.returncode == 0, done.stderr
    stamp = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
    source = re.compile(r"cli@\S+")
    text = source.sub("cli@HOST", stamp.sub("YYYY-MM-DD hh:mm:ss", done.stdout))
    width = max(len(line) for line in done.stdout.splitlines())
    assert width <= 80, done.stdout
    header = text.splitlines()[0]
    assert header.split() == ["seq", "when", "(UTC)", "actor", "source", "action", "target"]
    assert [line.split() for line in text.splitlines()[1:]] == [
        ["3", "YYYY-MM-DD", "hh:mm:ss", "cli:root", "cli@HOST", "token.create", "ci"],
        ["id=2", 'repos=["web"]', "role=admin", "user=alice"],
        ["2", "YYYY-MM-DD", "hh:mm:ss", "cli:root", "cli@HOST", "token.create", "alice"],
        ["id=1", "repos=null", "role=admin", "user=alice"],
        ["1", "YYYY-MM-DD", "hh:mm:ss", "cli:root", "cli@HOST", "user.create", "alice"],
        ["password=false", "role=admin", 'via="token', 'create"'],
    ]


def test_help_shows_flags_as_flags(tmp_path: Path) -> None:
    for command in (["token", "create"], ["index"], ["serve"], ["audit", "list"], ["vendor", "keygen"]):
        done = codemoat(tmp_path / "home", *command, "--help")
        assert done.returncode == 0, done.stderr
        assert "<bool>" not in done.stdout and "--help  " in done.stdout, done.stdout
        assert max(len(line) for line in done.stdout.splitlines()) <= 80, done.stdout
    token = codemoat(tmp_path / "home", "token", "create", "--help").stdout
    assert "  --admin        The token's user is an administrator.\n" in token
    assert "  --repos <str>  Comma-separated repositories" in token
