"""Completion quality with and without repository context, on the CPython standard library.

    .venv/bin/python bench/completion_quality.py [--home DIR] [--tasks 40] [--context-length 1024]

Tasks: in standard-library functions, a line that calls a function or class imported from ANOTHER standard-
library module (`from json.decoder import scanstring` … `scanstring(s, end)`, or `os.path.join(…)` through
`import os`) is cut at the start of the call (`--cut call`, the callee's name unseen: only retrieval can help)
or after `callee(` (`--cut args`: the symbol table can find the definition); the model writes the rest. The file itself is
excluded from retrieval (the gateway excludes the open file), so the callee's definition can only come from
the symbol table or from retrieval over the other modules.

Both conditions run the real pipeline: `build_completion_prompt` (SmolLM2 prefix-only family, the engine's own
tokenizer), the embedded CPU engine (SmolLM2-135M-Instruct, greedy), `postprocess_completion`. "without" gets
no context source, so the file's prefix fills the whole budget; "with" gets the stdlib `CodeIndex`.

Reports, side by side: exact match of the line's rest, edit similarity (1 − Levenshtein / longer length), the
share of completions naming the callee, prompt building time (p50/p99, the context stages included) and
generation time. The CPU model is tiny: the ratio between the conditions is what matters."""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import random
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from machine import describe, percentile, stdlib_dir  # noqa: E402

from appliance.engines.config import EngineSettings  # noqa: E402
from appliance.engines.protocol import GenerationRequest  # noqa: E402
from appliance.engines.transformers_engine import TransformersEngine  # noqa: E402
from appliance.prompts import (  # noqa: E402
    CompletionSettings,
    CursorContext,
    build_completion_prompt,
    cached_counter,
    get_family,
    postprocess_completion,
)
from indexer.config import IndexerSettings  # noqa: E402
from indexer.service import CodeIndex  # noqa: E402
from indexer.types import SearchFilter  # noqa: E402

REPO = "stdlib"


@dataclass(frozen=True)
class Task:
    path: str  # relative to the stdlib root, as indexed
    prefix: str
    suffix: str
    target: str  # the rest of the line from the call on
    callee: str


def _is_test(rel: Path) -> bool:
    return any(
        part.startswith("test") or part in {"idle_test", "tests", "site-packages"} for part in rel.parts
    )


def _module_files(corpus: Path) -> dict[str, Path]:
    """Dotted module name → file, for the standard library's own modules."""
    out: dict[str, Path] = {}
    for path in corpus.rglob("*.py"):
        rel = path.relative_to(corpus)
        if _is_test(rel):
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts:
            out[".".join(parts)] = path
    return out


def _top_level_defs(path: Path, cache: dict[Path, set[str]]) -> set[str]:
    if path not in cache:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            tree = ast.Module(body=[], type_ignores=[])
        cache[path] = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    return cache[path]


