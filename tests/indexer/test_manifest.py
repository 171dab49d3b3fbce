"""The manifest's own contract: symbol lookup, the delete intent log, interrupted runs, corrupt files."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.errors import ManifestError
from indexer.manifest import FileUpdate, Manifest
from indexer.types import SymbolDef


def _update(path: str, ids: tuple[str, ...], *symbols: tuple[str, str, int]) -> FileUpdate:
    return FileUpdate(
        path,
        f"hash-{path}-{len(ids)}",
        "python",
        10,
        1,
        ids,
        tuple((SymbolDef(name, kind, line, line + 2), f"def {name}(): ...") for name, kind, line in symbols),
    )


@pytest.fixture
def manifest(tmp_path: Path) -> Manifest:
    m = Manifest(tmp_path / "manifest.sqlite3")
    for repo in ("app", "lib"):
        m.begin_run(repo, f"/src/{repo}")
    m.commit_files(
        "app", [_update("a.py", ("1", "2"), ("send", "function", 3), ("Session", "class", 10))], []
    )
    m.commit_files("lib", [_update("b.py", ("3",), ("send", "function", 7), ("parse", "function", 1))], [])
    return m


def test_symbol_lookup_keeps_the_asked_order_and_the_scope(manifest: Manifest) -> None:
    hits = manifest.lookup_symbols(["parse", "send", "missing"])
    assert [(h.name, h.repo) for h in hits] == [("parse", "lib"), ("send", "app"), ("send", "lib")]
    assert hits[0].text == "def parse(): ..." and (hits[0].start_line, hits[0].end_line) == (1, 3)

    assert [(h.name, h.repo) for h in manifest.lookup_symbols(["send", "parse"], repos=["app"])] == [
        ("send", "app")
    ]
    assert manifest.lookup_symbols(["send"], repos=[]) == []  # no access: nothing, not everything
    assert len(manifest.lookup_symbols(["send", "parse"], limit=1)) == 1


def test_symbol_lookup_with_a_scope_uses_the_name_index(manifest: Manifest) -> None:
    # With the repository filter SQLite once chose the per-file index and scanned a whole repository's
    # symbols on every keystroke (90 ms on the standard library instead of 0.2 ms).
    plan = manifest._conn.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM symbols WHERE name IN ('a', 'b') AND +repo IN ('app')"
    ).fetchall()
    assert "symbols_by_name" in str(plan)


def test_superseded_points_are_pending_until_cleared(manifest: Manifest) -> None:
    superseded = manifest.commit_files("app", [_update("a.py", ("2", "9"))], [])
    assert superseded == ["1"]
    assert manifest.pending_deletes("app") == ["1"]
    assert manifest.lookup_symbols(["Session"], repos=["app"]) == []  # symbols follow the new content
    manifest.clear_pending(superseded)
    assert manifest.pending_deletes() == []

    assert manifest.commit_files("lib", [], ["b.py"]) == ["3"]
    assert manifest.all_point_ids("lib") == set()


def test_a_run_that_never_finished_is_reported_interrupted(manifest: Manifest) -> None:
    assert manifest.repo("app").interrupted
    manifest.finish_run("app", "abc123")
    assert not manifest.repo("app").interrupted and manifest.repo("app").last_commit == "abc123"
    manifest.begin_run("app", "/src/app")
    assert manifest.repo("app").interrupted


def test_a_corrupt_file_is_moved_aside_and_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "manifest.sqlite3"
    path.write_bytes(b"garbage" * 1000)
    m = Manifest(path)
    assert m.recovered_from is not None and m.recovered_from.read_bytes().startswith(b"garbage")
    assert m.repos() == []


def test_a_manifest_from_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "manifest.sqlite3"
    Manifest(path).set_meta("schema_version", "99")
    with pytest.raises(ManifestError, match="schema version 99"):
        Manifest(path)
