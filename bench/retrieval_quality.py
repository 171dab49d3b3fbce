"""Retrieval quality on tasks generated from the CPython standard library itself.

    .venv/bin/python bench/retrieval_quality.py [--queries 400] [--corpus DIR]

(a) docstring → function: the query is the first sentence of a function's docstring; the target is the
    function's code. The docstrings of the sampled functions are REMOVED from the indexed copy (blanked, so line
    numbers stay), otherwise the lexical side would just find the sentence itself.
(b) call site → definition: the query is the lines before and including a call to a function imported from
    another standard-library module, with the callee's name masked; the target is the callee's definition in
    the other module. The calling file is excluded from the results, as the gateway excludes the open file.

A hit is correct when it is in the target file and its lines overlap the target definition. Reports MRR@10,
recall@1 and recall@10 for sparse, dense and hybrid, for the cAST chunker and for plain 40-line windows."""

from __future__ import annotations

import argparse
import ast
import random
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from machine import describe, stdlib_dir  # noqa: E402

from indexer.config import IndexerSettings  # noqa: E402
from indexer.service import CodeIndex  # noqa: E402
from indexer.types import SearchFilter  # noqa: E402

MODES = ("sparse", "dense", "hybrid")


@dataclass(frozen=True)
class Task:
    query: str
    path: str  # target file, relative to the corpus root
    start: int  # target definition lines
    end: int
    exclude: str | None = None  # the query's own file


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
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in defs:
                for alias in node.names:
                    if alias.name in defs[node.module] and node.module != name:
                        imported[alias.asname or alias.name] = (node.module, alias.name)
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
            mod, func = target
            start, end = defs[mod][func]
            candidates.append(Task(masked, mods[mod][0].as_posix(), start, end, exclude=rel.as_posix()))
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


def evaluate(index: CodeIndex, tasks: list[Task], mode: str, repo: str) -> dict[str, float]:
    rr, r1, r10 = [], 0, 0
    plain = [t for t in tasks if t.exclude is None]
    results: dict[int, list] = {}
    if plain:
        batch = index.search_batch([t.query for t in plain], k=10, mode=mode, flt=SearchFilter(repos=(repo,)))  # type: ignore[arg-type]
        ids = [i for i, t in enumerate(tasks) if t.exclude is None]
        results.update(zip(ids, batch))
    for i, t in enumerate(tasks):
        if t.exclude is not None:
            results[i] = index.search(
                t.query,
                k=10,
                mode=mode,  # type: ignore[arg-type]
                flt=SearchFilter(repos=(repo,), exclude_paths=((repo, t.exclude),)),
            )
    for i, t in enumerate(tasks):
        rank = next(
            (
                r
                for r, h in enumerate(results[i], 1)
                if h.path == t.path and h.start_line <= t.end and h.end_line >= t.start
            ),
            None,
        )
        rr.append(1.0 / rank if rank else 0.0)
        r1 += rank == 1
        r10 += rank is not None
    n = max(1, len(tasks))
    return {"mrr@10": sum(rr) / n, "r@1": r1 / n, "r@10": r10 / n}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=stdlib_dir())
    ap.add_argument("--queries", type=int, default=400)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="codemoat-quality-"))
    corpus = tmp / "stdlib"
    shutil.copytree(
        args.corpus, corpus, symlinks=True, ignore=shutil.ignore_patterns("site-packages", "__pycache__")
    )
    rng = random.Random(20261122)
    mods = _modules(corpus)
    tasks = {
        "docstring → function": docstring_tasks(corpus, mods, args.queries, rng),
        "call site → definition": callsite_tasks(corpus, mods, args.queries, rng),
    }
    print(f"machine: {describe()}")
    print("tasks: " + ", ".join(f"{k}: {len(v)}" for k, v in tasks.items()))

    rows = []
    for chunker in ("cast", "lines"):
        settings = IndexerSettings(chunker=chunker)
        t0 = time.perf_counter()
        with CodeIndex.open(settings, tmp / f"home-{chunker}") as index:
            report = index.index(corpus, name="stdlib")
            print(
                f"{chunker}: indexed {report.files} files into {report.total_chunks} chunks "
                f"in {time.perf_counter() - t0:.1f} s"
            )
            for task_name, task_list in tasks.items():
                for mode in MODES:
                    m = evaluate(index, task_list, mode, "stdlib")
                    rows.append((task_name, chunker, mode, m))

    print()
    print("| task | chunker | mode | MRR@10 | recall@1 | recall@10 |")
    print("|---|---|---|---|---|---|")
    for task_name, chunker, mode, m in rows:
        print(f"| {task_name} | {chunker} | {mode} | {m['mrr@10']:.3f} | {m['r@1']:.3f} | {m['r@10']:.3f} |")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
