"""A real `codemoat serve` (subprocess, its own CODEMOAT_HOME, the CPU engine) and Debian's Chromium driven by
Python Playwright: the pieces of the console's browser tests."""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[3]
CODEMOAT = REPO_ROOT / ".venv" / "bin" / "codemoat"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def environment(home: Path, model_cache: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CODEMOAT_HOME": str(home),
        "CODEMOAT_ENGINE__CACHE_DIR": str(model_cache),
        "CODEMOAT_CONSOLE__CHAT_MAX_TOKENS": "16",
        "CODEMOAT_JOBS__POLL_INTERVAL_S": "0.5",
        "CODEMOAT_JOBS__SYNC_INTERVAL_S": "0",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


def codemoat(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(CODEMOAT), *args], env=env, input=stdin, capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"codemoat {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]
    log: list[str]


@contextmanager
def serve(env: dict[str, str]) -> Iterator[Served]:
    process = subprocess.Popen(
        [str(CODEMOAT), "serve", "--port", "0", "--no-access-log"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    log: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            log.append(line)
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    url = None
    try:
        deadline = time.monotonic() + 300
        while url is None:
            try:
                line = lines.get(timeout=max(deadline - time.monotonic(), 0.1))
            except queue.Empty:
                raise RuntimeError("codemoat serve did not start:\n" + "".join(log)) from None
            if line.startswith("Console: "):
                url = line.split(" ", 1)[1].strip().removesuffix("/console")
            if process.poll() is not None and lines.empty():
                raise RuntimeError("codemoat serve exited:\n" + "".join(log))
        with httpx.Client(base_url=url, timeout=30) as client:  # the model loads in the background
            while client.get("/readyz").status_code != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError("never ready:\n" + "".join(log))
                time.sleep(0.25)
        yield Served(url, process, log)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def sign_in(page, url: str, user: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{url}/console/login")
    page.fill("#password-form input[name=username]", user)
    page.fill("#password-form input[name=password]", password)
    page.click("#password-form button[type=submit]")
    page.wait_for_url(f"{url}/console/chat")
    page.wait_for_selector("body[data-ready='1']")
