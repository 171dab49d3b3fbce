"""FastAPI dependencies as typed aliases: `ServicesDep`, `PrincipalDep`, `AdminDep`, `ServingDep`.

Authentication is a plain (sync) dependency, so FastAPI runs its database lookup in the thread pool and the
event loop never waits on SQLite or PostgreSQL."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request

from appliance.api.services import Services
from appliance.api.timing import StageTimer
from appliance.auth.errors import AuthenticationError, PermissionDeniedError
from appliance.auth.principal import Principal


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_timer(request: Request) -> StageTimer:
    """The request's stage timer, started when the request reached the app."""
    timer = getattr(request.state, "timer", None)
    if timer is None:
        timer = request.state.timer = StageTimer()
    return timer


TimerDep = Annotated[StageTimer, Depends(get_timer)]


def bearer_secret(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise AuthenticationError(
            "missing API token: send the header 'Authorization: Bearer <token>' (see `codemoat token create`)"
        )
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
    return secret.strip()


def get_principal(request: Request, services: ServicesDep, timer: TimerDep) -> Principal:
    started = time.perf_counter()
    try:
        principal = services.tokens.authenticate(bearer_secret(request))
    finally:
        timer.mark_since("auth", started)
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_admin(principal: PrincipalDep) -> Principal:
    if not principal.is_admin:
        raise PermissionDeniedError("this needs an administrator's token")
    return principal


AdminDep = Annotated[Principal, Depends(get_admin)]


def check_serving(services: ServicesDep, principal: PrincipalDep) -> None:
    """The license gate: 503 while the license stops service, 403 for a new user while it is RESTRICTED.
    Admitting a user also counts them towards the license's seats. A dependency; the console calls it
    directly."""
    services.gate.admit(f"user:{principal.user_id}")


ServingDep = Annotated[None, Depends(check_serving)]
