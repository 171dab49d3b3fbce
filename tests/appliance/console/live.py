"""A real gateway with the console, served by uvicorn on a free port in a background thread, on the real CPU
engine; tests talk to it over HTTP with httpx."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from appliance.api.app import create_app
from appliance.config import Settings
from tests.conftest import FAST_ENGINE


@dataclass
class LiveServer:
    url: str
    settings: Settings

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=300, **kwargs)


@contextmanager
def serve(
    settings: Settings, *, ssl: dict[str, str] | None = None, wait_ready: bool = True
) -> Iterator[LiveServer]:
    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", **(ssl or {}))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-gateway", daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the gateway did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    live = LiveServer(f"{'https' if ssl else 'http'}://127.0.0.1:{port}", settings)
    try:
        if wait_ready:
            with live.client(verify=False) as client:
                while client.get("/readyz").status_code != 200:
                    if time.monotonic() > deadline + 300:
                        raise RuntimeError(f"not ready: {client.get('/readyz').text}")
                    time.sleep(0.2)
        yield live
    finally:
        server.should_exit = True
        thread.join(60)


def settings_for(home: Path, model_cache: Path, **console: Any) -> Settings:
    from appliance.console.config import ConsoleSettings
    from appliance.engines.config import EngineSettings
    from appliance.jobs.config import JobSettings

    return Settings(
        home=home,
        engine=EngineSettings(**FAST_ENGINE, cache_dir=model_cache),
        console=ConsoleSettings(**{"chat_max_tokens": 8, **console}),
        jobs=JobSettings(sync_interval_s=0, poll_interval_s=0.5),
    )


@contextmanager
def sign_in(live: LiveServer, username: str, password: str) -> Iterator[httpx.Client]:
    """A client holding a console session, with the CSRF token header of that session."""
    with live.client(follow_redirects=False) as client:
        page = client.get("/console/login")
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        done = client.post(
            "/console/login",
            data={
                "csrf": csrf,
                "username": username,
                "password": password,
                "method": "password",
                "next": "/console/chat",
            },
        )
        if done.status_code != 303:
            raise AssertionError(f"sign-in failed: {done.status_code}")
        client.headers["X-CSRF-Token"] = client.get("/api/me").json()["csrf"]
        yield client
