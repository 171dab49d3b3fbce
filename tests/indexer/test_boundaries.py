"""`indexer` sits below the appliance: it imports third-party packages only, never `appliance`, `lsp` or
`licensing`, neither at import time nor inside a function."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import indexer

ROOT = Path(__file__).parents[2]
FORBIDDEN = {"appliance", "lsp", "licensing"}


def test_no_indexer_source_file_imports_the_packages_above_it() -> None:
    offenders = []
    files = sorted((ROOT / "indexer").rglob("*.py"))
    assert len(files) > 20
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [
                f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names if n.split(".")[0] in FORBIDDEN
            ]
    assert offenders == []


def test_importing_every_indexer_module_loads_none_of_the_packages_above_it() -> None:
    modules = sorted(m.name for m in pkgutil.walk_packages(indexer.__path__, "indexer."))
    assert "indexer.service" in modules and "indexer.store.edge" in modules
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert not set(json.loads(result.stdout)) & FORBIDDEN
