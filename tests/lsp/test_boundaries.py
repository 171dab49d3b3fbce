"""The bridge installs on a laptop without the appliance: it imports none of the other packages nor the ML stack."""

from __future__ import annotations

import ast
from pathlib import Path

LSP = Path(__file__).resolve().parents[2] / "lsp"
FORBIDDEN = {
    "indexer",
    "appliance",
    "licensing",
    "torch",
    "transformers",
    "sentence_transformers",
    "qdrant_client",
    "qdrant_edge",
    "tree_sitter",
    "numpy",
    "fastapi",
}


def test_lsp_imports_nothing_forbidden() -> None:
    offenders = []
    for path in LSP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []
    assert len(list(LSP.rglob("*.py"))) >= 10
