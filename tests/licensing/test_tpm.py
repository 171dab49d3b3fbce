"""Device keys sealed to a TPM 2.0, against real software TPMs (`swtpm`) the tests start, through the `codemoat`
CLI: activation and heartbeat on a TPM-bound appliance; the state directory copied to another TPM, a PCR that
changed and a cleared TPM are refused with a reason; escrow + `bind --restore` and `bind` (files -> TPM) keep
the license; an absent, busy or misnamed TPM and tampered files are one-line errors.

They skip where swtpm or tpm2-pytss is missing, unless CODEMOAT_REQUIRE_TPM_TESTS=1 (CI sets it)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from licensing.tpm import tpm_library_available
from tests.licensing.conftest import make_tiny_model

_MISSING = [
    what
    for what, present in (
        ("swtpm", shutil.which("swtpm") is not None),
        ("tpm2_pcrextend (tpm2-tools)", shutil.which("tpm2_pcrextend") is not None),
        ("tpm2-pytss", tpm_library_available()),
    )
    if not present
]
if _MISSING and not os.environ.get("CODEMOAT_REQUIRE_TPM_TESTS"):
    pytest.skip(f"no software TPM here: {', '.join(_MISSING)} missing", allow_module_level=True)
assert not _MISSING, f"CODEMOAT_REQUIRE_TPM_TESTS is set but {', '.join(_MISSING)} is missing"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _free_port_pair() -> int:
    """A free port whose successor is free too: libtss2's swtpm TCTI talks to the control channel at port + 1."""
    for _ in range(100):
        port = _free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two adjacent free ports")


