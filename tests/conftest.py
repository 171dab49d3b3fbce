"""Shared fixtures. Tests drive the public entry points: the CLI (in-process through `appliance.cli.main.main`,
or as a subprocess where a real process boundary matters), the Python API, HTTP and LSP with real clients."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

# Air-gapped by construction: any attempt to reach a model hub fails instead of downloading.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# The suite runs on the small SmolLM2 in the transformers engine (fast to load, fast to run); the tests of the
# default code model (Qwen2.5-Coder on llama.cpp) ask for it explicitly. Subprocesses inherit these.
FAST_ENGINE = {"kind": "transformers", "model": "smollm2-135m"}
os.environ.setdefault("CODEMOAT_ENGINE__KIND", FAST_ENGINE["kind"])
os.environ.setdefault("CODEMOAT_ENGINE__MODEL", FAST_ENGINE["model"])

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = REPO_ROOT / ".venv" / "bin"


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def codemoat_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("CODEMOAT_HOME", str(home))
    return home


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run `codemoat ARGS...` in-process and return its exit code, stdout and stderr."""
    from appliance.cli.main import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
