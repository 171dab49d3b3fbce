"""The HTTP gateway: an OpenAI-compatible API (FastAPI) over the engines, the index and the state database.

`create_app(settings, ...)` (in `appliance.api.app`) assembles the app over the services that
`appliance.wiring` builds; this package imports nothing heavy, so that `appliance.config` can read
`appliance.api.config` cheaply."""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from appliance.api.app import create_app

        return create_app
    raise AttributeError(name)
