"""How to fuse dense and sparse results: the study behind `indexer.store.protocol.DEFAULT_FUSION`.

    .venv/bin/python bench/hybrid_fusion.py [--queries 300] [--seed 2]

Corpus: every top-level module of the installed CPython standard library, cut into 40-line windows, embedded
by the default embedder, in Qdrant Edge. Three tasks, generated from the corpus:

  name      the query is a function's name (defined once in the corpus, ≥ 8 characters);
  doc       the query is the first sentence of a function's docstring, the docstring is in the index;
  doc-strip the same queries against a copy of the corpus with every docstring blanked (lines kept).

A hit is correct when its window holds the function's `def` line. Reports MRR@10, recall@1 and recall@10 for
sparse alone, dense alone (with and without the words view of code the default embedder uses), and hybrid
under several fusions, all over the same stores in one run."""

from __future__ import annotations

import argparse
import ast
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from machine import describe, stdlib_dir  # noqa: E402

from indexer.config import IndexerSettings  # noqa: E402
from indexer.embedding import SentenceTransformerEmbedder, load_embedder  # noqa: E402
from indexer.retrieval import Retriever  # noqa: E402
from indexer.sparse import encode_document  # noqa: E402
from indexer.store import Fusion  # noqa: E402
from indexer.store.edge import EdgeStore  # noqa: E402
from indexer.types import ChunkPoint  # noqa: E402

FUSIONS = {
    "RRF k=60, 1:1": Fusion(k=60, dense_weight=1.0, sparse_weight=1.0),
    "RRF k=2, 1:1": Fusion(k=2, dense_weight=1.0, sparse_weight=1.0),
    "DBSF": Fusion(method="dbsf"),
    "RRF k=1, 1:3 (default)": Fusion(),
}


def strip_docstrings(text: str) -> str:
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    for node in ast.walk(tree):
        if (
            not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module))
            or not node.body
        ):
            continue
        first = node.body[0]
        value = getattr(first, "value", None)
        if isinstance(first, ast.Expr) and isinstance(value, ast.Constant) and isinstance(value.value, str):
            for i in range(first.lineno - 1, first.end_lineno or first.lineno):
                lines[i] = "\n"
    return "".join(lines)


def windows(texts: dict[str, str]) -> list[tuple[str, int, int, str]]:
    out = []
    for rel, text in texts.items():
        lines = text.splitlines(keepends=True)
        for start in range(0, len(lines), 40):
            chunk = "".join(lines[start : start + 40])
            if chunk.strip():
                out.append((rel, start + 1, min(start + 40, len(lines)), chunk))
    return out


def build_store(chunks, embedder, root: Path) -> EdgeStore:
    vectors = embedder.embed_documents([c[3] for c in chunks])
    store = EdgeStore.open(root / uuid.uuid4().hex, dim=embedder.dim)
    store.upsert(
        [
            ChunkPoint(
                str(uuid.uuid4()),
                vectors[i],
                encode_document(c[3]),
                {
                    "repo": "stdlib",
                    "path": c[0],
                    "language": "python",
                    "start_line": c[1],
                    "end_line": c[2],
                    "symbol": "",
                    "content_hash": "",
                    "text": c[3],
                },
            )
            for i, c in enumerate(chunks)
        ]
    )
    store.optimize()
    return store


def score(retriever: Retriever, tasks, mode: str) -> tuple[float, float, float]:
    results = retriever.search_batch([t[0] for t in tasks], k=10, mode=mode)
    ranks = []
    for hits, (_, path, line) in zip(results, tasks):
        rank = next(
            (i for i, h in enumerate(hits, 1) if h.path == path and h.start_line <= line <= h.end_line), 0
        )
        ranks.append(rank)
    n = len(ranks)
    return sum(1 / r for r in ranks if r) / n, sum(r == 1 for r in ranks) / n, sum(r > 0 for r in ranks) / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2)
    args = parser.parse_args()

    root = stdlib_dir()
    texts, stripped, defs = {}, {}, []
    for path in sorted(root.glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(text)
            stripped[path.name] = strip_docstrings(text)
        except SyntaxError:
            continue
        texts[path.name] = text
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = (ast.get_docstring(node) or "").strip().split("\n\n")[0].replace("\n", " ")
                defs.append((node.name, path.name, node.lineno, doc.split(". ")[0]))
    defined = Counter(d[0] for d in defs)
    rng = random.Random(args.seed)
    unique = [d for d in defs if defined[d[0]] == 1]
    names = rng.sample([d for d in unique if len(d[0]) >= 8 and not d[0].startswith("test")], args.queries)
    docs = rng.sample([d for d in unique if len(d[3].split()) >= 6], args.queries)
    tasks = {
        "name": [(d[0], d[1], d[2]) for d in names],
        "doc": [(d[3], d[1], d[2]) for d in docs],
        "doc-strip": [(d[3], d[1], d[2]) for d in docs],
    }

    started = time.perf_counter()
    embedder = load_embedder(IndexerSettings())
    raw = SentenceTransformerEmbedder(embedder._model, name="wordllama-raw")  # type: ignore[attr-defined]
    tmp = Path(tempfile.mkdtemp(prefix="fusion-"))
    full_chunks, strip_chunks = windows(texts), windows(stripped)
    stores = {
        "full": build_store(full_chunks, embedder, tmp),
        "strip": build_store(strip_chunks, embedder, tmp),
    }
    raw_stores = {"full": build_store(full_chunks, raw, tmp), "strip": build_store(strip_chunks, raw, tmp)}
    corpus_for = {"name": "full", "doc": "full", "doc-strip": "strip"}

    rows: list[tuple[str, dict[str, tuple[float, float, float]]]] = []
    for label, mode, store_set, emb, fusion in [
        ("sparse", "sparse", stores, embedder, None),
        ("dense, raw code", "dense", raw_stores, raw, None),
        ("dense, words view (default)", "dense", stores, embedder, None),
        *[(f"hybrid, {name}", "hybrid", stores, embedder, f) for name, f in FUSIONS.items()],
    ]:
        row = {}
        for task, items in tasks.items():
            store = store_set[corpus_for[task]]
            if fusion is not None:
                store.fusion = fusion
            row[task] = score(Retriever(emb, store), items, mode)
        rows.append((label, row))
    for s in (*stores.values(), *raw_stores.values()):
        s.close()

    print(f"Machine: {describe()}")
    print(
        f"Corpus: {len(texts)} top-level stdlib modules, {len(full_chunks)} 40-line windows; "
        f"{args.queries} queries per task, seed {args.seed}; {time.perf_counter() - started:.0f} s"
    )
    print()
    print("| MRR@10 / R@1 / R@10 | " + " | ".join(tasks) + " |")
    print("|---|" + "---|" * len(tasks))
    for label, row in rows:
        cells = " | ".join("{:.3f} / {:.2f} / {:.2f}".format(*row[t]) for t in tasks)
        print(f"| {label} | {cells} |")


if __name__ == "__main__":
    main()
