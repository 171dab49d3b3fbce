"""Chat answers grounded in the repository: with retrieval and without, on code the model cannot know.

    .venv/bin/python bench/chat_grounding.py [--questions 30] [--out bench/results/chat_grounding.jsonl]

The repository: the renamed `rich` of bench/repo_context_gain.py, indexed. Questions: for functions and
methods with a docstring, "which function does <the docstring's first line>? Name it and its file", so each
question has one answering file and one symbol, both renamed (unknowable without the repository). Both
conditions go through the real gateway (`/v1/chat/completions`, the default code model on llama.cpp): "with" as
shipped (hybrid retrieval in the caller's scope, sources cited), "without" with no sources.

Reports the share of answers that cite the answering file (its path or name in the answer, or an `[n]` marker
whose source is that file) and the share that name the right symbol. Answers are appended to `--out` as they
come: a killed run resumes."""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import random
import re
import shutil
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from machine import describe, percentile  # noqa: E402
from renamed_repo import Renamed, make_renamed  # noqa: E402
from repo_context_gain import REPO, serve  # noqa: E402


@dataclass(frozen=True)
class Question:
    id: str
    path: str
    symbol: str
    text: str


def questions(renamed: Renamed, count: int, seed: int = 13) -> list[Question]:
    found: list[Question] = []
    for path in sorted(renamed.root.rglob("*.py")):
        rel = str(path.relative_to(renamed.root))
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except SyntaxError:
            continue
        here = []
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.name.startswith("_"):
                continue
            doc = (ast.get_docstring(node) or "").strip().split("\n")[0].strip()
            if len(doc.split()) < 5 or node.name in doc or not doc[:1].isupper():
                continue
            ask = (
                f'In this repository, which function or method does this: "{doc}"? Name it and the file '
                f"it is defined in."
            )
            here.append(Question(f"{rel}:{node.lineno}", rel, node.name, ask))
        if here:
            found.append(random.Random(f"{seed}:{rel}").choice(here))
    random.Random(seed).shuffle(found)
    return sorted(found[:count], key=lambda q: q.id)


def cites(answer: str, citations: list[dict], path: str) -> bool:
    name = Path(path).name
    if path in answer or re.search(rf"\b{re.escape(name)}\b", answer):
        return True
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", answer)}
    return any(c.get("index") in markers and c.get("path") == path for c in citations)


async def ask(http, url: str, question: Question, max_tokens: int) -> tuple[str, list[dict], float]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    response = await http.post(
        f"{url}/v1/chat/completions",
        json={
            "messages": [{"role": "user", "content": question.text}],
            "max_tokens": max_tokens,
            "temperature": 0,
        },
    )
    response.raise_for_status()
    data = response.json()
    citations = (data.get("codemoat") or {}).get("citations") or []
    return data["choices"][0]["message"]["content"] or "", citations, time.perf_counter() - started


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
    shutil.rmtree(work / "repo", ignore_errors=True)
    renamed = make_renamed(Path(args.source), work / "repo", seed=7)
    asked = questions(renamed, args.questions)
    print(f"{len(asked)} questions", flush=True)
    home = work / "home"
    engine_settings = {"cache_dir": str(work / "models"), "threads": args.threads, "contexts": 1}
    with_ctx = load_settings(home=home, engine=engine_settings, console={"enabled": False})
    without = load_settings(
        home=home,
        engine=engine_settings,
        console={"enabled": False},
        gateway={"chat_prompt": {"max_sources": 0, "max_code_queries": 0}},
    )
    with CodeIndex.open(with_ctx.indexer, home) as index:
        index.index(renamed.root, name=REPO)
    database = Database.open(with_ctx.state, home)
    token = TokenStore(database).create(f"bench-{int(time.time())}", admin=True).token
    database.close()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = {}
    if out.exists():
        for line in out.read_text().splitlines():
            row = json.loads(line)
            done[(row["id"], row["condition"])] = row
    engine = BoundedEngine(LlamaCppEngine(with_ctx.engine, home), max_concurrent=1, max_queue=8)
    await engine.wait_until_ready(900)
    index = CodeIndex.open(with_ctx.indexer, home)
    servers, urls = [], {}
    for name, settings in (("with", with_ctx), ("without", without)):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        servers.append(await serve(create_app(settings, engine=engine, index=index), sock))
        urls[name] = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=900) as http:
            for question in asked:
                for condition in ("without", "with"):
                    if (question.id, condition) in done:
                        continue
                    answer, citations, seconds = await ask(http, urls[condition], question, args.max_tokens)
                    row = {
                        "id": question.id,
                        "condition": condition,
                        "path": question.path,
                        "symbol": question.symbol,
                        "answer": answer,
                        "cited": [c.get("path") for c in citations],
                        "cites_file": cites(answer, citations, question.path),
                        "names_symbol": re.search(rf"\b{re.escape(question.symbol)}\b", answer) is not None,
                        "retrieved_file": any(c.get("path") == question.path for c in citations),
                        "seconds": seconds,
                    }
                    done[(question.id, condition)] = row
                    with out.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                    print(
                        f"{question.id} {condition}: file={row['cites_file']} symbol={row['names_symbol']}",
                        flush=True,
                    )
    finally:
        for server, serving in servers:
            server.should_exit = True
            await serving
        index.close()
        await engine.aclose()
    report([q.id for q in asked], done)


def report(ids: list[str], done: dict) -> None:
    ids = [i for i in ids if (i, "with") in done and (i, "without") in done]
    print(f"\nmachine: {describe()}\nn = {len(ids)} questions\n")
    print("| | cites the answering file | names the symbol | sources include the file | seconds p50 |")
    print("|---|---|---|---|---|")
    for condition in ("without", "with"):
        rows = [done[(i, condition)] for i in ids]

        def share(key: str) -> str:
            return f"{100 * sum(r[key] for r in rows) / len(rows):.0f}% ({sum(r[key] for r in rows)})"

        print(
            f"| {condition} retrieval | {share('cites_file')} | {share('names_symbol')} | "
            f"{share('retrieved_file')} | {percentile([r['seconds'] for r in rows], 50):.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=30)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", default="/tmp/codemoat-grounding")
    parser.add_argument("--out", default="bench/results/chat_grounding.jsonl")
    parser.add_argument("--source", default=str(Path(__import__("rich").__file__).parent))
    parser.add_argument("--report", action="store_true")
    args = parser.parse_args()
    if args.report:
        rows = [json.loads(line) for line in Path(args.out).read_text().splitlines()]
        report(list(dict.fromkeys(r["id"] for r in rows)), {(r["id"], r["condition"]): r for r in rows})
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
