"""`codemoat backup create|restore`: a backup taken while the server runs restores into a fresh data directory
with the same users, tokens (that still authenticate), repositories and a verifying audit chain; a truncated or
edited backup, a wrong passphrase, or a data directory in use is refused with a reason, and nothing changes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.appliance.api.conftest import VENV_BIN, start_serve, stop_serve, write_tree
from tests.appliance.api.test_serve_cli import NO_MODEL

pytestmark = pytest.mark.slow  # starts servers

PASSPHRASE = "correct horse battery staple\n"


def codemoat(home: Path, *args: str, passphrase: str | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI, the passphrase on standard input (--passphrase-fd 0) when one is given."""
    extra = ["--passphrase-fd", "0"] if passphrase is not None else []
    return subprocess.run(
        [str(VENV_BIN / "codemoat"), *args, *extra],
        input=passphrase, capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", "CODEMOAT_HOME": str(home), "HF_HUB_OFFLINE": "1", **NO_MODEL},
    )  # fmt: skip


@pytest.fixture(scope="module")
def backed_up(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str, Path]:
    """(home, backup, alice's token, repo): a backup made while `codemoat serve` was answering requests."""
    base = tmp_path_factory.mktemp("backup")
    home, repo = (
        base / "home",
        write_tree(base / "web", {"app.py": "def handler(request):\n    return 200\n"}),
    )
    token = json.loads(codemoat(home, "token", "create", "alice", "--admin", "--json").stdout)["token"]
    assert codemoat(home, "index", str(repo), "--name", "web").returncode == 0
    assert codemoat(home, "token", "create", "ci", "--user", "alice", "--repos", "web").returncode == 0
    served = start_serve(home, env=NO_MODEL, wait_ready=False)
    try:
        with httpx.Client(base_url=served.url) as client:
            assert client.get("/v1/models", headers={"Authorization": f"Bearer {token}"}).status_code == 200
            assert client.get("/v1/models", headers={"Authorization": "Bearer cm_wrong"}).status_code == 401
            made = codemoat(home, "backup", "create", str(base / "state.backup"), passphrase=PASSPHRASE)
            assert made.returncode == 0, made.stderr
            assert client.get("/v1/models", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    finally:
        stop_serve(served)
    return home, base / "state.backup", token, repo


def test_a_backup_restores_users_tokens_repositories_and_the_audit_chain(backed_up, tmp_path: Path) -> None:
    home, backup, token, _ = backed_up
    assert (backup.stat().st_mode & 0o777) == 0o600
    fresh = tmp_path / "fresh"
    restored = codemoat(fresh, "backup", "restore", str(backup), "--reindex", passphrase=PASSPHRASE)
    assert restored.returncode == 0, restored.stderr
    assert "device keys: files, bound to this machine" in restored.stdout

    def tokens(where: Path) -> list[tuple[str, str, object]]:
        listed = json.loads(codemoat(where, "token", "list", "--json").stdout)
        return sorted((t["name"], t["user"], t["repos"]) for t in listed)

    assert tokens(fresh) == tokens(home) == [("alice", "alice", None), ("ci", "alice", ["web"])]
    repos = json.loads(codemoat(fresh, "repo", "list", "--json").stdout)
    assert [(r["name"], r["files"]) for r in repos] == [("web", 1)]  # indexed again from its root
    verified = codemoat(fresh, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    actions = codemoat(fresh, "audit", "list").stdout
    assert "token.create" in actions and "backup.restore" in actions

    served = start_serve(fresh, env=NO_MODEL, wait_ready=False)
    try:
        with httpx.Client(base_url=served.url) as client:  # the token itself came back, not only its name
            assert client.get("/v1/models", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    finally:
        stop_serve(served)


def test_a_damaged_backup_or_wrong_passphrase_is_refused(backed_up, tmp_path: Path) -> None:
    _, backup, _, _ = backed_up
    data = backup.read_bytes()
    cases = {
        "truncated": data[: len(data) // 2],
        "edited": data[:-100] + bytes([data[-100] ^ 1]) + data[-99:],
        "header": data.replace(b'"p": 1', b'"p": 2', 1),
        "not a backup": b"hello\n",
    }
    for name, content in cases.items():
        damaged = tmp_path / f"{name}.backup"
        damaged.write_bytes(content)
        refused = codemoat(tmp_path / name, "backup", "restore", str(damaged), passphrase=PASSPHRASE)
        assert refused.returncode == 3 and "Traceback" not in refused.stderr, (name, refused.stderr)
        assert "truncated or edited" in refused.stderr or "not a CodeMoat backup" in refused.stderr, name
        assert not (tmp_path / name / "license").exists()  # nothing was restored
    wrong = codemoat(tmp_path / "wrong", "backup", "restore", str(backup), passphrase="not the passphrase\n")
    assert wrong.returncode == 3 and "passphrase is wrong" in wrong.stderr


def test_restore_refuses_a_data_directory_in_use(backed_up) -> None:
    home, backup, _, _ = backed_up
    before = codemoat(home, "token", "list", "--json").stdout
    refused = codemoat(home, "backup", "restore", str(backup), passphrase=PASSPHRASE)
    assert refused.returncode == 3 and "fresh data directory" in refused.stderr
    assert codemoat(home, "token", "list", "--json").stdout == before
    again = codemoat(home, "backup", "create", str(backup), passphrase=PASSPHRASE)
    assert again.returncode == 3 and "exists" in again.stderr  # a backup is never overwritten
