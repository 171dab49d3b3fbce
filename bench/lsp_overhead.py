"""Bridge overhead per completion request, the appliance excluded.

A real LSP client (pytest-lsp) drives `codemoat-lsp` against a real `codemoat serve` (CPU engine), with eight
standard-library modules open as neighbouring documents so snippet selection does real work. For each request
(explicitly invoked, so no debounce; a different cursor state each time, so no cache):

    overhead = LSP round trip seen by the client − the HTTP call to the appliance timed inside the bridge

which covers JSON-RPC framing both ways, document lookup, cache probe, context and snippet selection, request
building and answer conversion. Also reported: the round trip of a cache hit (nothing upstream at all).

    .venv/bin/python bench/lsp_overhead.py [--requests 60]
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lsprotocol import types  # noqa: E402

from tests.lsp.harness import start_appliance, start_bridge  # noqa: E402

NEIGHBOURS = ["posixpath", "genericpath", "textwrap", "shlex", "fnmatch", "glob", "string", "bisect"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def run(requests: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "project"
        root.mkdir()
        appliance = start_appliance(Path(scratch) / "home")
        try:
            bridge = await start_bridge(
                root,
                # Small windows keep the CPU model's prefill short; snippet selection still scans all eight files.
                init_options={
                    "url": appliance.url,
                    "token": appliance.token,
                    "maxTokens": 1,
                    "timeoutMs": 300000,
                    "prefixChars": 600,
                    "suffixChars": 200,
                    "snippetChars": 600,
                },
            )
            for name in NEIGHBOURS:
                module = __import__(name)
                bridge.open((root / f"{name}.py").as_uri(), inspect.getsource(module), version=1)
            uri = (root / "work.py").as_uri()
            text = "import os\n\n\ndef normalize(paths):\n    result = []\n    for path in paths:\n        "
            bridge.open(uri, text)
            line, character = 6, 8
            overhead: list[float] = []
            internal: list[float] = []
            upstream: list[float] = []
            letters = "qzjkvw"
            for i in range(requests + 3):
                # A letter the model is unlikely to have suggested: each request must reach the appliance.
                bridge.type_at(
                    uri, i + 2, types.Position(line=line, character=character), letters[i % len(letters)]
                )
                character += 1
                before = await bridge.stats()
                started = time.perf_counter()
                await bridge.inline(uri, types.Position(line=line, character=character), invoked=True)
                round_trip = (time.perf_counter() - started) * 1000
                after = await bridge.stats()
                if after["sent"] != before["sent"] + 1 or after["errors"] != before["errors"] or i < 3:
                    continue  # a cache hit or an error, or warm-up (connection set-up, first-use imports)
                overhead.append(round_trip - after["upstream_ms"][-1])
                internal.append(after["overhead_ms"][-1])
                upstream.append(after["upstream_ms"][-1])
                if len(overhead) % 5 == 0:
                    print(
                        f"  {len(overhead)} requests, last round trip {round_trip:.0f} ms",
                        file=sys.stderr,
                        flush=True,
                    )
            stats = await bridge.stats()
            hits: list[float] = []
            for _ in range(200):
                started = time.perf_counter()
                await bridge.inline(uri, types.Position(line=line, character=character), invoked=True)
                hits.append((time.perf_counter() - started) * 1000)
            # The same cache hit after the processes slept as long as an upstream request keeps them idle: on a
            # saturated machine the wake-up alone costs what the handler does not.
            cold: list[float] = []
            for _ in range(5):
                await asyncio.sleep(min(10.0, statistics.median(upstream) / 1000))
                started = time.perf_counter()
                await bridge.inline(uri, types.Position(line=line, character=character), invoked=True)
                cold.append((time.perf_counter() - started) * 1000)
            await bridge.close()
        finally:
            appliance.stop()
    print(f"requests measured: {len(overhead)} (sent upstream: {stats['sent']}, errors: {stats['errors']})")
    print(
        f"bridge overhead (client round trip - upstream HTTP): p50 {statistics.median(overhead):.2f} ms, "
        f"p99 {percentile(overhead, 0.99):.2f} ms"
    )
    print(
        f"  of which inside the bridge's handler: p50 {statistics.median(internal):.2f} ms, "
        f"p99 {percentile(internal, 0.99):.2f} ms"
    )
    print(f"upstream HTTP (appliance, max_tokens=1): p50 {statistics.median(upstream):.1f} ms")
    print(
        f"cache hit round trip (no upstream): p50 {statistics.median(hits):.2f} ms, p99 {percentile(hits, 0.99):.2f} ms"
    )
    print(
        f"cache hit round trip after sleeping like an upstream wait: median {statistics.median(cold):.2f} ms "
        f"(n={len(cold)}; max {max(cold):.2f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(run(args.requests))


if __name__ == "__main__":
    main()
