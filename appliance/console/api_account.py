"""Everyone's own account: their API tokens (for editors; they inherit the user's access, optionally
narrowed) and their password."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from appliance.console.deps import CallerDep, ConsoleDep
from appliance.console.routing import ApiRoute
from appliance.errors import NotFoundError
from appliance.users.validation import check_name, check_repo

router = APIRouter(prefix="/api", tags=["account"], route_class=ApiRoute)


class NewToken(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(max_length=128)
    repos: list[str] | None = Field(
        None, max_length=256, description="Narrow the token to these repositories."
    )


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    current_password: str = Field(max_length=256)
    new_password: str = Field(max_length=256)


def issue_token(console: Any, caller: Any, user: str, name: str, repos: list[str] | None) -> dict[str, Any]:
    name = check_name("token", name)
    scope = sorted({check_repo(r, param="repos") for r in repos}) if repos is not None else None
    issued = console.gateway.tokens.create(name, user=user, repos=scope)
    console.audit.append(caller.actor, "token.create", name, user=user, repos=scope)
    return {**issued.info.to_json(), "token": issued.token}


@router.get("/tokens")
def my_tokens(caller: CallerDep, console: ConsoleDep) -> dict[str, Any]:
    mine = [t.to_json() for t in console.gateway.tokens.list_tokens() if t.user == caller.principal.user_name]
    return {"tokens": mine}


@router.post("/tokens", status_code=201)
def create_my_token(body: NewToken, caller: CallerDep, console: ConsoleDep) -> dict[str, Any]:
    """A token for the caller's editor, shown once."""
    return issue_token(console, caller, caller.principal.user_name, body.name, body.repos)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_my_token(token_id: int, caller: CallerDep, console: ConsoleDep) -> Response:
    owned = {t.id for t in console.gateway.tokens.list_tokens() if t.user == caller.principal.user_name}
    if token_id not in owned:
        raise NotFoundError(f"you have no live token {token_id}", param="token")
    info = console.gateway.tokens.revoke(str(token_id))
    console.audit.append(caller.actor, "token.revoke", info.name, user=info.user)
    return Response(status_code=204)


@router.post("/account/password", status_code=204)
def change_password(body: PasswordChange, caller: CallerDep, console: ConsoleDep) -> Response:
    """Change your own password; every session of yours ends (sign in again)."""
    console.accounts.change_own_password(
        caller.principal.user_id, body.current_password, body.new_password, actor=caller.actor
    )
    return Response(status_code=204)
