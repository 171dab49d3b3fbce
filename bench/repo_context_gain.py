"""What the repository context is worth to the code model, on code it cannot have memorised.

    .venv/bin/python bench/repo_context_gain.py [--tasks 200] [--out bench/results/context_gain.jsonl]

The corpus: the `rich` package as installed here (77 modules nobody on this team wrote), with every name it
defines renamed consistently (bench/renamed_repo.py): `Console` and `render_lines` become pseudo-words, so only
the repository's other files can tell the model what they are. Tasks: lines inside functions that use a name
defined in ANOTHER file of the repository, cut just before that name; the model writes the rest of the line.

Both conditions run the real gateway path, over HTTP: `codemoat`'s app (prompt builder, the engine, the
editor post-processing) on the default code model (Qwen2.5-Coder-1.5B-Instruct Q4_K_M on llama.cpp, greedy),
with the request an editor sends (prefix, suffix, path, repo). "with" is the gateway as shipped (symbols and
hybrid retrieval over the indexed repository, the file's imports and enclosing headers kept); "without" is the
same gateway with symbol lookup and retrieval turned off (the file's own text fills the window). The latency
budget is raised to 1 s so that the context does not depend on how loaded the machine is.

Reports exact match of the rest of the line, edit similarity (1 - Levenshtein / longer length) and the share
of answers that contain the name, each with and without context, and their differences with a paired
bootstrap 95% interval. Each answer is appended to `--out` as it comes: a killed run resumes where it
stopped. The answers are kept in the repository (bench/results/), since 200 tasks take over three hours on 2
cores and one session may not finish them."""

from __future__ import annotations

import argparse
import ast
import asyncio
import io
import json
import random
import shutil
import socket
import sys
import time
import tokenize
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from machine import describe, percentile  # noqa: E402
from renamed_repo import Renamed, make_renamed  # noqa: E402,F401

REPO = "bench"


@dataclass(frozen=True)
class Task:
    id: str
    path: str
    prefix: str
    suffix: str
    target: str
    name: str


def find_tasks(renamed: Renamed, count: int, seed: int = 11, per_file: int = 6) -> list[Task]:
    candidates: list[Task] = []
    for path in sorted(renamed.root.rglob("*.py")):
        rel = str(path.relative_to(renamed.root))
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines(keepends=True)
        offsets = [0]
        for line in lines:
            offsets.append(offsets[-1] + len(line))
        seen_lines: set[int] = set()
        found: list[Task] = []
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
            tree = ast.parse(text)
        except (tokenize.TokenError, SyntaxError):
            continue
        body_lines = {
            n
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            for n in range(node.body[0].lineno, (node.end_lineno or node.body[0].lineno) + 1)
        }
        for tok in tokens:
            row, col = tok.start
            if tok.type != tokenize.NAME or row in seen_lines or row > len(lines) or row not in body_lines:
                continue
            where = renamed.defined_in.get(tok.string)
            line = lines[row - 1]
            if not where or rel in where or not line.startswith((" ", "\t")) or line.lstrip().startswith("#"):
                continue
            target = line[col:].rstrip("\n").rstrip()
            if not 3 <= len(target) <= 100 or '"""' in line or "'''" in line:
                continue
            seen_lines.add(row)
            cut = offsets[row - 1] + col
            found.append(Task(f"{rel}:{row}", rel, text[:cut], text[offsets[row] :], target, tok.string))
        rng = random.Random(f"{seed}:{rel}")
        rng.shuffle(found)
        candidates.extend(found[:per_file])
    random.Random(seed).shuffle(candidates)
    return sorted(candidates[:count], key=lambda t: t.id)


def edit_similarity(a: str, b: str) -> float:
    if not a and not b:
        return 1.0
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return 1 - prev[-1] / max(len(a), len(b))


def bootstrap(diffs: list[float], rounds: int = 5000, seed: int = 3) -> tuple[float, float]:
    rng = random.Random(seed)
    means = sorted(sum(rng.choice(diffs) for _ in diffs) / len(diffs) for _ in range(rounds))
    return means[int(0.025 * rounds)], means[int(0.975 * rounds)]


async def serve(app, sock: socket.socket):  # type: ignore[no-untyped-def]
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    started = asyncio.Event()
    original = server.startup

    async def startup(sockets=None):  # type: ignore[no-untyped-def]
        await original(sockets)
        started.set()

    server.startup = startup  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await started.wait()
    return server, task


