"""The bundled embedder fine-tuned on the indexed code, through `codemoat embedder` and `CodeIndex`: trained by
sentence-transformers' trainer on a real code base's docstrings, kept only when held-out definitions rank
better, every repository embedded again with it, tampering refused, secrets never trained on."""

from __future__ import annotations

import json
import shutil
import sysconfig
from pathlib import Path
from typing import Callable

import pytest

from indexer.config import IndexerSettings
from indexer.embedding.tuning import MIN_PAIRS, docstring_pairs
from indexer.errors import EmbedderError
from indexer.service import CodeIndex

pytestmark = pytest.mark.slow

STDLIB = Path(sysconfig.get_paths()["stdlib"])
# Documented code nobody here wrote, about 400 definitions with docstrings.
MODULES = (
    "textwrap.py",
    "shutil.py",
    "tempfile.py",
    "fnmatch.py",
    "difflib.py",
    "calendar.py",
    "statistics.py",
)


def _corpus(root: Path) -> Path:
    root.mkdir(parents=True)
    for name in MODULES:
        shutil.copy(STDLIB / name, root / name)
    return root


@pytest.fixture
def run(run_cli: Callable) -> Callable[..., tuple[int, str]]:  # type: ignore[type-arg]
    def go(home: Path, *args: str) -> tuple[int, str]:
        """(exit code, stdout) when stdout is JSON, else (exit code, stdout and stderr)."""
        result = run_cli("--home", str(home), *args)
        return result.code, result.out if "--json" in args and result.code == 0 else result.out + result.err

    return go


def test_tuning_keeps_a_better_table_and_embeds_every_repository_again(tmp_path: Path, run: Callable) -> None:  # type: ignore[type-arg]
    home = tmp_path / "home"
    code, _ = run(home, "index", str(_corpus(tmp_path / "lib")), "--name", "lib", "--json")
    assert code == 0
    code, output = run(home, "embedder", "tune", "--epochs", "3", "--json")
    assert code == 0, output
    report = json.loads(output)
    assert report["pairs"] >= 200 and report["kept"] is True
    assert report["mrr_after"] > report["mrr_before"]
    assert report["reindexed"] == ["lib"] and report["missing"] == []
    code, output = run(home, "embedder", "status", "--json")
    status = json.loads(output)
    assert status["tuned"] is True and status["embedder"] == f"wordllama+{report['identity']}"

    with CodeIndex.open(IndexerSettings(), home) as index:
        assert index.embedder.name == status["embedder"]
        # The next run has nothing to do: every chunk already carries the tuned vectors.
        again = index.index(tmp_path / "lib", name="lib")
        assert again.files_changed == 0
        hits = index.search("remove common leading whitespace from every line", k=5, mode="dense")
        assert any(h.path == "textwrap.py" for h in hits)
        # /v1/embeddings' embedder is the bundled one, not the table shaped by the indexed code.
        assert index.base_embedder.name != index.embedder.name

    code, output = run(home, "embedder", "reset")
    assert code == 0 and "re-embedded lib" in output
    code, output = run(home, "embedder", "status", "--json")
    assert json.loads(output) == {"embedder": "wordllama", "tuned": False}


def test_a_tampered_tuned_table_is_refused_with_a_reason(tmp_path: Path, run: Callable) -> None:  # type: ignore[type-arg]
    home = tmp_path / "home"
    run(home, "index", str(_corpus(tmp_path / "lib")), "--name", "lib")
    code, output = run(home, "embedder", "tune", "--epochs", "2", "--json")
    assert code == 0 and json.loads(output)["kept"], output
    tuned = home / "index" / "embedder-tuned" / "model"
    weights = next(p for p in tuned.rglob("*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with CodeIndex.open(IndexerSettings(), home) as index:
        with pytest.raises(EmbedderError, match="does not match its recorded hash"):
            index.search("anything", k=1, mode="dense")
    code, output = run(home, "search", "anything", "--mode", "dense")
    assert code != 0 and "does not match its recorded hash" in output and "Traceback" not in output
    code, output = run(home, "doctor")
    line = next(line for line in output.splitlines() if "embedder: " in line)
    assert code == 1 and line.startswith("FAIL") and "does not match its recorded hash" in line


def test_too_few_docstrings_is_a_clear_error_and_changes_nothing(tmp_path: Path, run: Callable) -> None:  # type: ignore[type-arg]
    repo = tmp_path / "small"
    repo.mkdir()
    (repo / "a.py").write_text('def f():\n    """Return one for the caller."""\n    return 1\n')
    home = tmp_path / "home"
    run(home, "index", str(repo), "--name", "small")
    code, output = run(home, "embedder", "tune")
    assert code != 0 and f"at least {MIN_PAIRS}" in output
    assert not (home / "index" / "embedder-tuned").exists()


def test_pairs_come_from_docstrings_and_never_from_redacted_secrets(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    key = "AKIA" + "Q3EGRQ7JY2QXJL5B"
    (repo / "creds.py").write_text(
        "def connect(region):\n"
        '    """Open a client for the storage service in a region."""\n'
        f'    return Client(region, key="{key}")\n'
        "def undocumented():\n"
        "    return 2\n"
    )
    with CodeIndex.open(IndexerSettings(), tmp_path / "home") as index:
        index.index(repo, name="r")
        pairs = docstring_pairs(index.manifest.definitions(("function", "method", "class")))
    assert [p.query for p in pairs] == ["Open a client for the storage service in a region."]
    assert "def connect(region):" in pairs[0].code and "Open a client" not in pairs[0].code
    assert key not in pairs[0].code
