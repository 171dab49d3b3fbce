"""The console's pages. Each is rendered on the server from a template; the scripts they load (same origin,
no inline script) call the JSON API for everything that changes state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from appliance.console.deps import ConsoleDep, PageAdminDep, PageSessionDep, check_csrf, read_session
from appliance.console.license_panel import license_view
from appliance.console.login import sign_in, sign_in_page, sign_out
from appliance.console.pages_common import render
from appliance.console.routing import PageRoute

router = APIRouter(prefix="/console", route_class=PageRoute, include_in_schema=False)

router.add_api_route("/login", sign_in_page, methods=["GET"])
router.add_api_route("/login", sign_in, methods=["POST"])
router.add_api_route("/logout", sign_out, methods=["POST"])


@router.get("")
@router.get("/")
def home(request: Request, console: ConsoleDep) -> Response:
    target = "/console/chat" if read_session(request, console) else "/console/login"
    return RedirectResponse(target, status_code=303)


@router.get("/chat")
@router.get("/chat/{conversation_id}")
def chat_page(
    request: Request, session: PageSessionDep, console: ConsoleDep, conversation_id: int | None = None
) -> Response:
    if conversation_id is not None:
        console.conversations.get(session.principal.user_id, conversation_id)  # 404 page for another's
    return render(
        request,
        "chat.html",
        active="chat",
        conversation_id=conversation_id or "",
        model=console.gateway.models["chat"].model_id,
    )


@router.get("/account")
def account_page(request: Request, session: PageSessionDep, console: ConsoleDep) -> Response:
    tokens = [t for t in console.gateway.tokens.list_tokens() if t.user == session.principal.user_name]
    user = console.accounts.by_id(session.principal.user_id)
    return render(request, "account.html", active="account", tokens=tokens, account=user)


@router.get("/admin")
def admin_home(_: PageAdminDep) -> Response:
    return RedirectResponse("/console/admin/repositories", status_code=303)


@router.get("/admin/repositories")
def repositories_page(request: Request, _: PageAdminDep, console: ConsoleDep) -> Response:
    return render(
        request,
        "admin_repositories.html",
        active="repositories",
        repositories=console.repositories.list(),
        jobs_here=console.settings.jobs.run_jobs,
        default_interval=console.settings.jobs.sync_interval_s,
    )


@router.get("/admin/users")
def users_page(request: Request, _: PageAdminDep, console: ConsoleDep) -> Response:
    return render(
        request,
        "admin_users.html",
        active="users",
        users=console.accounts.list(),
        groups=console.groups.list(),
        tokens=console.gateway.tokens.list_tokens(),
        repositories=console.repositories.names(),
    )


@router.get("/admin/license")
def license_page(request: Request, _: PageAdminDep, console: ConsoleDep) -> Response:
    return render(request, "admin_license.html", active="license", status=license_view(console))


@router.post("/admin/license/request")
async def license_request(
    request: Request,
    session: PageAdminDep,
    console: ConsoleDep,
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """A plain form post (works without scripts) answered with the request file as a download."""
    check_csrf(request, session, csrf)
    from appliance.audit.log import Actor
    from appliance.console.deps import client_address

    actor = Actor(session.principal.user_name, session.principal.user_id, client_address(request))
    text = await run_in_threadpool(console.license.activation_request, actor=actor)
    return Response(
        text,
        media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="codemoat-activation-request.txt"'},
    )


@router.get("/admin/usage")
def usage_page(request: Request, _: PageAdminDep, console: ConsoleDep, days: int = 30) -> Response:
    days = min(max(days, 1), 366)
    return render(request, "admin_usage.html", active="usage", usage=console.usage.summary(days=days))


@router.get("/admin/audit")
def audit_page(request: Request, _: PageAdminDep, console: ConsoleDep, before: int | None = None) -> Response:
    entries = console.audit.entries(limit=100, before=before)
    return render(
        request,
        "admin_audit.html",
        active="audit",
        entries=entries,
        older=entries[-1].seq if len(entries) == 100 else None,
    )