def make_tasks(corpus: Path, count: int, seed: int, cut: str = "call") -> list[Task]:
    modules = _module_files(corpus)
    defs_cache: dict[Path, set[str]] = {}
    candidates: list[Task] = []
    for module, path in sorted(modules.items()):
        try:
            text = path.read_text(encoding="utf-8")
            tree = ast.parse(text)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        lines = text.split("\n")
        names: dict[str, str] = {}  # local name → defining module, for `from m import f`
        aliases: dict[str, str] = {}  # local name → module, for `import m`
        for node in tree.body:
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.level == 0
                and node.module in modules
            ):
                for alias in node.names:
                    if alias.name in _top_level_defs(modules[node.module], defs_cache):
                        names[alias.asname or alias.name] = node.module
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in modules and alias.name != module:
                        aliases[alias.asname or alias.name] = alias.name
        file_tasks: list[Task] = []
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for call in ast.walk(fn):
                if not isinstance(call, ast.Call) or call.lineno != call.end_lineno:
                    continue
                func = call.func
                callee = None
                if isinstance(func, ast.Name) and func.id in names:
                    callee = func.id
                elif (
                    isinstance(func, ast.Attribute)
                    and isinstance(func.value, ast.Name)
                    and func.value.id in aliases
                    and func.attr in _top_level_defs(modules[aliases[func.value.id]], defs_cache)
                ):
                    callee = func.attr
                if callee is None:
                    continue
                line = lines[call.lineno - 1]
                col = len(line.encode("utf-8")[: call.col_offset].decode("utf-8", "replace"))
                if cut == "args":  # the user has typed `callee(`: the rest is the arguments
                    opening = line.find(callee + "(", col)
                    if opening < 0:
                        continue
                    col = opening + len(callee) + 1
                target = line[col:].rstrip()
                if len(target) < (3 if cut == "args" else 8) or call.lineno < 20:
                    continue
                offset = sum(len(before) + 1 for before in lines[: call.lineno - 1])
                prefix = text[: offset + col]
                suffix = text[offset + len(line) :]
                rel = path.relative_to(corpus).as_posix()
                file_tasks.append(Task(rel, prefix, suffix, target, callee))
        if file_tasks:
            candidates.append(random.Random(f"{seed}:{module}").choice(file_tasks))
    random.Random(seed).shuffle(candidates)
    return candidates[:count]


def edit_similarity(a: str, b: str) -> float:
    if not a and not b:
        return 1.0
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return 1 - previous[-1] / max(len(a), len(b))


async def run(args: argparse.Namespace) -> None:
    corpus = stdlib_dir()
    home = args.home or Path(tempfile.mkdtemp(prefix="codemoat-quality-"))
    index = CodeIndex.open(IndexerSettings(), home)
    if REPO not in {r.name for r in index.repositories()}:
        t = time.perf_counter()
        report = index.index(corpus, name=REPO)
        print(
            f"indexed {report.files} files, {report.total_chunks} chunks in {time.perf_counter() - t:.0f} s",
            file=sys.stderr,
        )
    index.search("warm up the embedder", k=1, flt=SearchFilter(repos=(REPO,)))
    tasks = make_tasks(corpus, args.tasks, args.seed, args.cut)
    engine = TransformersEngine(
        EngineSettings(kind="transformers", model="smollm2-135m", threads=args.threads), home
    )
    await engine.wait_until_ready()
    count = cached_counter(engine.count_tokens)  # as the gateway wires it
    family = get_family("smollm2")
    settings = CompletionSettings(latency_budget_ms=args.latency_budget_ms)
    scope = SearchFilter(repos=(REPO,))
    rows: dict[str, list[dict[str, object]]] = {"without": [], "with": []}
    for n, task in enumerate(tasks, 1):
        request = CursorContext(
            prefix=task.prefix, suffix=task.suffix, path=task.path, language="python", repo=REPO, scope=scope
        )
        for condition, source in (("without", None), ("with", index)):
            t = time.perf_counter()
            built = await build_completion_prompt(
                request,
                family=family,
                count_tokens=count,
                context_length=args.context_length,
                max_tokens=args.max_tokens,
                source=source,
                settings=settings,
            )
            build_ms = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            raw = ""
            async for chunk in engine.stream(
                GenerationRequest(prompt=built.prompt, max_tokens=args.max_tokens, stop=built.stop)
            ):
                raw += chunk.text
            gen_s = time.perf_counter() - t
            out = postprocess_completion(
                raw,
                prefix=built.prefix,
                suffix=task.suffix,
                language="python",
                mode=built.mode,
                stop=built.stop,
            )
            got = out.split("\n", 1)[0].strip()
            stages = {s.name: s for s in built.stages}
            rows[condition].append(
                {
                    "path": task.path,
                    "target": task.target,
                    "got": got,
                    "exact": got == task.target.strip(),
                    "edit_similarity": edit_similarity(got, task.target.strip()),
                    "names_callee": task.callee in got,
                    "build_ms": build_ms,
                    "generate_s": gen_s,
                    "prompt_tokens": built.prompt_tokens,
                    "context_tokens": built.context_tokens,
                    "snippets": len(built.snippets),
                    "definition_found": bool(
                        re.search(
                            rf"\b(?:def|class) {re.escape(task.callee)}\b",
                            built.prompt[: built.prompt.rfind(built.prefix)],
                        )
                    ),
                    "retrieval_ms": stages["retrieval"].ms if "retrieval" in stages else None,
                    "symbols_ms": stages["symbols"].ms if "symbols" in stages else None,
                }
            )
        print(
            f"[{n}/{len(tasks)}] {task.path}: {task.target!r} | without {rows['without'][-1]['got']!r} | "
            f"with {rows['with'][-1]['got']!r}",
            file=sys.stderr,
        )
        if args.out:  # after every task: a long run on a busy machine still leaves its results
            args.out.write_text(
                json.dumps(
                    {"args": vars(args) | {"home": str(args.home), "out": str(args.out)}, "rows": rows},
                    indent=1,
                )
            )
    await engine.aclose()
    index.close()
    print(report_markdown(rows, args))


