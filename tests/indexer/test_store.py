"""One behaviour suite for every `VectorStore`: Qdrant Edge (embedded), qdrant-client's local mode (Qdrant's
query semantics in-process) and a real Qdrant server when CODEMOAT_TEST_QDRANT_URL names one.

The points are real: 40-line windows of CPython standard-library files, embedded by the default embedder and
encoded by the sparse encoder."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from indexer.config import IndexerSettings
from indexer.errors import DataDirError, QueryError, StoreError
from indexer.sparse import encode_document, encode_query
from indexer.store import DEFAULT_FUSION, Fusion, VectorQuery, VectorStore, open_store
from indexer.types import ChunkPoint, SearchFilter, SparseVec

STDLIB = Path(sysconfig.get_paths()["stdlib"])
NO_FILTER = SearchFilter()
SERVER_URL = os.environ.get("CODEMOAT_TEST_QDRANT_URL")

pytestmark = pytest.mark.filterwarnings(
    # qdrant-client's local mode searches exhaustively and says so when given HNSW parameters.
    "ignore:Local mode performs exact:UserWarning"
)


def stdlib_windows(files: list[str], *, lines: int = 40) -> list[tuple[str, int, int, str]]:
    """(path, start_line, end_line, text) windows of real standard-library files, empty ones dropped."""
    out = []
    for rel in files:
        text = (STDLIB / rel).read_text(encoding="utf-8", errors="replace")
        all_lines = text.splitlines(keepends=True)
        for start in range(0, len(all_lines), lines):
            window = "".join(all_lines[start : start + lines])
            if window.strip():
                out.append((rel, start + 1, min(start + lines, len(all_lines)), window))
    return out


def make_points(windows, embedder, *, repo: str, language: str = "python") -> list[ChunkPoint]:
    vectors = embedder.embed_documents([w[3] for w in windows])
    return [
        ChunkPoint(
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{repo}:{path}:{start}")),
            dense=vectors[i],
            sparse=encode_document(text),
            payload={
                "repo": repo,
                "path": path,
                "language": language,
                "start_line": start,
                "end_line": end,
                "symbol": "",
                "content_hash": "h",
                "text": text,
            },
        )
        for i, (path, start, end, text) in enumerate(windows)
    ]


@pytest.fixture(scope="module")
def embedder():
    from indexer.embedding import load_embedder

    return load_embedder(IndexerSettings())


@pytest.fixture(scope="module")
def corpus(embedder) -> dict[str, list[ChunkPoint]]:
    """Two repositories: `lib` (text and data modules) and `net` (networking modules), plus a shell file."""
    lib = make_points(
        stdlib_windows(["difflib.py", "textwrap.py", "shlex.py", "json/decoder.py", "json/encoder.py"]),
        embedder,
        repo="lib",
    )
    net = make_points(stdlib_windows(["ftplib.py", "smtplib.py", "http/cookies.py"]), embedder, repo="net")
    shell = make_points(
        [("scripts/build.sh", 1, 3, "#!/bin/sh\n# build the difflib docs\nmake html\n")],
        embedder,
        repo="lib",
        language="bash",
    )
    return {"lib": lib + shell, "net": net}


# -- the backends --------------------------------------------------------------------------------------------

StoreFactory = Callable[..., VectorStore]


# A factory opens the same store again on every call; `durable=True` asks for one that survives `close()`
# (qdrant-client's local mode persists to disk slowly, so only the tests that reopen ask for it).


def _edge_factory(tmp_path: Path) -> StoreFactory:
    from indexer.store.edge import EdgeStore

    def make(dim: int = 256, durable: bool = False, fusion: Fusion = DEFAULT_FUSION) -> VectorStore:
        return EdgeStore.open(tmp_path / "shard", dim=dim, fusion=fusion)

    return make


def _local_factory(tmp_path: Path) -> StoreFactory:
    from qdrant_client import QdrantClient

    from indexer.store.server import ServerStore

    def make(dim: int = 256, durable: bool = False, fusion: Fusion = DEFAULT_FUSION) -> VectorStore:
        client = QdrantClient(path=str(tmp_path / "qdrant-local")) if durable else QdrantClient(":memory:")
        return ServerStore(client, "chunks", dim=dim, where="qdrant-client local mode", fusion=fusion)

    return make


def _server_factory(tmp_path: Path) -> StoreFactory:
    from indexer.store.server import ServerStore

    collection = f"codemoat_test_{uuid.uuid4().hex[:12]}"

    def make(dim: int = 256, durable: bool = False, fusion: Fusion = DEFAULT_FUSION) -> VectorStore:
        return ServerStore.connect(SERVER_URL, collection=collection, dim=dim, fusion=fusion)  # type: ignore[arg-type]

    return make


BACKENDS = [
    pytest.param(_edge_factory, id="edge"),
    pytest.param(_local_factory, id="client-local"),
    pytest.param(
        _server_factory,
        id="server",
        marks=[
            pytest.mark.qdrant_server,
            pytest.mark.skipif(
                not SERVER_URL,
                reason="CODEMOAT_TEST_QDRANT_URL is not set: no Qdrant server "
                "to run the server-store tests against",
            ),
        ],
    ),
]


@pytest.fixture(params=BACKENDS)
def factory(request, tmp_path: Path) -> Iterator[StoreFactory]:
    make = request.param(tmp_path)
    yield make
    if request.node.callspec.id == "server":  # leave the test server clean
        from qdrant_client import QdrantClient

        client = QdrantClient(url=SERVER_URL, check_compatibility=False)
        for c in client.get_collections().collections:
            if c.name.startswith("codemoat_test_"):
                client.delete_collection(c.name)
        client.close()


@pytest.fixture
def store(factory, corpus) -> Iterator[VectorStore]:
    s = factory()
    s.upsert(corpus["lib"])
    s.upsert(corpus["net"])
    s.flush()
    yield s
    s.close()


def _query(store: VectorStore, embedder, text: str, *, mode="hybrid", k=10, flt=NO_FILTER):
    dense = embedder.embed_queries([text])[0] if mode != "sparse" else None
    sparse = encode_query(text) if mode != "dense" else None
    return store.query(dense=dense, sparse=sparse, mode=mode, k=k, flt=flt)


# -- the suite -----------------------------------------------------------------------------------------------


def test_count_and_point_ids_per_repository(store, corpus):
    assert store.count() == len(corpus["lib"]) + len(corpus["net"])
    assert store.count("lib") == len(corpus["lib"])
    assert store.count("nope") == 0
    assert set(store.point_ids("net")) == {p.id for p in corpus["net"]}
    assert list(store.point_ids("nope")) == []


def test_every_mode_finds_an_exact_identifier(store, embedder):
    sparse = _query(store, embedder, "get_close_matches", mode="sparse", k=5)
    # BM25: the window that mentions the name most often comes first, the definition close behind.
    assert sparse[0].text.count("get_close_matches") == max(h.text.count("get_close_matches") for h in sparse)
    assert any("def get_close_matches" in h.text for h in sparse[:3])
    hybrid = _query(store, embedder, "get_close_matches", mode="hybrid", k=5)
    assert any("def get_close_matches" in h.text for h in hybrid)
    assert all(h.path == "difflib.py" for h in hybrid[:3])
    dense = _query(store, embedder, "send an email message through an SMTP server", mode="dense", k=10)
    assert any(h.path == "smtplib.py" for h in dense)
    hit = dense[0]
    assert (
        hit.repo in ("lib", "net") and hit.language and hit.start_line >= 1 and hit.end_line >= hit.start_line
    )
    assert hit.text and isinstance(hit.score, float)


def test_hits_carry_payload_and_come_best_first(store, embedder):
    hits = _query(store, embedder, "SequenceMatcher ratio", mode="sparse", k=8)
    assert len(hits) == 8
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    top = hits[0]
    source = (STDLIB / top.path).read_text(encoding="utf-8").splitlines(keepends=True)
    assert "".join(source[top.start_line - 1 : top.end_line]) == top.text


def test_k_limits_the_number_of_hits(store, embedder):
    assert len(_query(store, embedder, "json", k=3)) == 3
    assert len(_query(store, embedder, "json", k=1, mode="dense")) == 1


def test_repository_filter(store, embedder):
    hits = _query(store, embedder, "quote a string", k=20, flt=SearchFilter(repos=("net",)))
    assert hits and {h.repo for h in hits} == {"net"}
    both = _query(store, embedder, "quote a string", k=50, flt=SearchFilter(repos=("net", "lib")))
    assert {h.repo for h in both} == {"net", "lib"}


def test_empty_repository_list_means_no_access(store, embedder):
    for mode in ("hybrid", "dense", "sparse"):
        assert _query(store, embedder, "get_close_matches", mode=mode, flt=SearchFilter(repos=())) == []


def test_language_filter(store, embedder):
    hits = _query(store, embedder, "build the difflib docs", k=10, flt=SearchFilter(languages=("bash",)))
    assert [h.path for h in hits] == ["scripts/build.sh"]
    hits = _query(store, embedder, "build the difflib docs", k=10, flt=SearchFilter(languages=("python",)))
    assert hits and all(h.language == "python" for h in hits)


def test_path_prefix_filter(store, embedder):
    for mode in ("hybrid", "dense", "sparse"):
        hits = _query(
            store, embedder, "decode a JSON document", mode=mode, k=20, flt=SearchFilter(path_prefix="json/")
        )
        assert hits and all(h.path.startswith("json/") for h in hits), mode
    assert _query(store, embedder, "decode", flt=SearchFilter(path_prefix="nowhere/")) == []


def test_exclude_paths_drops_only_that_file_of_that_repository(store, embedder):
    query = "get_close_matches"
    assert _query(store, embedder, query, mode="sparse")[0].path == "difflib.py"
    hits = _query(
        store, embedder, query, mode="sparse", k=30, flt=SearchFilter(exclude_paths=(("lib", "difflib.py"),))
    )
    assert all(h.path != "difflib.py" for h in hits)
    # The same path in another repository is not excluded.
    hits = _query(
        store, embedder, query, mode="sparse", flt=SearchFilter(exclude_paths=(("net", "difflib.py"),))
    )
    assert hits[0].path == "difflib.py"


def test_filters_combine(store, embedder):
    flt = SearchFilter(
        repos=("lib",),
        languages=("python",),
        path_prefix="json/",
        exclude_paths=(("lib", "json/decoder.py"),),
    )
    hits = _query(store, embedder, "decode a JSON document", k=30, flt=flt)
    assert hits and {h.path for h in hits} == {"json/encoder.py"}


def test_delete_removes_points_from_count_ids_and_results(store, embedder, corpus):
    doomed = [p for p in corpus["lib"] if p.payload["path"] == "difflib.py"]
    store.delete([p.id for p in doomed])
    store.flush()
    assert store.count("lib") == len(corpus["lib"]) - len(doomed)
    assert not {p.id for p in doomed} & set(store.point_ids("lib"))
    assert all(h.path != "difflib.py" for h in _query(store, embedder, "get_close_matches", k=20))
    store.delete([])  # nothing to do is not an error
    store.delete([doomed[0].id])  # deleting an absent id is not an error either


def test_reupserting_the_same_ids_is_idempotent_and_replaces_payload(store, corpus):
    before = store.count()
    store.upsert(corpus["lib"])
    assert store.count() == before
    changed = [ChunkPoint(p.id, p.dense, p.sparse, {**p.payload, "repo": "moved"}) for p in corpus["net"][:5]]
    store.upsert(changed)
    assert store.count() == before
    assert set(store.point_ids("moved")) == {p.id for p in changed}
    assert store.count("net") == len(corpus["net"]) - 5


def test_data_survives_close_and_reopen(factory, corpus, embedder):
    first = factory(durable=True)
    first.upsert(corpus["net"])
    first.flush()
    first.close()
    again = factory(durable=True)
    try:
        assert again.count() == len(corpus["net"])
        assert _query(again, embedder, "SMTP", mode="sparse")[0].path == "smtplib.py"
    finally:
        again.close()


def test_reopening_with_another_dimension_is_a_schema_error(factory, corpus):
    first = factory(dim=256, durable=True)
    first.upsert(corpus["net"][:3])
    first.close()
    with pytest.raises(StoreError, match="schema"):
        factory(dim=128, durable=True)


def test_a_closed_store_refuses_work(factory):
    s = factory()
    s.close()
    s.close()  # closing twice is harmless
    with pytest.raises(StoreError, match="closed"):
        s.count()


def test_bad_queries_are_query_errors(store, embedder):
    dense = embedder.embed_queries(["x"])[0]
    sparse = encode_query("x")
    with pytest.raises(QueryError, match="mode"):
        store.query(dense=dense, sparse=sparse, mode="fuzzy", k=5, flt=SearchFilter())  # type: ignore[arg-type]
    with pytest.raises(QueryError, match="k must be"):
        store.query(dense=dense, sparse=sparse, mode="hybrid", k=0, flt=SearchFilter())
    with pytest.raises(QueryError, match="dense query vector"):
        store.query(dense=None, sparse=sparse, mode="hybrid", k=5, flt=SearchFilter())
    with pytest.raises(QueryError, match="sparse query vector"):
        store.query(dense=dense, sparse=None, mode="sparse", k=5, flt=SearchFilter())


def test_a_query_without_lexical_terms_finds_nothing_lexically_but_hybrid_still_answers(store, embedder):
    empty = SparseVec((), ())
    dense = embedder.embed_queries(["+-*/"])[0]
    assert store.query(dense=None, sparse=empty, mode="sparse", k=5, flt=SearchFilter()) == []
    assert len(store.query(dense=dense, sparse=empty, mode="hybrid", k=5, flt=SearchFilter())) == 5


def test_query_batch_matches_single_queries(store, embedder):
    texts = ["get_close_matches", "SMTP login", "wrap text to a width", "shell-like syntax"]
    dense = embedder.embed_queries(texts)
    batch = store.query_batch(
        [VectorQuery(dense[i], encode_query(t)) for i, t in enumerate(texts)],
        mode="hybrid",
        k=5,
        flt=SearchFilter(repos=("lib", "net")),
    )
    assert len(batch) == len(texts)
    for i, text in enumerate(texts):
        single = store.query(
            dense=dense[i],
            sparse=encode_query(text),
            mode="hybrid",
            k=5,
            flt=SearchFilter(repos=("lib", "net")),
        )
        assert {(h.path, h.start_line) for h in batch[i]} == {(h.path, h.start_line) for h in single}
    assert store.query_batch(
        [VectorQuery(dense[0], None)], mode="dense", k=3, flt=SearchFilter(repos=())
    ) == [[]]
    assert store.query_batch([], mode="dense", k=3, flt=SearchFilter()) == []


def test_fusion_weights_decide_which_list_orders_the_hybrid_result(factory, corpus, embedder):
    queries = ["SequenceMatcher ratio", "send mail through an SMTP server", "decode JSON"]
    for favoured in ("sparse", "dense"):
        weights = {"dense_weight": 1000.0, "sparse_weight": 1.0}
        if favoured == "sparse":
            weights = {"dense_weight": 1.0, "sparse_weight": 1000.0}
        s = factory(fusion=Fusion(k=1, **weights))
        try:
            s.upsert(corpus["lib"] + corpus["net"])
            for text in queries:
                alone = _query(s, embedder, text, mode=favoured, k=5)
                fused = _query(s, embedder, text, mode="hybrid", k=5)
                assert [(h.path, h.start_line) for h in fused][:3] == [(h.path, h.start_line) for h in alone][
                    :3
                ]
        finally:
            s.close()
    dbsf = factory(fusion=Fusion(method="dbsf"))
    try:
        dbsf.upsert(corpus["net"])
        assert len(_query(dbsf, embedder, "SMTP login", mode="hybrid", k=4)) == 4
    finally:
        dbsf.close()


# -- Qdrant Edge specifics -----------------------------------------------------------------------------------


def test_edge_optimize_keeps_results(tmp_path, corpus, embedder):
    from indexer.store.edge import EdgeStore

    s = EdgeStore.open(tmp_path / "shard", dim=256)
    s.upsert(corpus["lib"] + corpus["net"])
    before = [(h.path, h.start_line) for h in _query(s, embedder, "get_close_matches", mode="sparse", k=5)]
    s.optimize()
    s.optimize()  # nothing left to do is fine
    after = [(h.path, h.start_line) for h in _query(s, embedder, "get_close_matches", mode="sparse", k=5)]
    assert after == before
    s.close()


def test_edge_refuses_a_second_open_in_the_same_process(tmp_path):
    from indexer.store.edge import EdgeStore

    first = EdgeStore.open(tmp_path / "shard", dim=256)
    try:
        with pytest.raises(StoreError, match="in use by another process"):
            EdgeStore.open(tmp_path / "shard", dim=256)
        assert first.count() == 0  # the refused open broke nothing
    finally:
        first.close()
    EdgeStore.open(tmp_path / "shard", dim=256).close()  # and once closed, it opens again


def test_edge_refuses_a_shard_held_by_another_process(tmp_path, corpus):
    from indexer.store.edge import EdgeStore

    shard = tmp_path / "shard"
    s = EdgeStore.open(shard, dim=256)
    s.upsert(corpus["net"])
    s.close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys
            from pathlib import Path
            from indexer.store.edge import EdgeStore
            from indexer.types import ChunkPoint, SparseVec
            def write(n):
                s.upsert([ChunkPoint(
                    f"00000000-0000-4000-8000-00000000000{{n}}",
                    [1.0] * 256,
                    SparseVec((3, 7), (0.5, 0.25)),
                    {{"repo": "later", "path": "later.py"}},
                )])
                s.flush()
            s = EdgeStore.open(Path({str(shard)!r}), dim=256)
            write(1)
            print("ready", s.count() - 1, flush=True)
            sys.stdin.readline()
            # The holder goes on writing after the refused open: a refused Qdrant Edge load used to
            # rewrite the sparse tracker journals under it, and this flush then failed.
            write(2)
            s.close()
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().split() == [
            "ready",
            str(len(corpus["net"])),
        ]
        with pytest.raises(StoreError, match="in use by another process"):
            EdgeStore.open(shard, dim=256)
    finally:
        holder.communicate("\n", timeout=60)
    assert holder.returncode == 0
    again = EdgeStore.open(shard, dim=256)
    assert again.count() == len(corpus["net"]) + 2
    again.close()


def test_open_store_defaults_to_edge_under_the_data_directory(tmp_path):
    settings = IndexerSettings()
    paths = settings.data_paths(tmp_path / "home")
    s = open_store(settings, paths, dim=256)
    try:
        assert s.count() == 0
        assert paths.shard.is_dir()
    finally:
        s.close()


def test_open_store_reports_an_unusable_data_directory(tmp_path):
    blocker = tmp_path / "home"
    blocker.write_text("a file where the data directory should be")
    settings = IndexerSettings()
    with pytest.raises(DataDirError, match="cannot create the index directory"):
        open_store(settings, settings.data_paths(blocker), dim=256)


def test_open_store_with_an_unreachable_server_is_a_store_error(tmp_path):
    settings = IndexerSettings(qdrant_url="http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(StoreError, match="Qdrant server at http://127.0.0.1:9"):
        open_store(settings, settings.data_paths(tmp_path), dim=256)
    with pytest.raises(StoreError, match="no qdrant_url"):
        open_store(IndexerSettings(store="server"), settings.data_paths(tmp_path), dim=256)
