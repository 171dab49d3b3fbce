"""Dependencies of the console's routes, as typed aliases.

- `PageSessionDep`, `PageAdminDep`: a page needs a session (else a redirect to the sign-in page), or an
  administrator's session (else a 403 page).
- `CallerDep`, `AdminCallerDep`: the JSON API accepts a bearer token (editors, scripts, tests) or a session
  cookie; with the cookie, every state-changing request must carry the session's CSRF token in the
  `X-CSRF-Token` header and, when the browser sends one, an `Origin` equal to the console's own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from appliance.audit.log import Actor
from appliance.auth.errors import AuthenticationError, PermissionDeniedError
from appliance.auth.principal import Principal
from appliance.console.errors import CsrfError, LoginRequired
from appliance.console.services import ConsoleServices
from appliance.console.sessions import SessionContext, cookie_names, same_token

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"


def get_console(request: Request) -> ConsoleServices:
    return request.app.state.console


ConsoleDep = Annotated[ConsoleServices, Depends(get_console)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def read_session(request: Request, console: ConsoleServices) -> SessionContext | None:
    name, _ = cookie_names(console.cookie_secure(request.url.scheme == "https"))
    return console.sessions.resolve(request.cookies.get(name))


def check_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is None:  # not sent on same-origin GETs, nor by older browsers: the CSRF token still applies
        return
    expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
    if origin != expected:
        raise CsrfError("this request came from another site; open the console itself and try again")


def check_csrf(request: Request, session: SessionContext, token: str | None) -> None:
    check_origin(request)
    if not same_token(token, session.csrf):
        raise CsrfError("the page is out of date (missing or wrong CSRF token): reload it and try again")


def page_session(request: Request, console: ConsoleDep) -> SessionContext:
    session = read_session(request, console)
    if session is None:
        raise LoginRequired("sign in first")
    request.state.session = session
    request.state.principal = session.principal  # the access log's user
    return session


PageSessionDep = Annotated[SessionContext, Depends(page_session)]


def page_admin(session: PageSessionDep) -> SessionContext:
    if not session.is_admin:
        raise PermissionDeniedError("this page is for administrators")
    return session


PageAdminDep = Annotated[SessionContext, Depends(page_admin)]


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    session: SessionContext | None
    source: str

    @property
    def actor(self) -> Actor:
        via = "" if self.session is not None else f" (token {self.principal.token_name})"
        return Actor(name=self.principal.user_name, user_id=self.principal.user_id, source=self.source + via)


def api_caller(request: Request, console: ConsoleDep) -> Caller:
    source = client_address(request)
    if request.headers.get("authorization"):
        from appliance.api.deps import bearer_secret

        principal = console.gateway.tokens.authenticate(bearer_secret(request))
        request.state.principal = principal  # the access log's user
        return Caller(principal, None, source)
    session = read_session(request, console)
    if session is None:
        raise AuthenticationError("sign in to the console first, or send 'Authorization: Bearer <token>'")
    if request.method not in SAFE_METHODS:
        check_csrf(request, session, request.headers.get(CSRF_HEADER))
    request.state.principal = session.principal
    return Caller(session.principal, session, source)


CallerDep = Annotated[Caller, Depends(api_caller)]


def api_admin(caller: CallerDep) -> Caller:
    if not caller.principal.is_admin:
        raise PermissionDeniedError("this needs an administrator")
    return caller


AdminCallerDep = Annotated[Caller, Depends(api_admin)]
