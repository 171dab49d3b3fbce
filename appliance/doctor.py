"""`codemoat doctor`: what an operator checks after an install or when something is wrong, each check a pass or
a fail with what to do. Read-only: nothing is created, assembled, migrated or repaired here."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from appliance.config import Settings

# No clock of a running appliance can be older than this build's release.
RELEASED = time.mktime((2026, 11, 1, 0, 0, 0, 0, 0, 0))


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def run_checks(settings: Settings) -> list[Check]:
    checks: list[Callable[[Settings], tuple[bool, str]]] = [
        _versions,
        _python,
        _torch,
        _models,
        _engine_library,
        _index,
        _embedder,
        _database,
        _license,
        _free_disk,
        _clock,
        _port,
        _gpu,
        _tpm,
    ]
    results = []
    for check in checks:
        name = check.__name__.lstrip("_").replace("_", " ")
        try:
            ok, detail = check(settings)
        except Exception as exc:  # a check that cannot run is a failed check, with its reason
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        results.append(Check(name, ok, detail))
    return results


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _versions(settings: Settings) -> tuple[bool, str]:
    names = ("codemoat", "llama_cpp_python", "transformers", "qdrant-edge-py", "fastapi", "cryptography")
    return True, ", ".join(f"{name} {_package(name)}" for name in names)


def _python(settings: Settings) -> tuple[bool, str]:
    ok = sys.version_info >= (3, 11)
    detail = f"Python {platform.python_version()} ({sys.executable}) on {platform.machine()}"
    return ok, detail if ok else f"{detail}: CodeMoat needs Python 3.11 or newer"


def _torch(settings: Settings) -> tuple[bool, str]:
    import torch

    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU"
    return True, f"torch {torch.__version__}, {build} build, {torch.get_num_threads()} threads"


def _models(settings: Settings) -> tuple[bool, str]:
    from appliance.engines.bundled import bundled_model, check_bundled
    from appliance.engines.errors import EngineError

    lines = []
    ok = True
    roles = ["completion"]
    if settings.engine.for_role("chat") != settings.engine.for_role("completion"):
        roles.append("chat")
    for role in roles:
        engine = settings.engine.for_role(role)
        if engine.kind in ("upstream", "vllm"):
            lines.append(f"{role}: served by {engine.kind}")
            continue
        if engine.model_path is not None:
            present = Path(engine.model_path).exists()
            ok &= present
            lines.append(f"{role}: {engine.model_path}" + ("" if present else " does not exist"))
            continue
        try:
            lines.append(
                f"{role}: {engine.model}: {check_bundled(bundled_model(engine.model), engine.model_cache_dir(settings.home))}"
            )
        except EngineError as exc:
            ok = False
            lines.append(f"{role}: {exc}")
    return ok, "; ".join(dict.fromkeys(lines))


def _engine_library(settings: Settings) -> tuple[bool, str]:
    # llama.cpp's native library links to system libraries (libgomp, libstdc++): one missing shows only when the
    # model first loads, as a server that never becomes ready, so the doctor loads the library itself.
    kinds = {settings.engine.for_role(role).kind for role in ("completion", "chat")}
    if "llama_cpp" not in kinds:
        return True, "no role runs llama.cpp in this process"
    # In a fresh interpreter: this one has imported torch, whose bundled libgomp.so.1 would satisfy the link.
    probe = "import llama_cpp; print(llama_cpp.__version__)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return False, (
            f"llama.cpp's native library does not load ({reason}); install the system library it names "
            "(on Debian, libgomp1 provides libgomp.so.1)"
        )
    return True, f"llama.cpp {done.stdout.strip()}: its native library loads"


def _index(settings: Settings) -> tuple[bool, str]:
    from indexer.manifest import Manifest

    path = settings.indexer.data_paths(settings.home).manifest
    if not path.exists():
        return True, f"nothing indexed yet ({path.parent}): run `codemoat index PATH`"
    manifest = Manifest(path)
    try:
        repos = manifest.repos()
        interrupted = [r.name for r in repos if r.interrupted]
        files = sum(manifest.file_stats(r.name)["files"] for r in repos)
    finally:
        manifest.close()
    detail = f"{len(repos)} repositories, {files:,} files ({path.parent})"
    if manifest.recovered_from is not None:
        detail += f"; the manifest was corrupt and was set aside as {manifest.recovered_from}: index again"
    if interrupted:
        return (
            False,
            f"{detail}; interrupted runs: {', '.join(interrupted)}: run `codemoat index` on them again",
        )
    return manifest.recovered_from is None, detail


def _embedder(settings: Settings) -> tuple[bool, str]:
    from indexer.embedding.tuning import tuned_identity, verify_tuned
    from indexer.errors import EmbedderError

    tuned = settings.indexer.data_paths(settings.home).tuned_embedder
    if tuned_identity(tuned) is None:
        return (
            True,
            f"{settings.indexer.embedder} (not tuned: `codemoat embedder tune` fits it to the indexed code)",
        )
    try:
        identity = verify_tuned(tuned)
    except EmbedderError as exc:
        return False, str(exc)
    return (
        True,
        f"{settings.indexer.embedder} tuned on the indexed code ({identity}, files match their hashes)",
    )


def _database(settings: Settings) -> tuple[bool, str]:
    from appliance.state.db import Database

    sqlite = settings.state.sqlite_path(settings.home)
    if settings.state.database_url is None and not sqlite.exists():
        return True, f"{sqlite}: not created yet (`codemoat serve` or `codemoat token create` creates it)"
    db = Database.open(settings.state, settings.home, upgrade=False)
    try:
        current, head = db.current_revision(), Database.head_revision()
    finally:
        db.close()
    where = db.describe()
    if current == head:
        return True, f"{where}: migrations at {head}"
    if current is None:
        return (
            True,
            f"{where}: not created yet (the first `codemoat serve` or `codemoat token create` creates it)",
        )
    return (
        False,
        f"{where}: at migration {current}, this version needs {head}: start `codemoat serve` once to upgrade",
    )


def _license(settings: Settings) -> tuple[bool, str]:
    from appliance.license_gate.device_keys import license_service
    from appliance.license_gate.runtime import serving_state

    state = serving_state(settings, license_service(settings))
    return state.allowed, f"{state.state}: {state.reason}"


def _free_disk(settings: Settings) -> tuple[bool, str]:
    from indexer.diskspace import DiskSpace

    need = settings.indexer.min_free_mib * 2**20
    free = DiskSpace(settings.indexer.data_paths(settings.home).root, need).free()
    detail = f"{free / 2**30:.1f} GiB free on the disk of {settings.home}"
    return (
        free >= need,
        detail if free >= need else f"{detail}: indexing needs {need / 2**20:.0f} MiB; free some",
    )


def _clock(settings: Settings) -> tuple[bool, str]:
    now = time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now))
    if now < RELEASED:
        return (
            False,
            f"the clock says {stamp}, before this release: set the time (licenses and leases use it)",
        )
    return True, f"{stamp}"


def _port(settings: Settings) -> tuple[bool, str]:
    host, port = settings.server.host, settings.server.port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            return True, f"{host}:{port} is in use ({exc.strerror}): a running server, or choose server.port"
    return True, f"{host}:{port} is free"


def _gpu(settings: Settings) -> tuple[bool, str]:
    smi = shutil.which("nvidia-smi")
    devices = sorted(str(p) for p in Path("/dev").glob("nvidia[0-9]*"))
    if not smi and not devices:
        return True, "none: the embedded CPU engine serves (vLLM needs a GPU)"
    return True, f"{len(devices)} NVIDIA device(s){', nvidia-smi at ' + smi if smi else ''}"


def _tpm(settings: Settings) -> tuple[bool, str]:
    from appliance.license_gate.device_keys import device_keys
    from licensing.errors import LicensingError
    from licensing.tpm import tpm_library_available

    keys = device_keys(settings)
    where, form = keys.sealer.describe(), keys.form()
    if form == "tpm":
        try:
            kid = keys.load().kid
        except LicensingError as exc:
            return False, str(exc)
        pcrs = keys.describe()["pcrs"]
        return True, f"device keys {kid} sealed to the TPM at {where}" + (f", PCRs {pcrs}" if pcrs else "")
    try:
        available = keys.sealer.available()
    except LicensingError as exc:  # there, but busy or misnamed
        return False, str(exc)
    if settings.license.tpm == "required" and (form == "file" or not available):
        return False, (
            "license.tpm = required, but "
            + (
                "the device keys are files: run `codemoat license tpm bind`"
                if form
                else f"no TPM answers at {where}"
            )
        )
    if form == "file":
        advice = (
            f"; a TPM answers at {where}: seal them with `codemoat license tpm bind`" if available else ""
        )
        return True, "device keys in owner-only files" + advice
    if available:
        return True, f"a TPM answers at {where}: device keys will be sealed to it when created"
    device = Path("/dev/tpmrm0")
    if device.exists() and not tpm_library_available():
        return True, "a TPM is present, but tpm2-pytss is not installed (the [tpm] extra): keys stay files"
    if device.exists() and not os.access(device, os.R_OK | os.W_OK):
        return True, f"a TPM is at {device}, but this user may not open it (the tss group): keys stay files"
    return True, f"no TPM answers at {where}: device keys will be owner-only files"
