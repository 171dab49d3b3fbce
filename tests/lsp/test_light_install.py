"""The bridge alone on a developer laptop: `pip install <repo>` without extras in a fresh virtualenv pulls no ML
stack, and its `codemoat-lsp` starts and answers `initialize`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import ClientServerConfig

from tests.lsp.harness import REPO_ROOT, vscode_like_capabilities

pytestmark = pytest.mark.slow

HEAVY = [
    "torch",
    "transformers",
    "sentence_transformers",
    "qdrant_client",
    "qdrant_edge",
    "tree_sitter",
    "numpy",
]
TOOLING = {"pip", "setuptools", "_distutils_hack", "wheel", "pkg_resources"}


def _site_packages_bytes(venv: Path) -> int:
    (site,) = list((venv / "lib").glob("python3*/site-packages"))
    total = 0
    for entry in site.iterdir():
        if entry.name.split("-")[0] in TOOLING or entry.name == "__pycache__":
            continue
        files = [entry] if entry.is_file() else [p for p in entry.rglob("*") if p.is_file()]
        total += sum(p.stat().st_size for p in files)
    return total


def _clean_copy(destination: Path) -> Path:
    """The project's files as a clone would have them (tracked and new, not ignored): no stale build/ output."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


async def test_light_install_has_no_ml_stack_and_serves_lsp(tmp_path: Path) -> None:
    project = _clean_copy(tmp_path / "project")
    venv = tmp_path / "laptop"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", str(project)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]

    probe = "import importlib.util, json, sys; print(json.dumps([m for m in sys.argv[1:] if importlib.util.find_spec(m)]))"
    present = subprocess.run(
        [str(python), "-c", probe, *HEAVY], env=env, capture_output=True, text=True, check=True
    )
    assert present.stdout.strip() == "[]"

    size_mb = _site_packages_bytes(venv) / 1e6
    # Reported in bench/RESULTS.md ("Editor bridge"); a bound here catches an ML package sneaking in.
    print(f"light install: site-packages without pip/setuptools = {size_mb:.1f} MB")
    assert size_mb < 25

    config = ClientServerConfig(server_command=[str(venv / "bin" / "codemoat-lsp")], server_env=env)
    client = await config.start()
    try:
        result = await client.initialize_session(
            types.InitializeParams(capabilities=vscode_like_capabilities(), root_uri=tmp_path.as_uri())
        )
        assert result.server_info is not None and result.server_info.name == "codemoat-lsp"
        assert result.capabilities.inline_completion_provider is not None
        assert result.capabilities.completion_provider is not None
        await client.shutdown_session()
    finally:
        await client.stop()
