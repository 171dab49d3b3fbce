"""The gateway's container image (issue 17): build it offline from a bundle, then serve one completion from it.

    .venv/bin/python bench/container.py BUNDLE [--rootfs ROOTFS.tar]

Run as root, with buildah (Debian's package) installed. The image is built by packaging/container/build.sh inside an
empty network namespace; the container then runs with buildah's chroot isolation (no container runtime or cgroup
delegation needed), indexes this repository's `lsp/` package mounted read-only, creates a token and serves, as the
image's own user. Prints a Markdown table for bench/RESULTS.md."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import describe  # noqa: E402
from bench.serving import free_port, wait_ready  # noqa: E402


def run(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--rootfs", type=Path)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: buildah builds and runs the image")

    build = [str(ROOT / "packaging" / "container" / "build.sh"), str(args.bundle)]
    if args.rootfs:
        build += ["--rootfs", str(args.rootfs)]
    started = time.monotonic()
    image = run(*build).strip().splitlines()[-1]
    build_s = time.monotonic() - started
    size = run("buildah", "images", "--format", "{{.Size}}", image).strip()

    port = free_port()
    started = time.monotonic()
    container = run("buildah", "from", "--name", f"codemoat-bench-{port}", image).strip()
    # buildah run honours the image's USER (10001) and ENV; --volume puts the repository in read-only.
    inside = [
        "buildah",
        "run",
        "--isolation",
        "chroot",
        "--volume",
        f"{ROOT / 'lsp'}:/src/lsp:ro",
        container,
        "--",
    ]
    codemoat = "/opt/codemoat/bin/codemoat"
    server: subprocess.Popen[str] | None = None
    try:
        run(*inside, codemoat, "index", "/src/lsp", "--name", "lsp")
        indexed_s = time.monotonic() - started
        token = run(*inside, codemoat, "token", "create", "bench", "--admin").strip()
        server = subprocess.Popen(
            [*inside, codemoat, "serve", "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
        served = time.monotonic()
        wait_ready(client, server)
        auth = {"Authorization": f"Bearer {token}"}
        health = client.get("/healthz").json()
        model = client.get("/v1/models", headers=auth).json()["data"][0]["id"]
        body = {"model": model, "prompt": "def add(a, b):\n    return", "max_tokens": 8}
        answer = client.post("/v1/completions", headers=auth, json=body)
        answer.raise_for_status()
        answer_s = time.monotonic() - served
        total_s = time.monotonic() - started
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        subprocess.run(["buildah", "rm", container], capture_output=True)

    print(f"machine: {describe()}")
    print(f"\nimage {image} ({size}) from {args.bundle.name}; /healthz: {json.dumps(health)}")
    print(f"completion by {model}: {answer.json()['choices'][0]['text']!r}\n")
    print("| step | seconds |\n|---|---:|")
    print(f"| build.sh: image from the bundle (install.sh inside, no network) | {build_s:.0f} |")
    print(f"| container created, `lsp/` indexed | {indexed_s:.1f} |")
    print(f"| `codemoat serve` in the container to its first completion | {answer_s:.1f} |")
    print(f"| container created to first completion | {total_s:.1f} |")


if __name__ == "__main__":
    main()
