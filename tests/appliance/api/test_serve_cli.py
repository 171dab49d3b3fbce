"""`codemoat serve` as a process: the demo banner with a working token, HTTPS with a configured certificate,
and one-line errors for a bad TLS configuration. The engine is an unreachable upstream here: these tests are
about the server, not the model."""

from __future__ import annotations

import datetime
import ipaddress
import json
import shlex
import ssl
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.appliance.api.conftest import free_port, run_codemoat, start_serve, stop_serve, wait_for_output

pytestmark = pytest.mark.slow  # each test starts a server process

NO_MODEL = {
    "CODEMOAT_ENGINE__KIND": "upstream",
    "CODEMOAT_ENGINE__UPSTREAM_URLS": json.dumps([f"http://127.0.0.1:{free_port()}"]),
}


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_demo_prints_a_working_token_and_examples(tmp_path: Path) -> None:
    served = start_serve(tmp_path / "home", "--demo", env=NO_MODEL, wait_ready=False)
    try:
        banner = wait_for_output(served, "Press Ctrl-C to stop.")
        token = banner.split("Token: ", 1)[1].split()[0]
        assert token.startswith("cm_")
        assert f"curl -s {served.url}/v1/completions" in banner and f'base_url="{served.url}/v1"' in banner
        with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {token}"}) as client:
            assert (
                client.get("/v1/models").json()["data"][0]["id"] == "upstream"
            )  # no model named, none found
            assert client.get("/healthz").status_code == 200
        # The curl line is valid shell: its JSON body parses.
        curl = next(line for line in banner.splitlines() if line.startswith("  -d ") and '"suffix"' in line)
        assert json.loads(shlex.split(curl)[1])["suffix"]
    finally:
        stop_serve(served)
    assert "Application shutdown complete" in "".join(served.log)  # SIGTERM: a graceful shutdown
    # Another demo revokes the previous demo token and issues a new one.
    again = start_serve(tmp_path / "home", "--demo", env=NO_MODEL, wait_ready=False)
    try:
        second = wait_for_output(again, "Press Ctrl-C to stop.").split("Token: ", 1)[1].split()[0]
    finally:
        stop_serve(again)
    tokens = json.loads(run_codemoat(tmp_path / "home", "token", "list", "--all", "--json").stdout)
    assert [(t["name"], t["revoked"] is None) for t in tokens] == [("demo", False), ("demo", True)]
    assert second != token