def report_markdown(rows: dict[str, list[dict[str, object]]], args: argparse.Namespace) -> str:
    def col(condition: str, key: str) -> list[float]:
        return [float(r[key]) for r in rows[condition] if r[key] is not None]  # type: ignore[arg-type]

    lines = [
        f"Machine: {describe()}. {len(rows['with'])} of {args.tasks} tasks, SmolLM2-135M-Instruct (GGUF Q4_1 → fp32, greedy, "
        f"{args.threads} threads), context {args.context_length} tokens, max_tokens {args.max_tokens}, "
        f"latency budget {args.latency_budget_ms:.0f} ms. `python bench/completion_quality.py --cut {args.cut} "
        f"--tasks {args.tasks} --seed {args.seed} --context-length {args.context_length} --max-tokens {args.max_tokens} "
        f"--latency-budget-ms {args.latency_budget_ms:.0f}`",
        "",
        "| | exact match | edit similarity | names the callee | callee's definition in prompt "
        "| prompt build p50 / p99 ms | generation p50 s | prompt tokens p50 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for condition in ("without", "with"):
        n = len(rows[condition]) or 1
        lines.append(
            f"| {condition} context | {sum(col(condition, 'exact')) / n:.1%} "
            f"| {statistics.mean(col(condition, 'edit_similarity') or [0]):.3f} "
            f"| {sum(col(condition, 'names_callee')) / n:.1%} "
            f"| {sum(col(condition, 'definition_found')) / n:.1%} "
            f"| {percentile(col(condition, 'build_ms'), 50):.1f} / {percentile(col(condition, 'build_ms'), 99):.1f} "
            f"| {percentile(col(condition, 'generate_s'), 50):.2f} "
            f"| {percentile(col(condition, 'prompt_tokens'), 50):.0f} |"
        )
    sym, ret = col("with", "symbols_ms"), col("with", "retrieval_ms")
    lines += [
        "",
        f"Context stages (with): symbol lookup p50 {percentile(sym, 50):.1f} ms / p99 "
        f"{percentile(sym, 99):.1f} ms; hybrid retrieval p50 {percentile(ret, 50):.1f} ms / p99 "
        f"{percentile(ret, 99):.1f} ms (side by side, in worker threads).",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, help="data directory; reuses its `stdlib` index if present")
    ap.add_argument("--tasks", type=int, default=40)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--cut",
        choices=("call", "args"),
        default="call",
        help="call: mask the line from the call on; args: the callee's name and `(` are typed",
    )
    ap.add_argument("--context-length", type=int, default=1024)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--latency-budget-ms", type=float, default=60.0)
    ap.add_argument("--out", type=Path, help="write every task's rows as JSON (rewritten after each task)")
    ap.add_argument("--report", type=Path, help="only print the table for rows saved by --out")
    args = ap.parse_args()
    if args.report:
        saved = json.loads(args.report.read_text())
        print(report_markdown(saved["rows"], argparse.Namespace(**saved["args"])))
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