async def run(args: argparse.Namespace) -> None:
    import httpx

    from appliance.api.app import create_app
    from appliance.auth.tokens import TokenStore
    from appliance.config import load_settings
    from appliance.engines import BoundedEngine
    from appliance.engines.llama_cpp_engine import LlamaCppEngine
    from appliance.state.db import Database
    from indexer.service import CodeIndex

    work = Path(args.work)
    shutil.rmtree(work / "repo", ignore_errors=True)  # deterministic: the same names every run
    renamed = make_renamed(Path(args.source), work / "repo", seed=7)
    repo_root = renamed.root
    tasks = find_tasks(renamed, args.tasks)
    print(f"{len(tasks)} tasks from {repo_root} ({len(renamed.mapping)} names renamed)", flush=True)

    home = work / "home"
    engine_settings = {"cache_dir": str(work / "models"), "threads": args.threads, "contexts": 1}
    prompt = {"latency_budget_ms": 1000.0}
    with_ctx = load_settings(
        home=home, engine=engine_settings, gateway={"completion_prompt": prompt}, console={"enabled": False}
    )
    without = load_settings(
        home=home,
        engine=engine_settings,
        console={"enabled": False},
        gateway={"completion_prompt": {**prompt, "use_symbols": False, "use_retrieval": False}},
    )
    with CodeIndex.open(with_ctx.indexer, home) as index:
        report = index.index(repo_root, name=REPO)
    print(f"indexed: {report.files} files, {report.total_chunks} chunks", flush=True)
    database = Database.open(with_ctx.state, home)
    token = TokenStore(database).create(f"bench-{int(time.time())}", admin=True).token
    database.close()

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done: dict[tuple[str, str], dict] = {}
    if out.exists():
        for line in out.read_text().splitlines():
            row = json.loads(line)
            done[(row["id"], row["condition"])] = row

    engine = BoundedEngine(LlamaCppEngine(with_ctx.engine, home), max_concurrent=1, max_queue=8)
    await engine.wait_until_ready(900)
    index = CodeIndex.open(with_ctx.indexer, home)
    servers = []
    urls = {}
    label = args.with_label
    for name, settings in ((label, with_ctx), ("without", without)):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        app = create_app(settings, engine=engine, index=index)
        servers.append(await serve(app, sock))
        urls[name] = f"http://127.0.0.1:{sock.getsockname()[1]}"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(headers=headers, timeout=3600) as http:
            for i, task in enumerate(tasks):
                for condition in ("without", label):
                    if (task.id, condition) in done:
                        continue
                    started = time.perf_counter()
                    response = await http.post(
                        f"{urls[condition]}/v1/completions",
                        json={
                            "prompt": task.prefix,
                            "suffix": task.suffix,
                            "max_tokens": args.max_tokens,
                            "temperature": 0,
                            "path": task.path,
                            "repo": REPO,
                            "language": "python",
                        },
                    )
                    response.raise_for_status()
                    data = response.json()
                    text = data["choices"][0]["text"]
                    row = {
                        "id": task.id,
                        "condition": condition,
                        "target": task.target,
                        "name": task.name,
                        "text": text,
                        "exact": text.rstrip() == task.target,
                        "edit_similarity": edit_similarity(text.rstrip(), task.target),
                        "names_it": task.name in text,
                        "context_tokens": data["codemoat"].get("context_tokens"),
                        "prompt_tokens": data["usage"]["prompt_tokens"],
                        "seconds": time.perf_counter() - started,
                    }
                    done[(task.id, condition)] = row
                    with out.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                print(
                    f"[{i + 1}/{len(tasks)}] {task.id}: without={done[(task.id, 'without')]['exact']} "
                    f"{label}={done[(task.id, label)]['exact']}",
                    flush=True,
                )
    finally:
        for server, serving in servers:
            server.should_exit = True
            await serving
        index.close()
        await engine.aclose()
    report_table([asdict(t) for t in tasks], done, label)


def report_table(
    tasks: list[dict], done: dict[tuple[str, str], dict], label: str = "with", base: str = "without"
) -> None:
    """`label` against `base`, paired over the tasks both have answers for."""
    ids = [t["id"] for t in tasks if (t["id"], label) in done and (t["id"], base) in done]
    print(f"\nmachine: {describe()}\nn = {len(ids)} tasks\n")
    print("| | exact match | edit similarity | names the name | prompt tokens p50 | seconds p50 |")
    print("|---|---|---|---|---|---|")
    for condition in (base, label):
        rows = [done[(i, condition)] for i in ids]
        exact = sum(r["exact"] for r in rows)
        print(
            f"| {condition} context | {100 * exact / len(rows):.1f}% ({exact}/{len(rows)}) | "
            f"{sum(r['edit_similarity'] for r in rows) / len(rows):.3f} | "
            f"{100 * sum(r['names_it'] for r in rows) / len(rows):.1f}% | "
            f"{percentile([r['prompt_tokens'] for r in rows], 50):.0f} | "
            f"{percentile([r['seconds'] for r in rows], 50):.1f} |"
        )
    for metric, scale in (("exact", 100), ("edit_similarity", 1), ("names_it", 100)):
        diffs = [scale * (float(done[(i, label)][metric]) - float(done[(i, base)][metric])) for i in ids]
        low, high = bootstrap(diffs)
        print(
            f"{metric}: {label} - {base} = {sum(diffs) / len(diffs):+.2f} (95% CI {low:+.2f} .. {high:+.2f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", default="/tmp/codemoat-context-gain")
    parser.add_argument("--out", default="bench/results/context_gain.jsonl")
    parser.add_argument("--source", default=str(Path(__import__("rich").__file__).parent))
    parser.add_argument("--report", action="store_true", help="Only print the table from --out.")
    parser.add_argument(
        "--with-label",
        default="with",
        help="Record the gateway as shipped under this condition (a later release beside the earlier rows).",
    )
    parser.add_argument("--base", default="without", help="The condition --report compares against.")
    args = parser.parse_args()
    if args.report:
        rows = [json.loads(line) for line in Path(args.out).read_text().splitlines()]
        done = {(r["id"], r["condition"]): r for r in rows}
        report_table(
            [{"id": i} for i in dict.fromkeys(r["id"] for r in rows)], done, args.with_label, args.base
        )
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
