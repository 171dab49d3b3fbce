"""Signing in and out. A password sign-in or an API token (the session then keeps that token's scope);
throttled per user name and per client address; the form carries a double-submit CSRF token (a random value
in a SameSite=Strict cookie and in the form), so no other site can sign a browser into an account.
Sign-ins, failures and lockouts are audited (appliance.console.sign_in_audit says which failures, and why not
all)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import BackgroundTasks, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from appliance.auth.errors import AuthError, PermissionDeniedError
from appliance.console.deps import ConsoleDep, check_origin, client_address, read_session
from appliance.console.pages_common import render
from appliance.console.services import ConsoleServices
from appliance.console.sessions import cookie_names, same_token
from appliance.console.sign_in_audit import FailedSignIn, SignInAudit
from appliance.users.errors import SignInThrottledError
from appliance.users.throttle import source_key, user_key


def safe_next(target: str | None) -> str:
    """Only a path inside the console: never another site (`//evil`, `/\\evil`, `https://...`)."""
    if not target or not target.startswith("/console") or target.startswith("//") or "\\" in target:
        return "/console/chat"
    return target


def _login_form(
    request: Request,
    console: ConsoleDep,
    *,
    status: int = 200,
    error: str = "",
    username: str = "",
    next_url: str = "",
    method: str = "password",
    headers: dict[str, str] | None = None,
) -> Response:
    secure = console.cookie_secure(request.url.scheme == "https")
    _, csrf_cookie = cookie_names(secure)
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        status_code=status,
        error=error,
        username=username,
        next_url=safe_next(next_url),
        login_csrf=token,
        method=method,
    )
    response.set_cookie(
        csrf_cookie, token, max_age=3600, path="/", secure=secure, httponly=True, samesite="strict"
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def sign_in_page(request: Request, console: ConsoleDep, next: str = "") -> Response:
    if read_session(request, console) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_form(request, console, next_url=next)


async def sign_in(
    request: Request,
    console: ConsoleDep,
    background: BackgroundTasks,
    csrf: Annotated[str, Form(max_length=128)] = "",
    username: Annotated[str, Form(max_length=256)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    token: Annotated[str, Form(max_length=256)] = "",
    method: Annotated[str, Form(max_length=16)] = "password",
    next: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    secure = console.cookie_secure(request.url.scheme == "https")
    session_cookie, csrf_cookie = cookie_names(secure)
    form = {
        "username": username.strip(),
        "next_url": next,
        "method": "token" if method == "token" else "password",
    }
    check_origin(request)
    if not same_token(csrf, request.cookies.get(csrf_cookie)):
        return _login_form(request, console, status=403, error="The sign-in form expired: try again.", **form)
    source = client_address(request)
    keys = [source_key(source)]
    if form["method"] == "password":
        if not form["username"] or not password:
            return _login_form(
                request, console, status=400, error="Enter your user name and password.", **form
            )
        keys.insert(0, user_key(form["username"]))
    elif not token.strip():
        return _login_form(request, console, status=400, error="Paste an API token.", **form)
    try:
        await run_in_threadpool(console.throttle.check, keys)
        if form["method"] == "password":
            user = await run_in_threadpool(console.accounts.check_password, form["username"], password)
            user_id, user_name, token_id, token_name = user.id, user.name, None, None
        else:
            principal = await run_in_threadpool(console.gateway.tokens.authenticate, token.strip())
            user_id, user_name = principal.user_id, principal.user_name
            token_id, token_name = principal.token_id, principal.token_name
    except SignInThrottledError as exc:
        return _login_form(
            request,
            console,
            status=429,
            error=str(exc),
            headers={"Retry-After": str(exc.retry_after)},
            **form,
        )
    except AuthError as exc:
        lockouts = await run_in_threadpool(console.throttle.failed, keys)
        message = str(exc) if form["method"] == "password" else "That token is not valid (or was revoked)."
        token_hash = None
        if form["method"] == "token" and isinstance(exc, PermissionDeniedError):
            from appliance.auth.tokens import hash_secret

            token_hash = hash_secret(token.strip())
        attempt = FailedSignIn(
            form["method"],
            source,
            str(exc),
            username=form["username"],
            token_hash=token_hash,
            lockouts=lockouts,
        )
        console.gateway.metrics.sign_in_failures.labels(form["method"]).inc()
        background.add_task(_audit(console).failed, attempt)  # after the answer: see sign_in_audit
        return _login_form(request, console, status=401, error=message, **form)
    await run_in_threadpool(console.throttle.succeeded, keys[:1] if form["method"] == "password" else [])
    secret, _ = await run_in_threadpool(console.sessions.create, user_id, token_id=token_id, source=source)
    # No cookie until the sign-in is in the log: a database that cannot record it refuses the sign-in.
    await run_in_threadpool(
        _audit(console).succeeded,
        user_id=user_id,
        user_name=user_name,
        source=source,
        method=form["method"],
        token_name=token_name,
    )
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        session_cookie,
        secret,
        max_age=int(console.sessions.lifetime.total_seconds()),
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    response.delete_cookie(csrf_cookie, path="/", secure=secure, httponly=True, samesite="strict")
    return response


def _audit(console: ConsoleServices) -> SignInAudit:
    return SignInAudit(console.gateway.db, console.audit)


async def sign_out(
    request: Request, console: ConsoleDep, csrf: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    secure = console.cookie_secure(request.url.scheme == "https")
    session_cookie, _ = cookie_names(secure)
    session = await run_in_threadpool(read_session, request, console)
    if session is not None:
        from appliance.console.deps import check_csrf

        check_csrf(request, session, csrf)
        await run_in_threadpool(console.sessions.destroy, request.cookies.get(session_cookie))
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(session_cookie, path="/", secure=secure, httponly=True, samesite="strict")
    return response
