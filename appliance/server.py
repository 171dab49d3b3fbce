"""Run the gateway under uvicorn: plain HTTP, or HTTPS when `server.tls_cert` and `server.tls_key` are set.

`run(settings, app, ...)` blocks until SIGINT/SIGTERM, then shuts down gracefully (in-flight requests finish,
the lifespan closes the engine, index and database)."""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import uvicorn
import uvicorn.config

from appliance.errors import ConfigError
from appliance.http_protocol import bounded_h11
from appliance.logs import logging_config

if TYPE_CHECKING:
    from fastapi import FastAPI

    from appliance.config import Settings


@dataclass(frozen=True, slots=True)
class Listening:
    """Where the server ended up listening (the real port when 0 was asked for)."""

    scheme: str
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def tls_options(settings: Settings) -> dict[str, Any]:
    cert, key = settings.server.tls_cert, settings.server.tls_key
    if cert is None and key is None:
        return {}
    if cert is None or key is None:
        raise ConfigError("set both server.tls_cert and server.tls_key for HTTPS, or neither")
    for what, path in (("certificate", cert), ("key", key)):
        if not path.is_file():
            raise ConfigError(f"TLS {what} file {path} does not exist")
    return {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}


class _Server(uvicorn.Server):
    """uvicorn's server, telling the caller once the sockets are bound and the lifespan has started."""

    def __init__(
        self, config: uvicorn.Config, on_started: Callable[[Listening], None] | None, scheme: str
    ) -> None:
        super().__init__(config)
        self._on_started = on_started
        self._scheme = scheme

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._on_started is not None and self.servers:
            address = self.servers[0].sockets[0].getsockname()
            self._on_started(Listening(self._scheme, str(address[0]), int(address[1])))


def bind(settings: Settings, host: str | None = None, port: int | None = None) -> socket.socket:
    """The listening socket, bound before anything else starts: a port in use is one line at once, not a
    failure after the model and the index have loaded (uvicorn binds only after the app's startup)."""
    host = host if host is not None else settings.server.host
    port = port if port is not None else settings.server.port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restart over TIME_WAIT
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        hint = (
            ": another server is using it; choose another with --port"
            if exc.errno == errno.EADDRINUSE
            else ""
        )
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") from None
    sock.set_inheritable(True)
    return sock


def run(
    settings: Settings,
    app: FastAPI,
    *,
    sock: socket.socket | None = None,
    host: str | None = None,
    port: int | None = None,
    on_started: Callable[[Listening], None] | None = None,
    access_log: bool = True,
    log_level: str = "info",
) -> None:
    """Serve `app` on `sock` (from `bind`; bound here from `host`/`port` when not given) until stopped."""
    tls = tls_options(settings)
    sock = sock if sock is not None else bind(settings, host, port)
    host, port = sock.getsockname()[:2]
    log_config = logging_config(settings.server.log_format, log_level)
    if not access_log:
        log_config["loggers"]["codemoat.access"] = {"level": "WARNING"}
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,  # appliance.api.access_log writes it, with the route and the user
        lifespan="on",
        timeout_graceful_shutdown=10,
        server_header=False,
        log_config=log_config,
        proxy_headers=bool(settings.server.trusted_proxies),
        # h11 behind a check of the raw request head (appliance.http_protocol): bounded before it is parsed.
        http=bounded_h11(settings.server.max_header_bytes, settings.server.max_headers),
        h11_max_incomplete_event_size=settings.server.max_header_bytes + 1024,
        forwarded_allow_ips=",".join(settings.server.trusted_proxies) or None,
        **tls,
    )
    server = _Server(config, on_started, "https" if tls else "http")
    try:
        server.run(sockets=[sock])
    except OSError as exc:
        raise ConfigError(f"cannot serve on {config.host}:{config.port}: {exc.strerror or exc}") from None
    if not server.started:
        # uvicorn logs why (bind failure, lifespan error) and returns instead of raising.
        raise ConfigError(f"the server did not start on {config.host}:{config.port} (see the log above)")
