"""The `codemoat license` and `codemoat vendor` commands end to end, in-process through the real CLI: exit code
0 on success; on failure one line `error: ...` on stderr, a non-zero exit code, and an unchanged state."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from licensing.store import LicenseStore
from tests.licensing.conftest import make_tiny_model


@pytest.fixture
def site(tmp_path: Path, codemoat_home: Path, run_cli):
    """A vendor with a sealed tiny model, and an appliance (CODEMOAT_HOME) that trusts the vendor's root."""
    vendor = tmp_path / "vendor"
    assert run_cli("vendor", "keygen", "--out", vendor, "--name", "Test Vendor", "--no-passphrase").code == 0
    assert run_cli("license", "trust", vendor / "root.json").code == 0
    make_tiny_model(tmp_path / "plain")
    assert (
        run_cli(
            "vendor",
            "seal",
            tmp_path / "plain",
            "--vendor",
            vendor,
            "--model-id",
            "tiny",
            "--out",
            tmp_path / "sealed",
            "--chunk-size",
            "8192",
        ).code
        == 0
    )
    return tmp_path


def _activate(site: Path, run_cli, seats: int = 2) -> Path:
    assert run_cli("license", "request", "--out", site / "request.txt").code == 0
    assert (
        run_cli(
            "vendor",
            "issue",
            "--vendor",
            site / "vendor",
            "--request",
            site / "request.txt",
            "--customer",
            "Example GmbH",
            "--seats",
            str(seats),
            "--days",
            "365",
            "--models",
            "tiny",
            "--out",
            site / "license.txt",
        ).code
        == 0
    )
    result = run_cli("license", "activate", site / "license.txt")
    assert result.code == 0, result.err
    return site / "license.txt"


def _state(home: Path) -> dict[str, bytes]:
    return LicenseStore(home / "license").snapshot()


def _one_line_error(result) -> str:
    assert result.code != 0
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    assert "Traceback" not in result.err
    return lines[0]


def test_activation_status_check_renew_deactivate(site: Path, codemoat_home: Path, run_cli) -> None:
    license_file = _activate(site, run_cli)
    status = run_cli("license", "status", "--json")
    assert status.code == 0
    data = json.loads(status.out)
    assert data["state"] == data["serving_state"] == "VALID" and data["reason"].startswith(
        "lease valid until"
    )
    assert data["seats"] == 2 and data["models"] == ["tiny"] and data["lease_sequence"] == 1
    assert {"expires_at", "lease_expires_at", "seats_in_use"} <= data.keys()

    checked = run_cli("license", "check-model", site / "sealed", "--json")
    assert checked.code == 0 and json.loads(checked.out)["model_id"] == "tiny"

    assert (
        run_cli(
            "vendor",
            "lease",
            "--vendor",
            site / "vendor",
            "--license",
            license_file,
            "--days",
            "30",
            "--out",
            site / "lease2.txt",
        ).code
        == 0
    )
    renewed = run_cli("license", "renew", site / "lease2.txt")
    assert renewed.code == 0 and "lease 2 applied" in renewed.out
    assert json.loads(run_cli("license", "status", "--json").out)["lease_sequence"] == 2

    before = _state(codemoat_home)
    replay = _one_line_error(run_cli("license", "renew", site / "lease2.txt"))
    assert "cannot be replayed" in replay
    assert _state(codemoat_home) == before

    deactivated = run_cli("license", "deactivate", "--out", site / "receipt.txt")
    assert deactivated.code == 0
    assert json.loads(run_cli("license", "status", "--json").out)["state"] == "STOPPED"
    receipt = run_cli("vendor", "receipt", site / "receipt.txt", "--vendor", site / "vendor")
    assert receipt.code == 0 and json.loads(receipt.out)["license_id"] == data["license_id"]
    revoked = json.loads((site / "vendor" / "revoked.json").read_text())["revoked"]
    assert data["license_id"] in revoked


def test_tampered_license_file_is_refused_with_one_line(site: Path, codemoat_home: Path, run_cli) -> None:
    assert run_cli("license", "request", "--out", site / "request.txt").code == 0
    assert (
        run_cli(
            "vendor",
            "issue",
            "--vendor",
            site / "vendor",
            "--request",
            site / "request.txt",
            "--customer",
            "Example GmbH",
            "--seats",
            "5",
            "--days",
            "30",
            "--models",
            "tiny",
            "--out",
            site / "license.txt",
        ).code
        == 0
    )
    text = (site / "license.txt").read_text()
    body = "".join(text.splitlines()[1:-1])
    envelope = json.loads(base64.b64decode(body))
    payload = json.loads(base64.urlsafe_b64decode(envelope["payload"] + "=="))
    payload["seats"] = 500  # the customer edits the seat count
    envelope["payload"] = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    forged = site / "forged.txt"
    forged.write_text(
        "-----BEGIN CODEMOAT LICENSE-----\n"
        + base64.b64encode(json.dumps(envelope).encode()).decode()
        + "\n-----END CODEMOAT LICENSE-----\n"
    )
    before = _state(codemoat_home)
    assert "signature does not verify" in _one_line_error(run_cli("license", "activate", forged))
    assert "holds a CODEMOAT ACTIVATION REQUEST, not a CODEMOAT LICENSE" in _one_line_error(
        run_cli("license", "activate", site / "request.txt")
    )
    (site / "junk.txt").write_text("hello")
    assert "no '-----BEGIN CODEMOAT LICENSE-----' block" in _one_line_error(
        run_cli("license", "activate", site / "junk.txt")
    )
    assert "does not exist" in _one_line_error(run_cli("license", "activate", site / "missing.txt"))
    assert _state(codemoat_home) == before
    assert json.loads(run_cli("license", "status", "--json").out)["state"] == "STOPPED"


