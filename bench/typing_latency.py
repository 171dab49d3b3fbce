"""Keystroke to suggestion on 2 cores, through the real gateway (HTTP) on the default code model, and chat time
to first token against prompt size.

    .venv/bin/python bench/typing_latency.py [--cursors 12] [--keystrokes 6] [--work DIR]

The repository: the renamed `rich` of bench/repo_context_gain.py, indexed. A typing session: at each of
`--cursors` positions inside functions (a new cursor: a file opened or a jump), the developer types the next
`--keystrokes` characters of the real line one at a time, and every keystroke asks for a completion, as the
editor bridge does with no debounce. Reported separately: latency at a new cursor, latency while typing (the
repository context and the file above the cursor already in the engine's cache), and the prompt tokens the
engine computed per request (the rest came from its cache).

Chat: one streamed request per prompt size (a question with that much code pasted in, no retrieval), time to
first token against `prompt tokens ÷ prompt rate`, the rate measured on a long raw prompt in the same run (the
target is 1.2 × that)."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from machine import describe, percentile  # noqa: E402
from renamed_repo import make_renamed  # noqa: E402
from repo_context_gain import REPO, find_tasks, serve  # noqa: E402


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
    home = work / "home"
    settings = load_settings(
        home=home,
        engine={"cache_dir": str(work / "models"), "threads": args.threads},
        console={"enabled": False},
    )
    with CodeIndex.open(settings.indexer, home) as index:
        index.index(renamed.root, name=REPO)
    database = Database.open(settings.state, home)
    token = TokenStore(database).create(f"bench-{int(time.time())}", admin=True).token
    database.close()
    llama = LlamaCppEngine(settings.engine, home)
    engine = BoundedEngine(llama, max_concurrent=2, max_queue=8)
    await engine.wait_until_ready(900)
    index = CodeIndex.open(settings.indexer, home)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server, serving = await serve(create_app(settings, engine=engine, index=index), sock)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    tasks = [t for t in find_tasks(renamed, 400, seed=5) if len(t.target) > args.keystrokes][: args.cursors]
    rows = []
    try:
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=600
        ) as http:
            for task in tasks:
                for typed in range(args.keystrokes + 1):
                    before = llama.prompt_tokens_computed
                    started = time.perf_counter()
                    response = await http.post(
                        "/v1/completions",
                        json={
                            "prompt": task.prefix + task.target[:typed],
                            "suffix": task.suffix,
                            "max_tokens": 24,
                            "temperature": 0,
                            "path": task.path,
                            "repo": REPO,
                            "language": "python",
                        },
                    )
                    response.raise_for_status()
                    rows.append(
                        {
                            "task": task.id,
                            "typed": typed,
                            "seconds": time.perf_counter() - started,
                            "computed": llama.prompt_tokens_computed - before,
                            "prompt_tokens": response.json()["usage"]["prompt_tokens"],
                        }
                    )
                    print(json.dumps(rows[-1]), flush=True)
            # The prompt rate on this run: one long raw prompt, one token out.
            before = llama.prompt_tokens_computed
            started = time.perf_counter()
            calibrate = await http.post(
                "/v1/completions", json={"prompt": tasks[0].prefix[-6000:], "max_tokens": 1}
            )
            calibrate.raise_for_status()
            rate = (llama.prompt_tokens_computed - before) / (time.perf_counter() - started)
            chat = []
            code = renamed.root / renamed.package / "text.py"
            source = code.read_text() if code.exists() else next(renamed.root.rglob("*.py")).read_text()
            for size in args.chat_sizes:
                pasted = source[: size * 4]
                before = llama.prompt_tokens_computed
                started = time.perf_counter()
                first = None
                async with http.stream(
                    "POST",
                    "/v1/chat/completions",
                    json={
                        "messages": [{"role": "user", "content": f"What does this code do?\n\n{pasted}"}],
                        "max_tokens": 16,
                        "stream": True,
                    },
                ) as streamed:
                    async for line in streamed.aiter_lines():
                        if first is None and line.startswith("data: ") and '"content"' in line:
                            first = time.perf_counter() - started
                chat.append({"prompt_computed": llama.prompt_tokens_computed - before, "ttft": first})
                print(json.dumps(chat[-1]), flush=True)
    finally:
        server.should_exit = True
        await serving
        index.close()
        await engine.aclose()

    new = [r for r in rows if r["typed"] == 0]
    typing = [r for r in rows if r["typed"] > 0]
    print(
        f"\nmachine: {describe()}; {args.threads} threads; {len(tasks)} cursors x {args.keystrokes} keystrokes"
    )
    print("| | requests | latency p50 / p95 s | prompt tokens computed p50 / p95 | prompt tokens p50 |")
    print("|---|---|---|---|---|")
    for label, group in (("new cursor", new), ("while typing", typing)):
        print(
            f"| {label} | {len(group)} | {percentile([r['seconds'] for r in group], 50):.2f} / "
            f"{percentile([r['seconds'] for r in group], 95):.2f} | "
            f"{percentile([r['computed'] for r in group], 50):.0f} / {percentile([r['computed'] for r in group], 95):.0f} | "
            f"{percentile([r['prompt_tokens'] for r in group], 50):.0f} |"
        )
    print(f"\nchat (prompt rate measured on a raw prompt in the same run: {rate:.1f} tokens/s)")
    print("| prompt tokens computed | time to first token s | tokens ÷ rate s | ratio |\n|---|---|---|---|")
    for c in chat:
        expected = c["prompt_computed"] / rate
        print(f"| {c['prompt_computed']} | {c['ttft']:.2f} | {expected:.2f} | {c['ttft'] / expected:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cursors", type=int, default=12)
    parser.add_argument("--keystrokes", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--chat-sizes", type=int, nargs="+", default=[256, 512, 1024, 1536])
    parser.add_argument("--work", default="/tmp/codemoat-typing")
    parser.add_argument("--source", default=str(Path(__import__("rich").__file__).parent))
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
