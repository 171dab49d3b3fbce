"""A replayed typing session through the bridge: end-to-end keystroke → suggestion latency on the CPU engine,
and how many suggestions the cache serves.

A real standard-library function, `shlex.quote`, is typed
character by character into a file that already holds the rest of its module, with human delays: 60–160 ms
between characters inside a word, 150–350 ms after punctuation or a space, 400–900 ms after a newline
(seeded, so every run types the same way). At the start of each new line the typist stops until the
suggestion arrives (a developer reading it; `--no-pause` types straight through). Like VS Code, the client asks for an inline completion
(trigger kind Automatic) after every keystroke and cancels (`$/cancelRequest`) the previous request if it is
still open. The bridge debounces, supersedes, caches and asks the appliance.

Counted: keystrokes, requests the editor made, requests sent to the appliance, suggestions served from the
cache, suggestions shown (non-empty answers that arrived), and for shown suggestions the latency from the
keystroke to the answer.

    .venv/bin/python bench/lsp_typing.py [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lsprotocol import types  # noqa: E402

from tests.lsp.harness import start_appliance, start_bridge  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def session_text() -> tuple[str, str, str]:
    """(text before, text after, the text typed between them): shlex with quote() taken out."""
    import shlex

    module = inspect.getsource(shlex)
    function = inspect.getsource(shlex.quote)
    before, _, after = module.partition(function)
    return before, after, function


def delay(previous: str, rng: random.Random) -> float:
    if previous == "\n":
        return rng.uniform(0.4, 0.9)
    if not (previous.isalnum() or previous == "_"):
        return rng.uniform(0.15, 0.35)
    return rng.uniform(0.06, 0.16)


async def run(seed: int, limit: int | None, pause_for_suggestions: bool) -> None:
    rng = random.Random(seed)
    before, after, typed = session_text()
    if limit:
        typed = typed[:limit]
    initial = before + after
    line = before.count("\n")
    character = len(before) - (before.rfind("\n") + 1)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "project"
        root.mkdir()
        appliance = start_appliance(Path(scratch) / "home")
        try:
            bridge = await start_bridge(
                root,
                init_options={
                    "url": appliance.url,
                    "token": appliance.token,
                    "maxTokens": 16,
                    "timeoutMs": 120000,
                    "prefixChars": 1000,
                    "suffixChars": 300,
                },
            )
            uri = (root / "shlex.py").as_uri()
            bridge.open(uri, initial)
            client = bridge.client
            pending: asyncio.Future | None = None
            pending_id: str | None = None
            latencies: list[float] = []
            answers: list[asyncio.Task] = []
            requests = 0

            async def await_answer(future: asyncio.Future, sent_at: float) -> None:
                try:
                    result = await future
                except Exception:  # cancelled by the client (the next keystroke)
                    return
                if result is not None and result.items and result.items[0].insert_text:
                    latencies.append((time.perf_counter() - sent_at) * 1000)

            version = 1
            previous = "\n"
            for char in typed:
                await asyncio.sleep(delay(previous, rng))
                previous = char
                if pending is not None and not pending.done() and pending_id is not None:
                    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=pending_id))
                version += 1
                keystroke = time.perf_counter()
                bridge.type_at(uri, version, types.Position(line=line, character=character), char)
                if char == "\n":
                    line, character = line + 1, 0
                else:
                    character += 1
                requests += 1
                pending_id = f"k{requests}"
                pending = client.protocol.send_request(
                    types.TEXT_DOCUMENT_INLINE_COMPLETION,
                    types.InlineCompletionParams(
                        text_document=types.TextDocumentIdentifier(uri=uri),
                        position=types.Position(line=line, character=character),
                        context=types.InlineCompletionContext(
                            trigger_kind=types.InlineCompletionTriggerKind.Automatic
                        ),
                    ),
                    msg_id=pending_id,
                )
                answer = asyncio.ensure_future(await_answer(asyncio.wrap_future(pending), keystroke))
                answers.append(answer)
                if char == "\n" and pause_for_suggestions:
                    # At the start of each new line the developer stops and reads what is suggested.
                    await asyncio.wait({answer}, timeout=120)
            await asyncio.gather(*answers)
            stats = await bridge.stats()
            await bridge.close()
        finally:
            appliance.stop()
    print(
        f"typed {len(typed)} characters of shlex.quote (seed {seed}, "
        f"{'pausing at new lines' if pause_for_suggestions else 'no pauses'})"
    )
    print(
        f"editor requests: {requests}; sent to the appliance: {stats['sent']}; served from cache: "
        f"{stats['cache_hits']}; shown: {stats['shown']}; superseded: {stats['superseded']}; "
        f"cancelled upstream: {stats['cancelled_upstream']}; timeouts: {stats['timeouts']}; errors: {stats['errors']}"
    )
    print(
        f"cache hit rate: {stats['cache_hits'] / requests:.1%} of editor requests, "
        f"{stats['cache_hits'] / max(1, stats['shown']):.1%} of suggestions shown"
    )
    if latencies:
        print(
            f"keystroke → suggestion (shown, received by the client): n={len(latencies)} "
            f"p50 {statistics.median(latencies):.0f} ms, p99 {percentile(latencies, 0.99):.0f} ms"
        )
    if stats["upstream_ms"]:
        print(f"appliance time per sent request: p50 {statistics.median(stats['upstream_ms']):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--limit", type=int, default=None, help="type only the first N characters")
    parser.add_argument(
        "--no-pause",
        action="store_true",
        help="never stop to read a suggestion (by default the typist waits at each new line)",
    )
    args = parser.parse_args()
    asyncio.run(run(args.seed, args.limit, not args.no_pause))


if __name__ == "__main__":
    main()
