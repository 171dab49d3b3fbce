"""A real editor: Debian's Neovim (0.7, headless) with lsp/clients/neovim/codemoat.lua asks codemoat-lsp for
completions from a running `codemoat serve` and gets the model's suggestion."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.lsp.harness import CODEMOAT_LSP, REPO_ROOT, Appliance

pytestmark = pytest.mark.slow

NVIM = shutil.which("nvim")
SOURCE = "def fibonacci(n):\n    if n < 2:\n        return n\n    return fib\n"


@pytest.mark.skipif(NVIM is None, reason="Neovim is not installed (.ci/run installs Debian's neovim)")
def test_neovim_gets_a_completion_from_the_model(appliance: Appliance, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    source = project / "fib.py"
    source.write_text(SOURCE)
    out = tmp_path / "result.json"
    env = {
        **os.environ,
        "CODEMOAT_URL": appliance.url,
        "CODEMOAT_TOKEN": appliance.token,
        "CODEMOAT_NVIM_OUT": str(out),
        "CODEMOAT_NVIM_MODULE": str(REPO_ROOT / "lsp" / "clients" / "neovim" / "codemoat.lua"),
        "CODEMOAT_NVIM_FILE": str(source),
        "CODEMOAT_LSP_BIN": CODEMOAT_LSP,
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    driver = Path(__file__).with_name("nvim_complete.lua")
    subprocess.run(
        [
            NVIM,
            "--headless",
            "-u",
            "NONE",
            "-i",
            "NONE",
            "-n",
            "--cmd",
            "filetype on",
            "-c",
            f"luafile {driver}",
        ],
        cwd=project,
        env=env,
        timeout=300,
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )
    result = json.loads(out.read_text())
    assert "error" not in result, result
    assert result["errors"] == []
    assert result["prefix"] == "fib"
    response = httpx.post(
        f"{appliance.url}/v1/completions",
        headers={"Authorization": f"Bearer {appliance.token}"},
        json={
            "prompt": SOURCE.rstrip("\n"),
            "suffix": "\n",
            "max_tokens": 8,
            "temperature": 0.0,
            "path": "fib.py",
            "language": "python",
            "snippets": [],
        },
        timeout=120,
    )
    assert response.status_code == 200, response.text
    expected = response.json()["choices"][0]["text"]
    assert expected.strip()
    assert result["words"] == ["fib" + expected]