def test_check_model_reports_a_damaged_delivery(site: Path, codemoat_home: Path, run_cli) -> None:
    _activate(site, run_cli)
    sealed = site / "sealed" / "model.safetensors.cmsealed"
    data = bytearray(sealed.read_bytes())
    data[-20000] ^= 0x04
    sealed.write_bytes(data)
    before = _state(codemoat_home)
    line = _one_line_error(run_cli("license", "check-model", site / "sealed"))
    assert "fails authentication" in line
    assert _state(codemoat_home) == before


@pytest.mark.parametrize(
    "planted", ["model.safetensors", "extra.py", "added_tokens.json", "special_tokens_map.json"]
)
def test_check_model_refuses_files_the_manifest_does_not_list(
    site: Path, codemoat_home: Path, run_cli, planted: str
) -> None:
    _activate(site, run_cli)
    (site / "sealed" / planted).write_text('{"eos_token": "<|planted|>"}')
    try:
        line = _one_line_error(run_cli("license", "check-model", site / "sealed"))
        assert f"holds files the sealed manifest does not list: {planted}" in line
    finally:
        (site / "sealed" / planted).unlink()
    assert run_cli("license", "check-model", site / "sealed").code == 0


def test_status_without_license_and_roots_listing(site: Path, codemoat_home: Path, run_cli) -> None:
    status = run_cli("license", "status")
    # What the appliance serves under comes first, the same word as its headers and /readyz say.
    assert status.code == 0 and status.out.startswith("state: UNLICENSED\n")
    assert "license: STOPPED: no license is installed" in status.out
    data = json.loads(run_cli("license", "status", "--json").out)
    assert (data["state"], data["serving_state"]) == ("STOPPED", "UNLICENSED")
    roots = json.loads(run_cli("license", "roots", "--json").out)
    assert roots["allow_operator_roots"] is True
    assert [r["source"] for r in roots["roots"]] == ["operator"]
    assert roots["roots"][0]["kid"] == json.loads((site / "vendor" / "root.json").read_text())["kid"]


def test_vendor_refusals_are_one_line(site: Path, run_cli) -> None:
    assert "already holds vendor keys" in _one_line_error(
        run_cli("vendor", "keygen", "--out", site / "vendor", "--no-passphrase")
    )
    assert "not empty" in _one_line_error(
        run_cli(
            "vendor",
            "seal",
            site / "plain",
            "--vendor",
            site / "vendor",
            "--model-id",
            "tiny",
            "--out",
            site / "sealed",
        )
    )
    assert run_cli("license", "request", "--out", site / "request.txt").code == 0
    line = _one_line_error(
        run_cli(
            "vendor",
            "issue",
            "--vendor",
            site / "vendor",
            "--request",
            site / "request.txt",
            "--customer",
            "x",
            "--seats",
            "1",
            "--days",
            "1",
            "--models",
            "nope",
            "--out",
            site / "l.txt",
        )
    )
    assert "never sealed" in line
    assert "already exists" in _one_line_error(run_cli("license", "request", "--out", site / "request.txt"))


def _fd_with(tmp_path: Path, text: str) -> int:
    """A readable file descriptor whose first line is `text`, as `3<file` would give the CLI."""
    path = tmp_path / f"pass-{len(list(tmp_path.glob('pass-*')))}"
    path.write_text(text + "\n")
    return os.open(path, os.O_RDONLY)


def test_vendor_keys_are_encrypted_with_a_passphrase_never_given_as_an_argument(
    tmp_path: Path, codemoat_home: Path, run_cli
) -> None:
    vendor = tmp_path / "vendor"
    # No terminal and no descriptor: refused, nothing written (a passphrase is never a command-line argument).
    assert "--passphrase-fd" in _one_line_error(run_cli("vendor", "keygen", "--out", vendor))
    assert not (vendor / "root.pem").exists()
    assert "too short" in _one_line_error(
        run_cli("vendor", "keygen", "--out", vendor, "--passphrase-fd", _fd_with(tmp_path, "short"))
    )
    secret = "correct horse battery staple"
    made = run_cli("vendor", "keygen", "--out", vendor, "--passphrase-fd", _fd_with(tmp_path, secret))
    assert made.code == 0, made.err
    for name in ("root.pem", "issuer.pem"):
        pem = (vendor / name).read_bytes()
        assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") and secret.encode() not in pem
        assert (vendor / name).stat().st_mode & 0o077 == 0

    make_tiny_model(tmp_path / "plain")
    seal = ("vendor", "seal", tmp_path / "plain", "--vendor", vendor, "--model-id", "tiny", "--out")
    assert "need a passphrase" in _one_line_error(run_cli(*seal, tmp_path / "sealed"))
    wrong = run_cli(*seal, tmp_path / "sealed", "--passphrase-fd", _fd_with(tmp_path, "not the passphrase"))
    assert "wrong passphrase for the issuer key" in _one_line_error(wrong)
    assert not (tmp_path / "sealed").exists()
    # The root key only certifies the issuer: with root.pem taken offline the vendor still seals and issues.
    (vendor / "root.pem").rename(tmp_path / "offline-root.pem")
    sealed = run_cli(*seal, tmp_path / "sealed", "--passphrase-fd", _fd_with(tmp_path, secret))
    assert sealed.code == 0, sealed.err
    assert (tmp_path / "sealed" / "codemoat-manifest.json").is_file()
