"""Speed of the indexer's parts, each alone, over the CPython standard library.

    .venv/bin/python bench/indexer_components.py [--repeat 3] [--queries 300]

Corpus: every `.py` file of the installed standard library (≈1,800 files, 31 MB), cut by the cAST chunker
(budget 1,500 non-whitespace characters) as the pipeline does. Measured in one process, side by side:

  sparse   `tokens` over the whole corpus (31 MB); `encode_document` per chunk
  dense    the default embedder's `embed_documents` (words view) and the same model on raw code
  store    Qdrant Edge: upsert, flush, optimize (HNSW build), reopen
  query    `Retriever.search` top-10 per mode, from 1 and 8 threads (p50 / p99), and its parts:
           embedding one query, encoding it for the sparse side, the store query alone

Target (issue 3): p50 ≤ 10 ms, p99 ≤ 30 ms for hybrid top-10 in-process; ≥ 2,000 chunks/s embedding."""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from machine import describe, percentile, stdlib_dir  # noqa: E402

from indexer.chunking import parse_file  # noqa: E402
from indexer.config import IndexerSettings  # noqa: E402
from indexer.embedding import SentenceTransformerEmbedder, load_embedder  # noqa: E402
from indexer.retrieval import Retriever  # noqa: E402
from indexer.sparse import encode_document, encode_query, tokens  # noqa: E402
from indexer.store.edge import EdgeStore  # noqa: E402
from indexer.types import ChunkPoint, SearchFilter  # noqa: E402


def best_of(repeat: int, fn) -> tuple[float, float]:
    """Median (wall, CPU) seconds of `repeat` runs of fn(). CPU time is the steadier figure on a shared
    machine; with several threads it can exceed wall time."""
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def timed(fn) -> tuple[float, float]:
    return best_of(1, fn)