def test_https_when_a_certificate_is_configured(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    env = {**NO_MODEL, "CODEMOAT_SERVER__TLS_CERT": str(cert), "CODEMOAT_SERVER__TLS_KEY": str(key)}
    served = start_serve(tmp_path / "home", env=env, wait_ready=False)
    try:
        assert served.url.startswith("https://127.0.0.1:")
        with httpx.Client(verify=ssl.create_default_context(cafile=str(cert))) as client:
            assert client.get(served.url + "/healthz").json()["status"] == "ok"
        with pytest.raises((httpx.RemoteProtocolError, httpx.ConnectError)):
            httpx.get(served.url.replace("https://", "http://") + "/healthz")
    finally:
        stop_serve(served)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"CODEMOAT_SERVER__TLS_CERT": "/nonexistent/cert.pem"},
            "set both server.tls_cert and server.tls_key for HTTPS, or neither",
        ),
        (
            {
                "CODEMOAT_SERVER__TLS_CERT": "/nonexistent/cert.pem",
                "CODEMOAT_SERVER__TLS_KEY": "/nonexistent/k.pem",
            },
            "TLS certificate file /nonexistent/cert.pem does not exist",
        ),
    ],
    ids=["half", "missing"],
)
def test_bad_tls_configuration_is_one_line(tmp_path: Path, env: dict[str, str], message: str) -> None:
    import os
    import subprocess

    from tests.conftest import VENV_BIN

    result = subprocess.run(
        [str(VENV_BIN / "codemoat"), "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "CODEMOAT_HOME": str(tmp_path), **NO_MODEL, **env},
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {message}"


def test_index_before_serving(tmp_path: Path) -> None:
    repo = tmp_path / "tiny"
    repo.mkdir()
    (repo / "main.py").write_text("def greet(name):\n    return f'hello {name}'\n")
    served = start_serve(tmp_path / "home", "--index", str(repo), env=NO_MODEL, wait_ready=False)
    try:
        assert "indexed tiny: 1 files" in "".join(served.log)
        with httpx.Client(base_url=served.url) as client:
            deadline = time.monotonic() + 120
            while (index := client.get("/readyz").json()["checks"]["index"])["detail"] != "open":
                assert index == {"ok": False, "detail": "open, loading the embedder"}
                assert time.monotonic() < deadline
                time.sleep(0.1)
            assert index == {"ok": True, "detail": "open"}
    finally:
        stop_serve(served)
    listed = run_codemoat(tmp_path / "home", "repo", "list", "--json")
    assert [r["name"] for r in json.loads(listed.stdout)] == ["tiny"]


@pytest.mark.parametrize(("trusted", "recorded"), [(None, "127.0.0.1"), ('["127.0.0.1"]', "203.0.113.9")])
def test_forwarded_addresses_are_believed_only_from_trusted_proxies(
    tmp_path: Path, trusted: str | None, recorded: str
) -> None:
    """Any local process could otherwise choose the address the audit log records and the throttle keys on."""
    import os
    import subprocess

    from tests.conftest import VENV_BIN

    home = tmp_path / "home"
    subprocess.run(
        [str(VENV_BIN / "codemoat"), "user", "create", "alice", "--password-stdin"],
        input="correct horse battery staple\n",
        text=True,
        check=True,
        capture_output=True,
        env={**os.environ, "CODEMOAT_HOME": str(home)},
    )
    proxies = {"CODEMOAT_SERVER__TRUSTED_PROXIES": trusted} if trusted else {}
    served = start_serve(home, env={**NO_MODEL, **proxies}, wait_ready=False)
    try:
        with httpx.Client(base_url=served.url, headers={"X-Forwarded-For": "203.0.113.9"}) as web:
            page = web.get("/console/login").text
            csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            refused = web.post(
                "/console/login", data={"csrf": csrf, "username": "alice", "password": "wrong"}
            )
        assert refused.status_code in (400, 401, 403)
        deadline = time.monotonic() + 30
        failures: list[dict] = []
        while not failures and time.monotonic() < deadline:  # written after the answer went out
            listed = run_codemoat(home, "audit", "list", "--json", "--action", "sign_in.failure")
            failures = json.loads(listed.stdout) if listed.returncode == 0 else []
            time.sleep(0.2)
    finally:
        stop_serve(served)
    assert failures and failures[0]["source"] == recorded, failures


PARSER = "def parse_invoice(text):\n    amount, currency = text.split()\n    return float(amount), currency\n"
HANDOFF_ENV = {**NO_MODEL, "CODEMOAT_JOBS__POLL_INTERVAL_S": "0.2"}


def wait_index_open(url: str) -> None:
    with httpx.Client(base_url=url) as client:
        deadline = time.monotonic() + 120
        while client.get("/readyz").json()["checks"]["index"] != {"ok": True, "detail": "open"}:
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_index_while_serving_hands_the_work_to_the_server(tmp_path: Path) -> None:
    home = tmp_path / "home"
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    (tiny / "main.py").write_text("def greet(name):\n    return f'hello {name}'\n")
    billing = tmp_path / "billing"
    billing.mkdir()
    (billing / "parser.py").write_text(PARSER)
    (billing / "notes.md").write_text("# Billing\n\nInvoices are parsed line by line.\n")
    assert run_codemoat(home, "index", str(tiny)).returncode == 0  # indexed before any server ran

    served = start_serve(home, env=HANDOFF_ENV, wait_ready=False)
    try:
        wait_index_open(served.url)
        done = run_codemoat(home, "index", str(billing), "--json")
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert (report["repo"], report["files"], report["files_changed"]) == ("billing", 2, 2)
        assert report["total_chunks"] >= 2 and report["handed_off"]["job"] > 0

        # The repository indexed by the CLI earlier is re-indexed by the server too: only the changed file.
        (tiny / "main.py").write_text("def greet(name):\n    return f'good morning {name}'\n")
        (tiny / "extra.py").write_text("def farewell(name):\n    return f'goodbye {name}'\n")
        done = run_codemoat(home, "index", str(tiny))
        assert done.returncode == 0, done.stderr
        cells = [[c.strip() for c in line.split("│")[1:-1]] for line in done.stdout.splitlines()]
        rows = {row[0]: row[1:] for row in cells if row}
        assert (rows["files"], rows["changed"], rows["removed"]) == (["2"], ["2"], ["—"]), done.stdout

        missing = run_codemoat(home, "index", str(billing), str(tmp_path / "missing"))
        assert missing.returncode == 2, missing.stderr
        assert missing.stderr.endswith(f"error: {tmp_path / 'missing'}: no such directory\n"), missing.stderr

        taken = run_codemoat(home, "index", str(billing / ".."), "--name", "tiny")
        assert taken.returncode == 2
        assert (
            taken.stderr
            == f"error: a repository named 'tiny' is already indexed from {tiny}: choose another --name\n"
        )
    finally:
        stop_serve(served)
    found = run_codemoat(home, "search", "parse invoice amount currency", "--repo", "billing", "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["hits"][0]["path"] == "parser.py"
    found = run_codemoat(home, "search", "goodbye farewell", "--repo", "tiny", "--json")
    assert json.loads(found.stdout)["hits"][0]["path"] == "extra.py"
    audit = run_codemoat(home, "audit", "list", "--json")
    actions = [(e["action"], e["target"]) for e in json.loads(audit.stdout)]
    assert ("repo.reindex", "billing") in actions and ("repo.reindex", "tiny") in actions


def test_index_held_by_another_index_is_refused_after_the_hand_off_finds_no_server(tmp_path: Path) -> None:
    import subprocess
    import sys

    home = tmp_path / "home"
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    (tiny / "main.py").write_text("def greet(name):\n    return f'hello {name}'\n")
    assert run_codemoat(home, "index", str(tiny)).returncode == 0
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from indexer.config import IndexerSettings; "
            "from indexer.service import CodeIndex; "
            f"i = CodeIndex.open(IndexerSettings(), Path({str(home)!r})); i.store; print('held', flush=True); "
            "sys.stdin.readline(); i.close()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        started = time.monotonic()
        done = run_codemoat(home, "index", str(tiny), env=HANDOFF_ENV)
        assert time.monotonic() - started < 60
        assert done.returncode == 5
        assert "is in use by another process" in done.stderr
        assert done.stderr.rstrip().endswith("no running server took the job within 6 s")
    finally:
        holder.communicate("\n", timeout=60)
    # Nothing is left for a server started later: no queued job, no repository row made by the hand-off.
    from sqlalchemy import func, select

    from appliance.state.config import StateSettings
    from appliance.state.db import Database
    from appliance.state.models import IndexJob, Repository

    db = Database.open(StateSettings(), home)
    try:
        with db.session() as session:
            assert session.scalar(select(func.count()).select_from(IndexJob)) == 0
            assert session.scalar(select(func.count()).select_from(Repository)) == 0
    finally:
        db.close()
