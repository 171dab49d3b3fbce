"""Import-aware retrieval and symbol lookup over a real index (tree-sitter symbols, the SQLite manifest, Qdrant
Edge, the bundled embedder): what the open file imports decides which of several similar files and which of
several namesakes come first, and never widens what the caller may see."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from indexer.config import IndexerSettings
from indexer.resolution import OpenFile
from indexer.service import CodeIndex
from indexer.types import SearchFilter

# Two modules with the same vocabulary: without the imports nothing tells them apart.
LEDGER = '''"""Postings to the general ledger."""


def post(entry, amount):
    """Record an amount against an entry and return the new balance of the account."""
    account = entry.account
    account.balance += amount
    return account.balance


def reverse(entry):
    """Undo a posting."""
    return post(entry, -entry.amount)
'''

JOURNAL = '''"""Postings to the sales journal."""


def post(entry, amount):
    """Record an amount against an entry and return the new balance of the account."""
    account = entry.account
    account.balance += amount
    return account.balance


class Journal:
    def post(self, entry, amount):
        return post(entry, amount)
'''

LEDGER_BOOK = '''class Book:
    def post(self, entry, amount):
        """Post to the book's own account."""
        return entry.amount + amount
'''


def _repo(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CodeIndex]:
    base = tmp_path_factory.mktemp("repos")
    main = _repo(
        base / "main",
        {
            "acct/ledger.py": LEDGER,
            "acct/journal.py": JOURNAL,
            "acct/book.py": LEDGER_BOOK,
            "acct/__init__.py": "",
            "app/checkout.py": "print('hello')\n",
        },
    )
    # Another repository holding a file at the very path the open file imports.
    other = _repo(base / "other", {"acct/ledger.py": LEDGER.replace("general ledger", "secret ledger")})
    idx = CodeIndex.open(IndexerSettings(), tmp_path_factory.mktemp("home"))
    idx.index(main, name="main")
    idx.index(other, name="other")
    yield idx
    idx.close()


QUERY = "    account = entry.account\n    amount = entry.amount\n    return "


def _open(text: str) -> OpenFile:
    return OpenFile("main", "app/checkout.py", text, "python")


def test_the_module_named_before_the_cursor_is_searched_first(index: CodeIndex) -> None:
    flt = SearchFilter(repos=("main",))
    for module, other in (("ledger", "journal"), ("journal", "ledger")):
        text = f"from acct import ledger, journal\n\n\ndef pay(entry):\n{QUERY}{module}."
        hits = index.search_near(QUERY, open_file=_open(text), k=5, flt=flt)
        assert hits[0].path == f"acct/{module}.py", [h.path for h in hits]
        assert f"acct/{other}.py" in {h.path for h in hits}  # the plain search still contributes


def test_imported_files_rank_above_files_the_open_file_does_not_import(index: CodeIndex) -> None:
    flt = SearchFilter(repos=("main",))
    for module in ("ledger", "journal"):
        text = f"from acct.{module} import post\n\n\ndef pay(entry):\n{QUERY}"
        hits = index.search_near(QUERY, open_file=_open(text), k=5, flt=flt)
        assert hits[0].path == f"acct/{module}.py", [h.path for h in hits]


def test_the_files_searched_first_never_widen_the_callers_scope(index: CodeIndex) -> None:
    text = f"from acct import ledger\n\n\ndef pay(entry):\n{QUERY}ledger."
    hits = index.search_near(QUERY, open_file=_open(text), k=10, flt=SearchFilter(repos=("other",)))
    assert hits and {h.repo for h in hits} == {"other"}
    assert all("general ledger" not in h.text for h in hits)
    excluded = SearchFilter(repos=("main",), exclude_paths=(("main", "acct/ledger.py"),))
    hits = index.search_near(QUERY, open_file=_open(text), k=10, flt=excluded)
    assert all(h.path != "acct/ledger.py" for h in hits)
    assert index.search_near(QUERY, open_file=_open(text), k=10, flt=SearchFilter(repos=())) == []


def test_symbol_lookup_prefers_the_definition_the_file_imports(index: CodeIndex) -> None:
    def first(text: str, name: str) -> tuple[str, str]:
        hits = index.lookup_symbols([name], repos=["main"], limit=5, open_file=_open(text))
        return hits[0].path, hits[0].container

    assert first("from acct import journal\nx = journal.post(e, 1)\n", "post") == ("acct/journal.py", "")
    assert first("from acct import ledger\nx = ledger.post(e, 1)\n", "post") == ("acct/ledger.py", "")
    # An alias is looked up by the name it stands for.
    hits = index.lookup_symbols(
        ["record"], repos=["main"], open_file=_open("from acct.ledger import post as record\n")
    )
    assert (hits[0].path, hits[0].name) == ("acct/ledger.py", "post") and len(hits) == 4
    # A receiver built from a class: its method first (the table's own order puts acct/book.py first).
    assert first("j.post(e, 1)\n", "post") == ("acct/book.py", "class Book")
    text = "from acct.journal import Journal\nj = Journal()\nj.post(e, 1)\n"
    assert first(text, "post") == ("acct/journal.py", "class Journal")
    # Without an open file: the table's own order, every namesake.
    assert len(index.lookup_symbols(["post"], repos=["main"])) == 4


def test_resolution_follows_the_index(index: CodeIndex, tmp_path: Path) -> None:
    """A file indexed after the first resolution is found by the next one (the path table is per run)."""
    text = "from acct import ledger, refunds\n\nrefunds."
    before = index.imports.resolve(_open(text))
    assert "acct/refunds.py" not in before.files and "acct/ledger.py" in before.files
    root = index.repositories()
    main_root = Path(next(r.root for r in root if r.name == "main"))
    (main_root / "acct/refunds.py").write_text("def refund(entry):\n    return entry.amount\n")
    try:
        index.index(main_root, name="main")
        after = index.imports.resolve(_open(text))
        assert "acct/refunds.py" in after.files and after.focus(text) == ("acct/refunds.py",)
    finally:
        (main_root / "acct/refunds.py").unlink()
        index.index(main_root, name="main")


def test_a_changed_name_weight_encodes_every_file_again(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "r", {"acct/ledger.py": LEDGER, "acct/journal.py": JOURNAL})
    home = tmp_path / "home"
    with CodeIndex.open(IndexerSettings(), home) as idx:
        first = idx.index(repo, name="r")
        assert first.files_changed == 2
        assert idx.index(repo, name="r").files_changed == 0
    with CodeIndex.open(IndexerSettings(name_weight=1.0), home) as idx:  # not the default
        report = idx.index(repo, name="r")
        assert report.files_changed == 2 and report.total_chunks == first.total_chunks
        assert idx.store.count("r") == first.total_chunks  # replaced in place, not added
        assert idx.index(repo, name="r").files_changed == 0
        assert idx.search("post", k=1, mode="sparse")[0].path.startswith("acct/")


def test_a_dotted_chain_before_the_cursor_focuses_its_longest_imported_module() -> None:
    from indexer.resolution import ResolvedImports

    resolved = ResolvedImports(
        "main", ("os.py", "xml/etree/ElementTree.py"), {"os": ("os.py",), "ET": ("xml/etree/ElementTree.py",)}
    )
    assert resolved.focus("    p = os.path.jo") == ("os.py",)
    assert resolved.focus("ET.") == ("xml/etree/ElementTree.py",)
    assert resolved.focus("book.") == () and resolved.focus("x = 1") == ()
