"""The administration API (administrators only, enforced by `AdminCallerDep` on every route): users, groups and
grants, tokens, repositories and their jobs, license, usage and the audit log. The admin pages call it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from appliance.console.api_account import issue_token
from appliance.console.deps import AdminCallerDep, ConsoleDep
from appliance.console.license_panel import license_view
from appliance.console.routing import ApiRoute
from appliance.errors import InvalidInputError

router = APIRouter(prefix="/api/admin", tags=["administration"], route_class=ApiRoute)

Strict = ConfigDict(extra="forbid", strict=True)


class NewUser(BaseModel):
    model_config = Strict

    name: str = Field(max_length=128)
    role: Literal["admin", "user"] = "user"
    password: str | None = Field(None, max_length=256, description="Omit to generate one (returned once).")
    groups: list[str] = Field(default_factory=list, max_length=64)


class UserChange(BaseModel):
    model_config = Strict

    disabled: bool | None = None
    role: Literal["admin", "user"] | None = None


class PasswordReset(BaseModel):
    model_config = Strict

    password: str | None = Field(None, max_length=256, description="Omit to generate one (returned once).")


class NewGroup(BaseModel):
    model_config = Strict

    name: str = Field(max_length=128)
    description: str = Field("", max_length=512)
    members: list[str] = Field(default_factory=list, max_length=1000)
    repos: list[str] = Field(default_factory=list, max_length=1000)


class Member(BaseModel):
    model_config = Strict

    user: str = Field(max_length=128)


class Grant(BaseModel):
    model_config = Strict

    repo: str = Field(max_length=256)


class AdminToken(BaseModel):
    model_config = Strict

    user: str = Field(max_length=128)
    name: str = Field(max_length=128)
    repos: list[str] | None = Field(None, max_length=256)


class NewRepository(BaseModel):
    model_config = Strict

    kind: Literal["path", "git"]
    location: str = Field(max_length=4096)
    name: str | None = Field(None, max_length=128)
    branch: str | None = Field(None, max_length=256)
    sync_interval_s: int | None = None


class RepositoryChange(BaseModel):
    model_config = Strict

    sync_interval_s: int


class RepositoryName(BaseModel):
    model_config = Strict

    name: str = Field(max_length=128)


class LicenseFile(BaseModel):
    model_config = Strict

    text: str = Field(max_length=1_000_000)


# -- users --------------------------------------------------------------------------------------------------------


@router.get("/users")
def users(_: AdminCallerDep, console: ConsoleDep) -> dict[str, Any]:
    return {"users": [u.to_json() for u in console.accounts.list()]}


@router.post("/users", status_code=201)
def create_user(body: NewUser, caller: AdminCallerDep, console: ConsoleDep) -> dict[str, Any]:
    for group in body.groups:
        console.groups.get(group)  # refuse before creating anything
    created = console.accounts.create(
        body.name, role=body.role, password=body.password, generate=body.password is None, actor=caller.actor
    )
    for group in body.groups:
        console.groups.add_member(group, created.user.name, actor=caller.actor)
    return {**console.accounts.get(created.user.name).to_json(), "password": created.password}


@router.patch("/users/{name}")
def change_user(name: str, body: UserChange, caller: AdminCallerDep, console: ConsoleDep) -> dict[str, Any]:
    if body.disabled is None and body.role is None:
        raise InvalidInputError("send 'disabled' or 'role'", param="disabled")
    if body.disabled is not None and name == caller.principal.user_name and body.disabled:
        raise InvalidInputError("disabled: you cannot disable yourself", param="disabled")
    if body.role is not None:
        console.accounts.set_role(name, body.role, actor=caller.actor)
    if body.disabled is not None:
        console.accounts.set_disabled(name, body.disabled, actor=caller.actor)
    return console.accounts.get(name).to_json()


@router.post("/users/{name}/password")
def reset_password(
    name: str, body: PasswordReset, caller: AdminCallerDep, console: ConsoleDep
) -> dict[str, Any]:
    generated = console.accounts.set_password(name, body.password, actor=caller.actor)
    return {"name": name, "password": generated}


# -- groups -------------------------------------------------------------------------------------------------------


@router.get("/groups")
def groups(_: AdminCallerDep, console: ConsoleDep) -> dict[str, Any]:
    return {"groups": [g.to_json() for g in console.groups.list()]}


@router.post("/groups", status_code=201)
def create_group(body: NewGroup, caller: AdminCallerDep, console: ConsoleDep) -> dict[str, Any]:
    return console.groups.create(
        body.name, description=body.description, members=body.members, repos=body.repos, actor=caller.actor
    ).to_json()


@router.delete("/groups/{name}", status_code=204)
def delete_group(name: str, caller: AdminCallerDep, console: ConsoleDep) -> Response:
    console.groups.delete(name, actor=caller.actor)
    return Response(status_code=204)


@router.post("/groups/{name}/members")
def add_member(name: str, body: Member, caller: AdminCallerDep, console: ConsoleDep) -> dict[str, Any]:
    return console.groups.add_member(name, body.user, actor=caller.actor).to_json()


@router.delete("/groups/{name}/members/{user}")
def remove_member(name: str, user: str, caller: AdminCallerDep, console: ConsoleDep) -> dict[str, Any]:
    return console.groups.remove_member(name, user, actor=caller.actor).to_json()


@router.post("/groups/{name}/repos")
def grant(name: str, body: Grant, caller: AdminCallerDep, console: ConsoleDep) -> dict[str, Any]:
    return console.groups.grant(name, body.repo, actor=caller.actor).to_json()


@router.delete("/groups/{name}/repos/{repo:path}")
def revoke(name: str, repo: str, caller: AdminCallerDep, console: ConsoleDep) -> dict[str, Any]:
    return console.groups.revoke(name, repo, actor=caller.actor).to_json()


# -- tokens -------------------------------------------------------------------------------------------------------


@router.get("/tokens")
def tokens(
    _: AdminCallerDep, console: ConsoleDep, include_revoked: Annotated[bool, Query()] = False
) -> dict[str, Any]:
    return {
        "tokens": [t.to_json() for t in console.gateway.tokens.list_tokens(include_revoked=include_revoked)]
    }


@router.post("/tokens", status_code=201)
def create_token(body: AdminToken, caller: AdminCallerDep, console: ConsoleDep) -> dict[str, Any]:
    console.accounts.get(body.user)  # tokens belong to existing users
    return issue_token(console, caller, body.user, body.name, body.repos)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: int, caller: AdminCallerDep, console: ConsoleDep) -> Response:
    info = console.gateway.tokens.revoke(str(token_id))
    console.audit.append(caller.actor, "token.revoke", info.name, user=info.user)
    return Response(status_code=204)


# -- repositories -------------------------------------------------------------------------------------------------


@router.get("/repositories")
def repositories(_: AdminCallerDep, console: ConsoleDep) -> dict[str, Any]:
    return {"repositories": [r.to_json() for r in console.repositories.list()]}


@router.post("/repositories", status_code=201)
def add_repository(body: NewRepository, caller: AdminCallerDep, console: ConsoleDep) -> dict[str, Any]:
    return console.repositories.add(
        body.kind,
        body.location,
        name=body.name,
        branch=body.branch,
        sync_interval_s=body.sync_interval_s,
        actor=caller.actor,
    ).to_json()


@router.post("/repositories/reindex", status_code=202)
def reindex(body: RepositoryName, caller: AdminCallerDep, console: ConsoleDep) -> dict[str, Any]:
    job = console.repositories.reindex(body.name, actor=caller.actor)
    return {"name": body.name, "job": job}


@router.patch("/repositories/{name:path}")
def change_repository(
    name: str, body: RepositoryChange, caller: AdminCallerDep, console: ConsoleDep
) -> dict[str, Any]:
    return console.repositories.set_interval(name, body.sync_interval_s, actor=caller.actor).to_json()


@router.delete("/repositories/{name:path}")
async def remove_repository(name: str, caller: AdminCallerDep, console: ConsoleDep) -> dict[str, Any]:
    removed = await run_in_threadpool(console.repositories.remove, name, actor=caller.actor)
    return {"name": name, "points_removed": removed}


# -- license, usage, audit ----------------------------------------------------------------------------------------


@router.get("/license")
def license_status(_: AdminCallerDep, console: ConsoleDep) -> dict[str, Any]:
    return license_view(console)


@router.post("/license/activate")
def license_activate(body: LicenseFile, caller: AdminCallerDep, console: ConsoleDep) -> dict[str, Any]:
    summary = console.license.activate(body.text, actor=caller.actor)
    console.gateway.gate.refresh()  # a waiting sealed model loads now, not at the next heartbeat
    return summary


@router.post("/license/lease")
def license_lease(body: LicenseFile, caller: AdminCallerDep, console: ConsoleDep) -> dict[str, Any]:
    summary = console.license.renew(body.text, actor=caller.actor)
    console.gateway.gate.refresh()  # a renewal takes effect at once: a stopped model loads again
    return summary


@router.post("/license/request")
def license_request(caller: AdminCallerDep, console: ConsoleDep) -> Response:
    text = console.license.activation_request(actor=caller.actor)
    return Response(
        text,
        media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="codemoat-activation-request.txt"'},
    )


@router.get("/usage")
def usage(
    _: AdminCallerDep, console: ConsoleDep, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> dict[str, Any]:
    return console.usage.summary(days=days)


@router.get("/audit")
def audit(
    _: AdminCallerDep,
    console: ConsoleDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[int | None, Query(ge=1)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    return {
        "entries": [e.to_json() for e in console.audit.entries(limit=limit, before=before, action=action)]
    }


@router.get("/audit/verify")
def audit_verify(_: AdminCallerDep, console: ConsoleDep) -> dict[str, Any]:
    return console.audit.verify().to_json()
