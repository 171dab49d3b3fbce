"""The VS Code extension builds from a clean copy the way CI and a release build do: `npm ci`, `npm run
compile`, `vsce package`, and the .vsix holds the compiled extension and its language client."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.lsp.harness import REPO_ROOT

pytestmark = pytest.mark.slow

SOURCE = REPO_ROOT / "lsp" / "clients" / "vscode"


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_extension_compiles_and_packages(tmp_path: Path) -> None:
    work = tmp_path / "vscode"
    shutil.copytree(SOURCE, work, ignore=shutil.ignore_patterns("node_modules", "out", "*.vsix"))
    for command in (
        ["npm", "ci", "--no-audit", "--no-fund"],
        ["npm", "run", "compile"],
        ["npx", "--no-install", "vsce", "package", "--out", "codemoat.vsix"],
    ):
        done = subprocess.run(
            command, cwd=work, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL
        )
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    with zipfile.ZipFile(work / "codemoat.vsix") as vsix:
        names = set(vsix.namelist())
        manifest = json.loads(vsix.read("extension/package.json"))
    assert "extension/out/extension.js" in names
    assert "extension/node_modules/vscode-languageclient/package.json" in names
    assert not any(name.startswith("extension/src/") for name in names)
    assert manifest["name"] == "codemoat" and manifest["main"] == "./out/extension.js"
    assert "codemoat.url" in manifest["contributes"]["configuration"]["properties"]
