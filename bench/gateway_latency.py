"""The gateway under load: per-stage latency of a code completion, throughput at 1/4/16 clients, and RSS.

    .venv/bin/python bench/gateway_latency.py [--home DIR] [--requests 60] [--max-tokens 8] \
        [--concurrency 1,4,16] [--per-client 3]

A real `codemoat serve` process on the embedded CPU model, with the CPython standard library indexed as
repository "stdlib" (built once under --home, default bench/out/gateway-home). The completions are the
call-site tasks of completion_quality.py (a cursor inside a stdlib function, prefix and suffix around it), sent
as an editor would (repo, path, language, FIM suffix), with the official `openai` SDK over HTTP.

Stages come from each response's `Server-Timing` header, measured in the server: auth (token lookup),
retrieval (symbols + hybrid search in threads, within the latency budget), prompt (template, trimming, token
counting), ttft (engine queue + prefill + first token), engine (queue + prefill + decode), total. The
gateway's own cost is `total - engine`: everything except the model. Client round trips are timed too."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import openai

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from completion_quality import make_tasks
from machine import describe, percentile, stdlib_dir

ROOT = Path(__file__).resolve().parent.parent
CODEMOAT = ROOT / ".venv" / "bin" / "codemoat"
STAGES = ("auth", "retrieval", "prompt", "ttft", "engine", "total")


def run_cli(home: Path, *args: str) -> str:
    result = subprocess.run(
        [str(CODEMOAT), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "CODEMOAT_HOME": str(home)},
    )
    if result.returncode != 0:
        raise SystemExit(f"codemoat {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def ensure_index(home: Path) -> None:
    listed = run_cli(home, "repo", "list", "--json") if (home / "index").exists() else "[]"
    if "stdlib" not in {r.get("name") for r in json.loads(listed or "[]")}:
        started = time.perf_counter()
        run_cli(home, "index", str(stdlib_dir()), "--name", "stdlib", "--json")
        print(f"indexed the standard library in {time.perf_counter() - started:.0f} s", file=sys.stderr)


class Server:
    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [str(CODEMOAT), "serve", "--port", "0", "--no-access-log", "--log-level", "warning"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "CODEMOAT_HOME": str(home), "HF_HUB_OFFLINE": "1", **env},
        )
        self.url = ""
        found = threading.Event()

        def pump() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                if not self.url and "listening on " in line:
                    self.url = line.split("listening on ", 1)[1].split()[0]
                    found.set()
            found.set()

        threading.Thread(target=pump, daemon=True).start()
        found.wait(600)
        if not self.url:
            raise SystemExit("codemoat serve did not start")
        deadline = time.monotonic() + 900
        while httpx.get(self.url + "/readyz").status_code != 200:
            if time.monotonic() > deadline:
                raise SystemExit("codemoat serve did not become ready")
            time.sleep(0.2)

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(60)


def server_timing(header: str) -> dict[str, float]:
    stages: dict[str, float] = {}
    for part in header.split(","):
        name, _, dur = part.strip().partition(";dur=")
        if dur:
            stages[name] = float(dur)
    return stages


def requests_for(count: int, seed: int, max_tokens: int, keystrokes: int = 0) -> list[dict]:
    """`count` completions: at each cursor, the first request then `keystrokes` more, one typed character
    apart (what an editor sends as the user types); `first` marks the first request at a cursor."""
    tasks = make_tasks(stdlib_dir(), max(1, count // (keystrokes + 1)), seed)
    return [
        {
            "model": "smollm2-135m-instruct",
            "prompt": task.prefix + task.target[:typed],
            "suffix": task.suffix,
            "max_tokens": max_tokens,
            "temperature": 0,
            "extra_body": {"repo": "stdlib", "path": task.path, "language": "python"},
            "first": typed == 0,
        }
        for task in tasks
        for typed in range(keystrokes + 1)
    ][:count]


async def one(client: openai.AsyncOpenAI, body: dict) -> tuple[dict[str, float], float, int]:
    body = {k: v for k, v in body.items() if k != "first"}
    started = time.perf_counter()
    raw = await client.completions.with_raw_response.create(**body)
    elapsed = (time.perf_counter() - started) * 1000
    completion = raw.parse()
    stages = server_timing(raw.headers.get("server-timing", ""))
    stages["overhead"] = stages["total"] - stages.get("engine", 0.0)
    return stages, elapsed, completion.usage.completion_tokens if completion.usage else 0


def summarize(rows: list[dict[str, float]], names: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    return {
        n: (percentile([r[n] for r in rows if n in r], 50), percentile([r[n] for r in rows if n in r], 99))
        for n in names
    }


async def sequential(client: openai.AsyncOpenAI, bodies: list[dict]) -> None:
    rows: list[dict[str, float]] = []
    for body in bodies:
        stages, elapsed, _ = await one(client, body)
        stages["client"] = elapsed
        stages["non_model"] = stages["auth"] + stages.get("retrieval", 0.0) + stages.get("prompt", 0.0)
        stages["first"] = 1.0 if body["first"] else 0.0
        rows.append(stages)
    names = (*STAGES, "non_model", "overhead", "client")
    groups = {
        "all": rows,
        "first at a cursor": [r for r in rows if r["first"]],
        "next keystrokes": [r for r in rows if not r["first"]],
    }
    groups = {k: v for k, v in groups.items() if v}
    tables = {k: summarize(v, names) for k, v in groups.items()}
    print(f"\n### Per-stage latency, one client, {len(rows)} completions (ms, p50 / p99)\n")
    print("| stage | " + " | ".join(f"{k} ({len(v)})" for k, v in groups.items()) + " |")
    print("|---|" + "---:|" * len(groups))
    for name in names:
        cells = [f"{tables[k][name][0]:.2f} / {tables[k][name][1]:.2f}" for k in groups]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nnon_model = auth + retrieval + prompt; overhead = total − engine (all the gateway's own work).")


async def concurrent(client: openai.AsyncOpenAI, bodies: list[dict], clients: int, per_client: int) -> None:
    queue = list(bodies[: clients * per_client])
    latencies: list[float] = []
    tokens = 0
    errors: dict[str, int] = {}

    async def worker() -> None:
        nonlocal tokens
        while queue:
            body = queue.pop()
            try:
                _, elapsed, produced = await one(client, body)
            except openai.APIStatusError as exc:
                errors[str(exc.status_code)] = errors.get(str(exc.status_code), 0) + 1
                continue
            latencies.append(elapsed)
            tokens += produced

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    wall = time.perf_counter() - started
    print(
        f"| {clients} | {len(latencies)} | {len(latencies) / wall:.2f} | {tokens / wall:.1f} | "
        f"{percentile(latencies, 50):.0f} | {percentile(latencies, 99):.0f} | {errors or '-'} |"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", type=Path, default=ROOT / "bench" / "out" / "gateway-home")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--max-tokens", type=int, default=8)
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--per-client", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keystrokes", type=int, default=2, help="Requests after the first at each cursor.")
    args = parser.parse_args()

    ensure_index(args.home)
    token = json.loads(
        run_cli(args.home, "token", "create", f"bench-{int(time.time())}", "--admin", "--json")
    )["token"]
    env = {"CODEMOAT_ENGINE__MAX_QUEUE": "64"}
    server = Server(args.home, env)
    try:
        idle_rss = server.rss_mib()
        levels = [int(c) for c in args.concurrency.split(",") if c]
        bodies = requests_for(args.requests, args.seed, args.max_tokens, args.keystrokes)
        load = requests_for(max(levels) * args.per_client, args.seed + 1, args.max_tokens)
        async with openai.AsyncOpenAI(
            base_url=server.url + "/v1", api_key=token, max_retries=0, timeout=600
        ) as client:
            await one(
                client, load[0]
            )  # warm the embedder, store and tokenizer (another cursor than measured)
            print(f"machine: {describe()}; load average {os.getloadavg()[0]:.1f} at start")
            print(
                f"completions with repo/path/suffix on the stdlib index, max_tokens={args.max_tokens}, greedy"
            )
            await sequential(client, bodies[: args.requests])
            print(
                f"\n### Throughput and latency by concurrent clients ({args.per_client} completions each)\n"
            )
            print("| clients | done | completions/s | tokens/s | latency p50 ms | latency p99 ms | errors |")
            print("|---:|---:|---:|---:|---:|---:|---|")
            for clients in levels:
                await concurrent(client, load, clients, args.per_client)
        print(
            f"\ngateway RSS (model, index, embedder loaded): {idle_rss:.0f} MiB idle after start, "
            f"{server.rss_mib():.0f} MiB after the runs; load average {os.getloadavg()[0]:.1f} at the end"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
