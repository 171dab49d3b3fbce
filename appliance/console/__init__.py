"""The web console: chat with your code, and administration (repositories, users and groups, tokens, license,
usage, audit). Server-rendered pages (Jinja2, autoescaped) with small same-origin scripts under a strict
Content-Security-Policy; a JSON API under /api that the pages and scripts share.

    from appliance.console import console_router
    app = create_app(settings, routers=[console_router(settings)])

Nothing heavy is imported here: `appliance.config` imports `appliance.console.config`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import APIRouter

    from appliance.config import Settings


def console_router(settings: Settings) -> APIRouter:
    from appliance.console.app import build_router

    return build_router(settings)


__all__ = ["console_router"]
