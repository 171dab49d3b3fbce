"""Delivery and day-two figures (issue 17): the bundle's size and what dominates it, the time to build it, an
install from the archive to a server that answers, and an update's apply and rollback.

    .venv/bin/python bench/packaging.py [--models smollm2-135m] [--out bench/out/packaging]

Run as root (install.sh's --no-user keeps it off the host's users). Prints a Markdown table for
bench/RESULTS.md. Every step goes through the public entry points: `make bundle`, packaging/install.sh,
DEST/bin/codemoat."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import describe  # noqa: E402
from bench.serving import free_port, wait_ready  # noqa: E402


def timed(command: list[str | Path], **kwargs: object) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} failed:\n{done.stderr[-3000:]}")
    return time.monotonic() - started, done


def sizes(archive: Path) -> Counter[str]:
    parts: Counter[str] = Counter()
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.isfile():
                name = member.name.split("/", 1)[1]
                group = name.split("/")[0] if "/" in name else "metadata"
                if group == "wheels":
                    group = "wheels: " + name.split("/")[1].split("-")[0]
                parts[group] += member.size
    return parts


def first_answer(prefix: Path, env: dict[str, str]) -> float:
    """Seconds from `codemoat serve` to its first completion."""
    port = free_port()
    token = subprocess.run(
        [prefix / "bin" / "codemoat", "token", "create", f"bench-{port}", "--admin"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    started = time.monotonic()
    server = subprocess.Popen(
        [prefix / "bin" / "codemoat", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
        auth = {"Authorization": f"Bearer {token}"}
        wait_ready(client, server)
        model = client.get("/v1/models", headers=auth).json()["data"][0]["id"]
        body = {"model": model, "prompt": "def add(a, b):\n    return", "max_tokens": 8}
        assert client.post("/v1/completions", headers=auth, json=body).status_code == 200
        return time.monotonic() - started
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="smollm2-135m")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "packaging")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: install.sh installs a prefix and owns its data directory")
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    vendor = args.out / "vendor"
    subprocess.run(
        [sys.executable, "-m", "appliance.cli.main", "vendor", "keygen", "--out", vendor, "--name", "Bench", "--no-passphrase"],
        check=True, capture_output=True,
    )  # fmt: skip

    def bundle(build: int) -> tuple[float, Path]:
        seconds, built = timed(
            ["make", "-s", "bundle", f"BUNDLE_MODELS={args.models}",
             f"BUNDLE_ARGS=--no-vsix --out {args.out} --vendor {vendor} --build {build}"],
            cwd=ROOT,
        )  # fmt: skip
        return seconds, Path(built.stdout.strip().splitlines()[-1])

    build_s, archive = bundle(1)
    prefix = args.out / "prefix"
    install_s, _ = timed(
        [ROOT / "packaging" / "install.sh", archive, prefix, "--no-user", "--python", "/usr/bin/python3.11"]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEMOAT_", "PYTHON"))}
    answer_s = first_answer(prefix, env)
    _, update = bundle(2)  # the next build, as the vendor would ship it
    apply_s, _ = timed([prefix / "bin" / "codemoat", "update", "apply", update], env=env)
    rollback_s, _ = timed([prefix / "bin" / "codemoat", "update", "rollback"], env=env)

    mib = 2**20
    parts = sizes(archive)
    print(f"machine: {describe()}")
    print(f"\nbundle {archive.name}: {archive.stat().st_size / mib:.0f} MiB (models: {args.models})\n")
    print("| part | MiB |\n|---|---|")
    for name, size in parts.most_common(8):
        print(f"| {name} | {size / mib:.0f} |")
    rest = sum(size for _, size in parts.most_common()[8:])
    print(f"| everything else | {rest / mib:.0f} |\n")
    print("| step | seconds |\n|---|---|")
    print(f"| make bundle (pip's cache warm, llama.cpp wheel cached) | {build_s:.0f} |")
    print(f"| install.sh: verify + pip --no-index + doctor | {install_s:.0f} |")
    print(f"| first `codemoat serve` to its first completion (SmolLM2) | {answer_s:.1f} |")
    print(f"| install to first completion | {install_s + answer_s:.0f} |")
    print(f"| update apply (verify, install beside, migrate, switch) | {apply_s:.0f} |")
    print(f"| update rollback | {rollback_s:.1f} |")


if __name__ == "__main__":
    main()
