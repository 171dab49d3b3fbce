"""Rendering pages: one Jinja2 environment with autoescaping on for every template (so any text from a
repository, a model or a user is escaped), the navigation, and the error page."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")

NAV = (
    ("chat", "/console/chat", "Chat", False),
    ("account", "/console/account", "Account", False),
    ("repositories", "/console/admin/repositories", "Repositories", True),
    ("users", "/console/admin/users", "Users & groups", True),
    ("license", "/console/admin/license", "License", True),
    ("usage", "/console/admin/usage", "Usage", True),
    ("audit", "/console/admin/audit", "Audit log", True),
)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = lambda value: value.strftime("%Y-%m-%d %H:%M UTC") if value else "–"
    return env


def render(
    request: Request, template: str, *, status_code: int = 200, active: str = "", **context: Any
) -> HTMLResponse:
    session = getattr(request.state, "session", None)
    nav = [item for item in NAV if not item[3] or (session is not None and session.is_admin)]
    html = (
        environment()
        .get_template(template)
        .render(
            session=session,
            user=session.principal if session else None,
            csrf=session.csrf if session else "",
            nav=nav if session is not None else [],
            active=active,
            **context,
        )
    )
    return HTMLResponse(html, status_code=status_code)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    titles = {
        400: "Bad request",
        401: "Sign in first",
        403: "Not allowed",
        404: "Not found",
        409: "Conflict",
        429: "Too many requests",
        503: "Unavailable",
    }
    return render(
        request,
        "error.html",
        status_code=status,
        title=titles.get(status, "Something went wrong"),
        message=message,
        code=status,
    )
