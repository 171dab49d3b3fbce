"""The Retriever over a real index: every top-level module of the CPython standard library in 40-line windows
(~3,400 chunks), embedded by the default embedder, stored in Qdrant Edge."""

from __future__ import annotations

import ast
import random
import re
from collections import Counter

import pytest

from indexer.config import IndexerSettings
from indexer.errors import QueryError
from indexer.retrieval import MAX_K, STORE_BATCH, Retriever
from indexer.types import Hit, SearchFilter
from tests.indexer.test_store import STDLIB, make_points, stdlib_windows

pytestmark = pytest.mark.slow

# Hand-written paraphrases of what a standard-library function does, in words its code and docstring mostly
# do not use: (file, function, query).
PARAPHRASES = [
    ("textwrap.py", "dedent", "strip the indentation shared by all lines of a string"),
    ("shutil.py", "which", "find the location of an executable program in the search path"),
    ("os.py", "makedirs", "create a folder together with all missing parent folders"),
    ("difflib.py", "get_close_matches", "suggest similar words for a misspelled word"),
    ("random.py", "shuffle", "randomly reorder the elements of a list"),
    ("fnmatch.py", "translate", "convert a wildcard pattern into a regular expression"),
    ("base64.py", "b64encode", "encode binary data as base64 text"),
    ("calendar.py", "isleap", "check whether a year has 366 days"),
    ("heapq.py", "nlargest", "get the biggest n items from a collection"),
    ("statistics.py", "median", "middle value of a list of numbers"),
    ("secrets.py", "token_hex", "generate a random hexadecimal string for security tokens"),
    ("shlex.py", "quote", "escape a string so it is safe to pass to a unix shell"),
    ("bisect.py", "insort_right", "insert an item into a sorted list keeping it sorted"),
    ("pprint.py", "pformat", "format a nested data structure as a readable string"),
    ("tempfile.py", "mkdtemp", "make a new temporary directory with a unique name"),
    ("glob.py", "escape", "escape the special characters of a glob pattern"),
    ("uuid.py", "uuid4", "create a random unique identifier"),
    ("zipfile.py", "is_zipfile", "tell whether a file is a zip archive"),
    ("webbrowser.py", "open", "show a url in the user's web browser"),
    ("copy.py", "deepcopy", "recursively duplicate an object and everything it contains"),
]