class SoftwareTpm:
    """One `swtpm socket` process with its own state directory (its seeds: another directory is another TPM)."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.port = _free_port_pair()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def tcti(self) -> str:
        return f"swtpm:host=127.0.0.1,port={self.port}"

    def start(self) -> SoftwareTpm:
        self.state.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            ["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={self.state}"]
            + ["--server", f"type=tcp,port={self.port},bindaddr=127.0.0.1"]
            + [
                "--ctrl",
                f"type=tcp,port={self.port + 1},bindaddr=127.0.0.1",
                "--flags",
                "not-need-init,startup-clear",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("swtpm did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def clear(self) -> None:
        """What `tpm2_clear` or a firmware "clear TPM" does to sealed objects: new seeds."""
        self.stop()
        shutil.rmtree(self.state)
        self.start()

    def extend(self, pcr: int) -> None:
        """A measured boot component changed (what a firmware or boot loader update does to its PCR)."""
        subprocess.run(
            ["tpm2_pcrextend", f"{pcr}:sha256={'ab' * 32}"],
            env={**os.environ, "TPM2TOOLS_TCTI": self.tcti, "TSS2_LOG": "all+none"},
            check=True,
            capture_output=True,
        )


@pytest.fixture
def tpms(tmp_path: Path) -> Iterator[list[SoftwareTpm]]:
    started = [SoftwareTpm(tmp_path / f"tpm-{name}").start() for name in ("a", "b")]
    yield started
    for tpm in started:
        tpm.stop()


@pytest.fixture
def tpm(tpms: list[SoftwareTpm], monkeypatch: pytest.MonkeyPatch) -> SoftwareTpm:
    monkeypatch.setenv("CODEMOAT_LICENSE__TPM_TCTI", tpms[0].tcti)
    return tpms[0]


@pytest.fixture
def vendor(tmp_path: Path, codemoat_home: Path, run_cli) -> Path:
    """A vendor with a sealed tiny model (the appliance is untouched: its keys are made under each test's
    settings)."""
    directory = tmp_path / "vendor"
    assert (
        run_cli("vendor", "keygen", "--out", directory, "--name", "Test Vendor", "--no-passphrase").code == 0
    )
    make_tiny_model(tmp_path / "plain")
    sealed = run_cli(
        "vendor", "seal", tmp_path / "plain", "--vendor", directory, "--model-id", "tiny", "--out",
        tmp_path / "sealed", "--chunk-size", "8192",
    )  # fmt: skip
    assert sealed.code == 0, sealed.err
    return directory


def _activate(tmp_path: Path, vendor: Path, run_cli) -> str:
    assert run_cli("license", "trust", vendor / "root.json").code == 0
    assert run_cli("license", "request", "--out", tmp_path / "request.txt").code == 0
    issued = run_cli(
        "vendor", "issue", "--vendor", vendor, "--request", tmp_path / "request.txt", "--customer",
        "Example GmbH", "--seats", "2", "--days", "365", "--models", "tiny", "--out", tmp_path / "license.txt",
    )  # fmt: skip
    assert issued.code == 0, issued.err
    activated = run_cli("license", "activate", tmp_path / "license.txt")
    assert activated.code == 0, activated.err
    return _status(run_cli)["license_id"]


def _status(run_cli) -> dict:
    result = run_cli("license", "status", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def _tpm_status(run_cli) -> tuple[int, dict]:
    result = run_cli("license", "tpm", "status", "--json")
    return result.code, json.loads(result.out)


def _one_line_error(result) -> str:
    assert result.code != 0, result.out
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    assert "Traceback" not in result.err
    return lines[0]


def _fd(path: Path) -> tuple[str, str]:
    """`--passphrase-fd N` for a fresh descriptor of `path` (closed when the test ends)."""
    fd = os.open(path, os.O_RDONLY)
    _OPEN_FDS.append(fd)
    return "--passphrase-fd", str(fd)


_OPEN_FDS: list[int] = []


@pytest.fixture(autouse=True)
def _close_fds() -> Iterator[None]:
    yield
    while _OPEN_FDS:
        os.close(_OPEN_FDS.pop())


def _device(home: Path) -> Path:
    return home / "license" / "device"


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_activation_and_heartbeat_on_a_tpm_bound_appliance(
    tmp_path: Path, codemoat_home: Path, vendor: Path, tpm: SoftwareTpm, run_cli
) -> None:
    license_id = _activate(tmp_path, vendor, run_cli)
    assert sorted(p.name for p in _device(codemoat_home).iterdir() if "clock" not in p.name) == [
        "device-keys.tpm.json"
    ]
    code, info = _tpm_status(run_cli)
    assert code == 0 and info["form"] == "tpm" and info["usable"] and info["sealed_with"] == tpm.tcti

    # No private key in plaintext anywhere under the data directory: not raw, not PEM, not base64.
    from cryptography.hazmat.primitives import serialization

    from appliance.config import load_settings
    from appliance.license_gate.device_keys import device_keys

    identity = device_keys(load_settings()).load()
    secrets = []
    for key in (identity.signing_key, identity.wrapping_key):
        raw = key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        secrets += [raw, base64.b64encode(raw), base64.urlsafe_b64encode(raw).rstrip(b"=")]
    for path in _files_under(codemoat_home):
        data = path.read_bytes()
        assert b"PRIVATE KEY" not in data, path
        assert not any(secret in data for secret in secrets), path

    data = _status(run_cli)
    assert data["state"] == "VALID" and data["license_id"] == license_id
    checked = run_cli("license", "check-model", tmp_path / "sealed", "--json")  # unwraps with the TPM's key
    assert checked.code == 0, checked.err

    from appliance.console.license_panel import LicensePanel

    shown = LicensePanel(load_settings(), audit=None).status(seats_in_use=0)  # type: ignore[arg-type]
    assert shown["state"] == "VALID" and shown["device_keys"] == f"sealed to the TPM at {tpm.tcti}"

    # The server's heartbeat over the same keys: re-checked on its thread, VALID each time.
    from appliance.license_gate.runtime import LicenseRuntime

    settings = load_settings()
    settings.license.heartbeat_interval_s = 0.05
    runtime = LicenseRuntime.open(settings)
    runtime.start([])
    try:
        assert runtime.monitor is not None
        time.sleep(0.3)  # a few heartbeats on the monitor's thread
        runtime.refresh()  # and one more now, as after a lease is installed
        state = runtime.serving_state()
        assert state.allowed and state.state == "VALID", state.reason
    finally:
        runtime.close()


def test_state_copied_to_another_tpm_or_a_machine_without_one_is_refused(
    tmp_path: Path, codemoat_home: Path, vendor: Path, tpms: list[SoftwareTpm], tpm: SoftwareTpm, run_cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    _activate(tmp_path, vendor, run_cli)
    copy = tmp_path / "copied-home"
    shutil.copytree(codemoat_home, copy)
    monkeypatch.setenv("CODEMOAT_HOME", str(copy))
    monkeypatch.setenv("CODEMOAT_LICENSE__TPM_TCTI", tpms[1].tcti)

    data = _status(run_cli)
    assert data["state"] == "STOPPED"
    assert "integrity check failed" in data["reason"] and "sealed by another TPM" in data["reason"]
    code, info = _tpm_status(run_cli)
    assert code == 3 and not info["usable"] and "another TPM" in info["reason"]
    assert "sealed by another TPM" in _one_line_error(run_cli("license", "check-model", tmp_path / "sealed"))
    # Every command that signs with the device key refuses alike (here: one that writes the audit log).
    assert "integrity check failed" in _one_line_error(run_cli("token", "create", "x"))
    assert "sealed by another TPM" in _one_line_error(run_cli("serve", "--port", "0"))

    tpms[1].stop()  # the copy on a machine where no TPM answers
    assert "no TPM answers" in _status(run_cli)["reason"]
    assert "no TPM answers" in _one_line_error(run_cli("license", "check-model", tmp_path / "sealed"))


def test_a_changed_pcr_or_a_cleared_tpm_refuses_and_escrow_restores_without_losing_the_license(
    tmp_path: Path,
    codemoat_home: Path,
    vendor: Path,
    tpm: SoftwareTpm,
    run_cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CODEMOAT_LICENSE__TPM_PCRS", "[16]")
    license_id = _activate(tmp_path, vendor, run_cli)
    assert _tpm_status(run_cli)[1]["pcrs"] == [16]
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("correct horse battery staple\n")
    escrow = tmp_path / "escrow.json"
    made = run_cli("license", "tpm", "escrow", "--out", escrow, *_fd(passphrase))
    assert made.code == 0, made.err
    assert b"ENCRYPTED PRIVATE KEY" in escrow.read_bytes() and oct(escrow.stat().st_mode & 0o777) == "0o600"
    assert "exists" in _one_line_error(run_cli("license", "tpm", "escrow", "--out", escrow, *_fd(passphrase)))

    tpm.extend(16)  # a firmware update measured into PCR 16
    data = _status(run_cli)
    assert data["state"] == "STOPPED" and "PCRs they are bound to changed" in data["reason"]
    assert "PCRs they are bound to changed" in _one_line_error(run_cli("license", "tpm", "bind"))

    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase at all\n")
    assert "wrong passphrase" in _one_line_error(
        run_cli("license", "tpm", "bind", "--restore", escrow, *_fd(wrong))
    )
    restored = run_cli("license", "tpm", "bind", "--restore", escrow, *_fd(passphrase))
    assert restored.code == 0, restored.err
    data = _status(run_cli)
    assert data["state"] == "VALID" and data["license_id"] == license_id

    tpm.clear()  # the TPM cleared (or the board replaced): its new seeds cannot load the sealed object
    assert "integrity check failed" in _status(run_cli)["reason"]
    restored = run_cli("license", "tpm", "bind", "--restore", escrow, *_fd(passphrase), "--pcrs", "")
    assert restored.code == 0, restored.err
    assert _status(run_cli)["state"] == "VALID" and _tpm_status(run_cli)[1]["pcrs"] == []

    audit = run_cli("audit", "list", "--json")
    assert audit.code == 0, audit.err
    actions = [entry["action"] for entry in json.loads(audit.out)]
    assert actions.count("license.tpm.restore") == 2 and "license.tpm.escrow" in actions
    verified = run_cli("audit", "verify")  # its anchors are signed by the same (restored) device key
    assert verified.code == 0, verified.out + verified.err


def test_escrow_copies_that_are_tampered_or_of_another_appliance_are_refused(
    tmp_path: Path,
    codemoat_home: Path,
    vendor: Path,
    tpm: SoftwareTpm,
    run_cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _activate(tmp_path, vendor, run_cli)
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("correct horse battery staple")
    short = tmp_path / "short"
    short.write_text("short")
    assert "at least 12" in _one_line_error(
        run_cli("license", "tpm", "escrow", "--out", tmp_path / "e0.json", *_fd(short))
    )
    escrow = tmp_path / "escrow.json"
    assert run_cli("license", "tpm", "escrow", "--out", escrow, *_fd(passphrase)).code == 0
    before = {p: p.read_bytes() for p in _files_under(_device(codemoat_home))}

    edited = json.loads(escrow.read_text())
    edited["kid"] = "device-0000000000000000"
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    assert "was edited" in _one_line_error(
        run_cli("license", "tpm", "bind", "--restore", tmp_path / "edited.json", *_fd(passphrase))
    )
    (tmp_path / "junk.json").write_text("{not json")
    _one_line_error(run_cli("license", "tpm", "bind", "--restore", tmp_path / "junk.json", *_fd(passphrase)))

    other_home = tmp_path / "other-home"  # another appliance's escrow copy
    monkeypatch.setenv("CODEMOAT_HOME", str(other_home))
    assert run_cli("license", "request", "--out", tmp_path / "other-request.txt").code == 0
    other = tmp_path / "other-escrow.json"
    assert run_cli("license", "tpm", "escrow", "--out", other, *_fd(passphrase)).code == 0
    monkeypatch.setenv("CODEMOAT_HOME", str(codemoat_home))
    assert "holds the keys of appliance" in _one_line_error(
        run_cli("license", "tpm", "bind", "--restore", other, *_fd(passphrase))
    )
    assert {p: p.read_bytes() for p in _files_under(_device(codemoat_home))} == before
    assert _status(run_cli)["state"] == "VALID"


def test_bind_moves_file_keys_into_the_tpm_and_required_mode_refuses_files(
    tmp_path: Path,
    codemoat_home: Path,
    vendor: Path,
    tpm: SoftwareTpm,
    run_cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CODEMOAT_LICENSE__TPM", "off")  # an appliance activated before it had a TPM
    license_id = _activate(tmp_path, vendor, run_cli)
    assert {p.name for p in _device(codemoat_home).glob("*.pem")} == {
        "device-ed25519.pem",
        "device-x25519.pem",
    }
    assert "license.tpm = off" in _one_line_error(run_cli("license", "tpm", "bind"))

    monkeypatch.setenv("CODEMOAT_LICENSE__TPM", "required")
    data = _status(run_cli)
    assert data["state"] == "STOPPED" and "are files, not sealed to the TPM" in data["reason"]
    doctor = run_cli("doctor", "--json")
    check = next(c for c in json.loads(doctor.out)["checks"] if c["name"] == "tpm")
    assert not check["ok"] and "license tpm bind" in check["detail"]

    monkeypatch.setenv("CODEMOAT_LICENSE__TPM", "auto")
    kid = _tpm_status(run_cli)[1]["kid"]
    assert "a TPM answers" in run_cli("license", "tpm", "status").out
    bound = run_cli("license", "tpm", "bind", "--pcrs", "7")
    assert bound.code == 0, bound.err
    assert "moved into the TPM" in bound.out and "PCRs 7" in bound.out
    assert not list(_device(codemoat_home).glob("*.pem"))
    code, info = _tpm_status(run_cli)
    assert code == 0 and info["form"] == "tpm" and info["kid"] == kid and info["pcrs"] == [7]
    data = _status(run_cli)
    assert data["state"] == "VALID" and data["license_id"] == license_id
    rebound = run_cli("license", "tpm", "bind", "--pcrs", "")
    assert rebound.code == 0 and "re-bound to the TPM" in rebound.out
    assert _tpm_status(run_cli)[1]["pcrs"] == []

    monkeypatch.setenv("CODEMOAT_LICENSE__TPM", "required")
    assert _status(run_cli)["state"] == "VALID"
    check = next(c for c in json.loads(run_cli("doctor", "--json").out)["checks"] if c["name"] == "tpm")
    assert check["ok"] and f"device keys {kid} sealed to the TPM" in check["detail"]


def test_an_interrupted_bind_is_finished_by_the_next_run(
    tmp_path: Path,
    codemoat_home: Path,
    vendor: Path,
    tpm: SoftwareTpm,
    run_cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CODEMOAT_LICENSE__TPM", "off")
    _activate(tmp_path, vendor, run_cli)
    device = _device(codemoat_home)
    files = {p.name: p.read_bytes() for p in device.glob("*.pem")}
    monkeypatch.setenv("CODEMOAT_LICENSE__TPM", "auto")
    assert run_cli("license", "tpm", "bind").code == 0
    for name, data in files.items():  # killed after the sealed record was written, before the files went
        (device / name).write_bytes(data)
        (device / name).chmod(0o600)
    assert _status(run_cli)["state"] == "VALID"
    assert not list(device.glob("*.pem")) and (device / "device-keys.tpm.json").is_file()

    # Two different sets of keys are not guessed between.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    for name, key in (("device-ed25519.pem", Ed25519PrivateKey), ("device-x25519.pem", X25519PrivateKey)):
        pem = key.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        (device / name).write_bytes(pem)
    assert "two different sets of device keys" in _status(run_cli)["reason"]


def test_absent_busy_misnamed_tpm_and_a_tampered_record_get_one_line_reasons(
    tmp_path: Path,
    codemoat_home: Path,
    vendor: Path,
    tpm: SoftwareTpm,
    run_cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _activate(tmp_path, vendor, run_cli)
    record_path = _device(codemoat_home) / "device-keys.tpm.json"
    record = json.loads(record_path.read_text())

    monkeypatch.setenv("CODEMOAT_LICENSE__TPM_TIMEOUT_S", "1")
    holder = socket.create_connection(
        ("127.0.0.1", tpm.port)
    )  # another program holds the (single-client) TPM
    try:
        started = time.monotonic()
        assert "is busy" in _one_line_error(run_cli("license", "tpm", "bind"))
        assert time.monotonic() - started < 10
        # A busy TPM is not taken for an absent one: new keys are not quietly made as files.
        monkeypatch.setenv("CODEMOAT_HOME", str(tmp_path / "new-home"))
        assert "is busy" in _one_line_error(run_cli("license", "request", "--out", tmp_path / "r2.txt"))
        assert not list(_device(tmp_path / "new-home").glob("device-*"))
        monkeypatch.setenv("CODEMOAT_HOME", str(codemoat_home))
    finally:
        holder.close()
    monkeypatch.setenv("CODEMOAT_LICENSE__TPM_TCTI", "bogus:whatever")
    assert "not one libtss2 knows" in _one_line_error(run_cli("license", "tpm", "bind"))
    assert "not one libtss2 knows" in _status(run_cli)["reason"]
    monkeypatch.setenv("CODEMOAT_LICENSE__TPM_PCRS", "[30]")
    assert "PCR 30 is not a PCR number" in _one_line_error(run_cli("license", "status"))
    monkeypatch.delenv("CODEMOAT_LICENSE__TPM_PCRS")
    monkeypatch.setenv("CODEMOAT_LICENSE__TPM_TCTI", f"swtpm:host=127.0.0.1,port={_free_port()}")
    assert "no TPM answers" in _one_line_error(run_cli("license", "tpm", "bind"))
    monkeypatch.setenv("CODEMOAT_LICENSE__TPM_TCTI", tpm.tcti)
    assert "is not a PCR number" in _one_line_error(run_cli("license", "tpm", "bind", "--pcrs", "24"))
    assert record_path.read_text() == json.dumps(record, indent=2) + "\n"  # nothing changed by any of them
    assert _status(run_cli)["state"] == "VALID"

    private = bytearray(base64.urlsafe_b64decode(record["private"] + "=" * (-len(record["private"]) % 4)))
    private[-1] ^= 1
    record_path.write_text(
        json.dumps({**record, "private": base64.urlsafe_b64encode(bytes(private)).decode()})
    )
    assert "integrity check failed" in _status(run_cli)["reason"]
    record_path.write_text(json.dumps({**record, "public": "not base64!"}))
    assert "damaged" in _status(run_cli)["reason"]
    record_path.write_text(json.dumps({**record, "signing_public": record["wrapping_public"]}))
    assert "do not match their record" in _status(run_cli)["reason"]
    record_path.write_text("{")
    assert _status(run_cli)["state"] == "STOPPED"
    assert _one_line_error(run_cli("license", "check-model", tmp_path / "sealed"))
