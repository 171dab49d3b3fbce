"""What the benchmarks that start `codemoat serve` share: a free port, and waiting for the server to be ready."""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(
    client: httpx.Client, server: "subprocess.Popen[Any] | None" = None, timeout_s: float = 900
) -> None:
    """Until /readyz answers 200; a server that exits first, or a timeout, ends the benchmark with the reason."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if server is not None and server.poll() is not None:
            raise SystemExit("the server exited before it was ready")
        if time.monotonic() > deadline:
            raise SystemExit("the server did not become ready")
        time.sleep(0.25)