def _definition_line(path: str, name: str) -> int:
    tree = ast.parse((STDLIB / path).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return node.lineno
    raise LookupError(f"{name} not defined in {path}")


def _rank(hits: list[Hit], path: str, line: int) -> int | None:
    for i, hit in enumerate(hits, 1):
        if hit.path == path and hit.start_line <= line <= hit.end_line:
            return i
    return None


def _mrr(ranks: list[int | None]) -> float:
    return sum(1 / r for r in ranks if r) / len(ranks)


@pytest.fixture(scope="module")
def files() -> list[str]:
    return sorted(p.name for p in STDLIB.glob("*.py"))


@pytest.fixture(scope="module")
def windows(files):
    return stdlib_windows(files)


@pytest.fixture(scope="module")
def retriever(tmp_path_factory, windows):
    from indexer.embedding import load_embedder
    from indexer.store.edge import EdgeStore

    embedder = load_embedder(IndexerSettings())
    store = EdgeStore.open(tmp_path_factory.mktemp("index") / "shard", dim=embedder.dim)
    points = make_points(windows, embedder, repo="stdlib")
    store.upsert(points)
    # A second repository, so repository filters have something to exclude.
    store.upsert(make_points(stdlib_windows(["json/decoder.py", "json/scanner.py"]), embedder, repo="json"))
    store.optimize()
    yield Retriever(embedder, store)
    store.close()


@pytest.fixture(scope="module")
def unique_names(files, windows) -> list[tuple[str, str, int]]:
    """40 functions whose (compound) name appears in exactly one window: the one that defines it."""
    seen = Counter(t for w in windows for t in set(re.findall(r"\w+", w[3])))
    found = set()
    for path in files:
        try:
            tree = ast.parse((STDLIB / path).read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            name = node.name if isinstance(node, ast.FunctionDef) else ""
            if len(name) >= 10 and "_" in name.strip("_") and seen[name] == 1:
                found.add((name, path, node.lineno))
    assert len(found) > 100
    return random.Random(0).sample(sorted(found), 40)


def test_an_exact_function_name_finds_its_definition_first(retriever, unique_names):
    for mode in ("sparse", "hybrid"):
        ranks = [_rank(retriever.search(name, mode=mode), path, line) for name, path, line in unique_names]
        assert all(r is not None and r <= 3 for r in ranks), (mode, ranks)
        assert sum(r == 1 for r in ranks) >= 0.9 * len(ranks), (mode, ranks)


def test_identifiers_are_found_by_their_words_too(retriever):
    # `get_close_matches` written as words, and in camelCase: the lexical side splits identifiers.
    for query in ("close matches", "getCloseMatches"):
        hits = retriever.search(query, mode="sparse", k=5)
        assert any(h.path == "difflib.py" and "def get_close_matches" in h.text for h in hits), query


def test_dense_finds_paraphrased_docstrings(retriever):
    ranks = [
        _rank(retriever.search(query, mode="dense"), path, _definition_line(path, name))
        for path, name, query in PARAPHRASES
    ]
    assert sum(r is not None for r in ranks) >= 7, ranks


def test_hybrid_is_at_least_as_good_as_either_mode_alone(retriever, unique_names):
    paraphrase_targets = [(query, path, _definition_line(path, name)) for path, name, query in PARAPHRASES]
    for label, tasks in (("paraphrase", paraphrase_targets), ("name", unique_names)):
        queries = [t[0] for t in tasks]
        mrr = {}
        for mode in ("sparse", "dense", "hybrid"):
            results = retriever.search_batch(queries, k=10, mode=mode)
            mrr[mode] = _mrr([_rank(hits, path, line) for hits, (_, path, line) in zip(results, tasks)])
        assert mrr["hybrid"] >= mrr["sparse"] and mrr["hybrid"] >= mrr["dense"], (label, mrr)


def test_search_batch_equals_one_search_per_query(retriever):
    queries = ["SequenceMatcher ratio", "parse a date string", "heapq nlargest", "zipfile"]
    for mode in ("hybrid", "dense", "sparse"):
        batch = retriever.search_batch(queries, k=5, mode=mode)
        assert len(batch) == len(queries)
        for query, hits in zip(queries, batch):
            single = retriever.search(query, k=5, mode=mode)
            assert [h.score for h in hits] == pytest.approx([h.score for h in single], rel=1e-5)
            assert hits[0].path == single[0].path
    assert retriever.search_batch([], k=5) == []


def test_a_large_batch_is_answered_in_order(retriever, unique_names):
    names = [name for name, _, _ in unique_names]
    queries = (names * (STORE_BATCH // len(names) + 2))[: STORE_BATCH + 30]
    results = retriever.search_batch(queries, k=3, mode="sparse")
    assert len(results) == len(queries)
    for i in (0, STORE_BATCH - 1, STORE_BATCH, len(queries) - 1):
        assert [h.path for h in results[i]] == [
            h.path for h in retriever.search(queries[i], k=3, mode="sparse")
        ]
        assert queries[i] in results[i][0].text


def test_k_bounds_the_hits(retriever):
    assert len(retriever.search("json decode", k=1)) == 1
    assert len(retriever.search("json decode", k=25)) == 25


def test_filters_restrict_what_is_found(retriever):
    hits = retriever.search("decode a JSON document", k=20, flt=SearchFilter(repos=("json",)))
    assert hits and {h.repo for h in hits} == {"json"}
    assert retriever.search("decode a JSON document", flt=SearchFilter(repos=())) == []
    hits = retriever.search("scan a JSON string", k=20, flt=SearchFilter(path_prefix="json/s"))
    assert hits and {h.path for h in hits} == {"json/scanner.py"}
    assert retriever.search("decode", flt=SearchFilter(languages=("rust",))) == []


def test_the_open_file_can_be_excluded(retriever):
    query = "get_close_matches"
    assert retriever.search(query, k=3)[0].path == "difflib.py"
    hits = retriever.search(query, k=20, flt=SearchFilter(exclude_paths=(("stdlib", "difflib.py"),)))
    assert hits and all(h.path != "difflib.py" for h in hits)


def test_a_huge_query_is_cut_to_its_tail(retriever):
    prefix = (STDLIB / "difflib.py").read_text(encoding="utf-8")  # ~80 KB pasted as a query
    hits = retriever.search(prefix + "\nget_close_matches", k=5, mode="sparse")
    assert hits


@pytest.mark.parametrize(
    ("query", "kwargs", "message"),
    [
        ("", {}, "the query is empty"),
        ("   \n\t", {}, "the query is empty"),
        ("ok", {"k": 0}, "k must be an integer from 1"),
        ("ok", {"k": MAX_K + 1}, "k must be an integer from 1"),
        ("ok", {"k": True}, "k must be an integer"),
        ("ok", {"k": 2.5}, "k must be an integer"),
        ("ok", {"mode": "semantic"}, "unknown search mode 'semantic'"),
        (None, {}, "the query is not text"),
    ],
)
def test_bad_requests_are_query_errors(retriever, query, kwargs, message):
    with pytest.raises(QueryError, match=message):
        retriever.search(query, **kwargs)  # type: ignore[arg-type]


def test_bad_batches_are_query_errors(retriever):
    with pytest.raises(QueryError, match="query 2 is empty"):
        retriever.search_batch(["fine", " "])
    with pytest.raises(QueryError, match="list of queries"):
        retriever.search_batch("a single string")  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore:Local mode performs exact:UserWarning")
def test_the_retriever_works_over_any_store(windows):
    """The same Retriever over qdrant-client's local mode (the server store's code path)."""
    from qdrant_client import QdrantClient

    from indexer.embedding import load_embedder
    from indexer.store.server import ServerStore

    embedder = load_embedder(IndexerSettings())
    store = ServerStore(QdrantClient(":memory:"), "chunks", dim=embedder.dim)
    picked = [w for w in windows if w[0] in ("difflib.py", "textwrap.py", "shlex.py")]
    store.upsert(make_points(picked, embedder, repo="stdlib"))
    retriever = Retriever(embedder, store)
    hits = retriever.search("strip the indentation shared by all lines", k=5)
    assert any(h.path == "textwrap.py" for h in hits)
    assert retriever.search("get_close_matches", mode="sparse")[0].path == "difflib.py"
    store.close()
