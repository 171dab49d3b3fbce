"""The service units as install.sh fills them in: systemd's own checker accepts them without a warning, and
systemd's exposure analysis scores them as hardened. `codemoat vllm replica N`, what the replica unit runs,
becomes the replica the gateway routes to."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "packaging" / "systemd"

needs_systemd = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")


def _render(tmp_path: Path) -> Path:
    """The units for a prefix in tmp_path, the way install.sh writes them (replica unit as instance 0)."""
    prefix, data, out = tmp_path / "prefix", tmp_path / "data", tmp_path / "units"
    (prefix / "current" / "bin").mkdir(parents=True)
    executable = prefix / "current" / "bin" / "codemoat"
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    data.mkdir()
    out.mkdir()
    for unit in UNITS.glob("*.service"):
        text = unit.read_text().replace("@PREFIX@", str(prefix)).replace("@DATA@", str(data))
        name = unit.name.replace("@.service", "@0.service")
        (out / name).write_text(text.replace("@USER@", "root"))
    return out


@needs_systemd
def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    units = _render(tmp_path)
    names = sorted(p.name for p in units.iterdir())
    assert names == ["codemoat-vllm@0.service", "codemoat.service"]
    checked = subprocess.run(
        ["systemd-analyze", "verify", *names], cwd=units, capture_output=True, text=True, timeout=60
    )
    # verify exits 0 on an unknown or misspelt directive; it only warns, so the warnings are the result.
    assert checked.returncode == 0 and checked.stderr.strip() == "", checked.stderr


@needs_systemd
@pytest.mark.parametrize(("unit", "threshold"), [("codemoat.service", 3.0), ("codemoat-vllm@0.service", 4.5)])
def test_the_units_are_hardened(tmp_path: Path, unit: str, threshold: float) -> None:
    units = _render(tmp_path)
    text = (units / unit).read_text()
    for directive in (
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "RestrictAddressFamilies=",
        f"ReadWritePaths={tmp_path / 'data'}\n",
        "User=root",
    ):
        assert directive in text, directive
    # systemd's exposure score (0 safest .. 10): over the threshold is a non-zero exit.
    scored = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", f"--threshold={threshold * 10:.0f}", f"./{unit}"],
        cwd=units, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert scored.returncode == 0, scored.stdout[-800:]


def _codemoat(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        "CODEMOAT_HOME": str(tmp_path / "home"),
        "CODEMOAT_ENGINE__KIND": "vllm",
        "CODEMOAT_ENGINE__VLLM__MODEL_DIR": "/models/coder",
        "CODEMOAT_ENGINE__VLLM__SUPERVISED_BY": "systemd",
    }
    return subprocess.run(
        [sys.executable, "-m", "appliance.cli.main", *args],
        env={**os.environ, **base, **env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_replica_command_is_the_supervisors_command_with_its_gpu_share(tmp_path: Path) -> None:
    shown = _codemoat(
        tmp_path, "vllm", "replica", "1", "--print",
        CODEMOAT_ENGINE__VLLM__REPLICAS="2", CODEMOAT_ENGINE__VLLM__GPU_IDS="[4,5,6,7]",
        CODEMOAT_ENGINE__VLLM__TENSOR_PARALLEL_SIZE="2",
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    gpus, command = shown.stdout.splitlines()
    assert gpus == "CUDA_VISIBLE_DEVICES=6,7"
    assert command.startswith("vllm serve /models/coder ") and "--port 8101" in command
    assert "--tensor-parallel-size 2" in command


def test_the_replica_command_becomes_the_configured_process(tmp_path: Path) -> None:
    # A template that prints what it was given stands for `vllm serve`: the process is replaced by it.
    template = f'["{sys.executable}", "-c", "import os; print(\'{{port}}\', os.environ[\'MARK\'])"]'
    ran = _codemoat(
        tmp_path, "vllm", "replica", "0", CODEMOAT_ENGINE__VLLM__COMMAND=template, MARK="replica-env"
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["8100", "replica-env"]


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"CODEMOAT_ENGINE__VLLM__SUPERVISED_BY": "gateway"}, "the gateway starts its replicas itself"),
        ({"CODEMOAT_ENGINE__KIND": "transformers"}, "only when it is 'vllm'"),
        ({"CODEMOAT_ENGINE__VLLM__SEALED": "true"}, "needs replicas the gateway starts"),
    ],
)
def test_a_replica_that_cannot_be_started_by_systemd_says_why(tmp_path: Path, env: dict, reason: str) -> None:
    refused = _codemoat(tmp_path, "vllm", "replica", "0", **env)
    assert refused.returncode != 0 and reason in refused.stderr and "Traceback" not in refused.stderr
    assert _codemoat(tmp_path, "vllm", "replica", "3").stderr.count("replicas is 1") == 1