def load_chunks() -> tuple[list[tuple[str, str, int, int, str]], int, list[str]]:
    root = stdlib_dir()
    chunks, total, texts = [], 0, []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("site-packages/"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        total += len(text.encode("utf-8", "surrogatepass"))
        texts.append(text)
        for c in parse_file(text, "python").chunks:
            if c.text.strip():
                chunks.append((rel, c.symbol, c.start_line, c.end_line, c.text))
    return chunks, total, texts


def make_queries(chunks, n: int) -> list[str]:
    """Half identifiers taken from the corpus, half natural-language lines (comments and docstrings)."""
    rng = random.Random(7)
    idents = sorted(
        {m for c in chunks[:: max(1, len(chunks) // 3000)] for m in re.findall(r"\b[a-z_]\w{7,}\b", c[4])}
    )
    prose = sorted(
        {
            line.strip().strip("#\"' ")
            for c in chunks[:: max(1, len(chunks) // 3000)]
            for line in c[4].splitlines()
            if line.strip().startswith(("#", '"""')) and len(line.split()) >= 5
        }
    )
    return rng.sample(idents, n // 2) + rng.sample(prose, n - n // 2)


def latency(fn, queries: list[str], threads: int) -> tuple[float, float, float, float]:
    """(p50 ms, p99 ms, queries/s, p50 CPU ms) with `threads` callers each running all queries. The CPU
    figure (process CPU time per query, all threads) is only taken with one caller: on a loaded machine it
    is what the query would cost with the cores to itself."""
    samples: list[float] = []
    cpu: list[float] = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        mine, mine_cpu = [], []
        for i in range(len(queries)):
            q = queries[(i + offset) % len(queries)]
            t, c = time.perf_counter(), time.process_time()
            fn(q)
            mine.append(time.perf_counter() - t)
            mine_cpu.append(time.process_time() - c)
        with lock:
            samples.extend(mine)
            cpu.extend(mine_cpu)

    pool = [threading.Thread(target=worker, args=(i * 37,)) for i in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.perf_counter() - start
    cpu_p50 = percentile(cpu, 50) * 1e3 if threads == 1 else float("nan")
    return percentile(samples, 50) * 1e3, percentile(samples, 99) * 1e3, len(samples) / wall, cpu_p50


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()

    chunks, corpus_bytes, texts = load_chunks()
    texts_for_vectors = [f"{c[0]} {c[1]}".strip() + "\n" + c[4] for c in chunks]  # what the pipeline embeds
    print(f"Machine: {describe()}")
    print(f"Corpus: {len(texts)} files, {corpus_bytes / 1e6:.1f} MB, {len(chunks)} cAST chunks")
    print("Load average at start: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    print()

    # -- sparse ------------------------------------------------------------------------------------------------
    t_tokens = best_of(args.repeat, lambda: [tokens(t) for t in texts])
    t_sparse = best_of(args.repeat, lambda: [encode_document(t) for t in texts_for_vectors])
    sparse = [encode_document(t) for t in texts_for_vectors]

    # -- dense -------------------------------------------------------------------------------------------------
    embedder = load_embedder(IndexerSettings())
    raw = SentenceTransformerEmbedder(embedder._model, name="raw")  # type: ignore[attr-defined]
    sample = texts_for_vectors[:: max(1, len(texts_for_vectors) // 6000)]
    t_dense = best_of(args.repeat, lambda: embedder.embed_documents(sample))
    t_raw = best_of(args.repeat, lambda: raw.embed_documents(sample))
    vectors = embedder.embed_documents(texts_for_vectors)

    tmp = Path(tempfile.mkdtemp(prefix="components-"))
    points = [
        ChunkPoint(
            str(uuid.uuid4()),
            vectors[i],
            sparse[i],
            {
                "repo": "stdlib",
                "path": c[0],
                "language": "python",
                "start_line": c[2],
                "end_line": c[3],
                "symbol": c[1],
                "content_hash": "",
                "text": c[4],
            },
        )
        for i, c in enumerate(chunks)
    ]
    store = EdgeStore.open(tmp / "shard", dim=embedder.dim)
    t_upsert = timed(lambda: (store.upsert(points), store.flush()))
    t_optimize = timed(store.optimize)
    store.close()
    holder: list[EdgeStore] = []
    t_reopen = timed(lambda: holder.append(EdgeStore.open(tmp / "shard", dim=embedder.dim)))
    store = holder[0]

    n, k = len(chunks), len(sample)
    print(f"| part (median of {args.repeat}) | wall | CPU | rate by wall (by CPU) |")
    print("|---|---|---|---|")
    print(
        f"| sparse `tokens`, whole corpus | {t_tokens[0]:.2f} s | {t_tokens[1]:.2f} s | "
        f"{corpus_bytes / 1e6 / t_tokens[0]:.1f} ({corpus_bytes / 1e6 / t_tokens[1]:.1f}) MB/s |"
    )
    print(
        f"| sparse `encode_document`, {n:,} chunks | {t_sparse[0]:.2f} s | {t_sparse[1]:.2f} s | "
        f"{n / t_sparse[0]:,.0f} ({n / t_sparse[1]:,.0f}) chunks/s |"
    )
    print(
        f"| dense `embed_documents` (words view, default), {k:,} chunks | {t_dense[0]:.2f} s | "
        f"{t_dense[1]:.2f} s | {k / t_dense[0]:,.0f} ({k / t_dense[1]:,.0f}) chunks/s |"
    )
    print(
        f"| dense, same model on raw code | {t_raw[0]:.2f} s | {t_raw[1]:.2f} s | "
        f"{k / t_raw[0]:,.0f} ({k / t_raw[1]:,.0f}) chunks/s |"
    )
    print(
        f"| Edge upsert + flush, {n:,} points | {t_upsert[0]:.2f} s | {t_upsert[1]:.2f} s | "
        f"{n / t_upsert[0]:,.0f} points/s |"
    )
    print(f"| Edge optimize (HNSW build) | {t_optimize[0]:.2f} s | {t_optimize[1]:.2f} s | |")
    print(f"| Edge reopen | {t_reopen[0] * 1e3:.0f} ms | {t_reopen[1] * 1e3:.0f} ms | |")

    # -- queries -----------------------------------------------------------------------------------------------
    retriever = Retriever(embedder, store)
    queries = make_queries(chunks, args.queries)
    for q in queries[:20]:
        retriever.search(q)  # warm caches
    q_vec = {q: embedder.embed_queries([q])[0] for q in queries}
    q_sp = {q: encode_query(q) for q in queries}
    parts = {
        "embed one query": lambda q: embedder.embed_queries([q]),
        "sparse-encode one query": lambda q: encode_query(q),
        "store.query hybrid": lambda q: store.query(
            dense=q_vec[q], sparse=q_sp[q], mode="hybrid", k=10, flt=SearchFilter()
        ),
    }
    print()
    print("| query path, top 10 | 1 caller p50 / p99 ms (CPU p50 ms) | 8 callers p50 / p99 ms (queries/s) |")
    print("|---|---|---|")
    for name, fn in parts.items():
        p50, p99, _, cpu = latency(fn, queries, 1)
        print(f"| {name} | {p50:.2f} / {p99:.2f} ({cpu:.2f}) | |")
    for mode in ("hybrid", "dense", "sparse"):
        one = latency(lambda q, m=mode: retriever.search(q, k=10, mode=m), queries, 1)
        eight = latency(lambda q, m=mode: retriever.search(q, k=10, mode=m), queries, 8)
        print(
            f"| `Retriever.search` {mode} | {one[0]:.2f} / {one[1]:.2f} ({one[3]:.2f}) | "
            f"{eight[0]:.2f} / {eight[1]:.2f} "
            f"({eight[2]:,.0f}) |"
        )
    t = time.perf_counter()
    retriever.search_batch(queries, k=10)
    t_batch = time.perf_counter() - t
    print(f"| `search_batch` of {len(queries)} hybrid | {t_batch * 1e3 / len(queries):.2f} ms per query | |")
    store.close()
    shutil.rmtree(tmp, ignore_errors=True)
    print()
    print("Load average at end: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
