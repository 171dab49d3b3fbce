"""The console's JSON API for everyone signed in: who am I, which repositories may I read, conversations and
their streamed answers, code search and source previews. Each one reads `Principal.repos`: the same scope the
OpenAI-compatible endpoints retrieve within."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from appliance.auth.errors import PermissionDeniedError
from appliance.console import chat
from appliance.console.deps import CallerDep, ConsoleDep
from appliance.console.routing import ApiRoute
from appliance.console.source_view import excerpt_json
from appliance.errors import InvalidInputError
from appliance.excerpts import read_excerpt

router = APIRouter(prefix="/api", tags=["console"], route_class=ApiRoute)


class NewConversation(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    title: str | None = Field(None, max_length=200)
    repos: list[str] | None = Field(None, max_length=64)


class ConversationChange(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    title: str | None = Field(None, max_length=200)
    repos: list[str] | None = Field(None, max_length=64)


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    content: str = Field(max_length=100_000)
    repos: list[str] | None = Field(None, max_length=64)


def _check_access(caller: CallerDep, repos: list[str] | None) -> None:
    if repos:
        caller.principal.scope(repos)


@router.get("/me")
def me(caller: CallerDep) -> dict[str, Any]:
    p = caller.principal
    return {
        "id": p.user_id,
        "name": p.user_name,
        "role": p.role,
        "repos": list(p.repos) if p.repos is not None else None,
        "csrf": caller.session.csrf if caller.session else None,
    }


@router.get("/repositories")
def readable_repositories(caller: CallerDep, console: ConsoleDep) -> dict[str, Any]:
    """The repositories the caller may choose from (the chat's repository selector)."""
    names = sorted(set(console.repositories.names()))
    return {"repositories": [n for n in names if caller.principal.may_read(n)]}


@router.get("/conversations")
def list_conversations(caller: CallerDep, console: ConsoleDep) -> dict[str, Any]:
    items = console.conversations.list(caller.principal.user_id)
    return {"conversations": [c.to_json(with_messages=False) for c in items]}


@router.post("/conversations", status_code=201)
def create_conversation(body: NewConversation, caller: CallerDep, console: ConsoleDep) -> dict[str, Any]:
    _check_access(caller, body.repos)
    return console.conversations.create(
        caller.principal.user_id, title=body.title, repos=body.repos
    ).to_json()


@router.get("/conversations/{conversation_id}")
def get_conversation(conversation_id: int, caller: CallerDep, console: ConsoleDep) -> dict[str, Any]:
    view = console.conversations.get(caller.principal.user_id, conversation_id).to_json()
    for message in view["messages"]:
        if message["role"] == "assistant":
            message["html"] = chat.markdown_html(message["content"])
    return view


@router.patch("/conversations/{conversation_id}")
def change_conversation(
    conversation_id: int, body: ConversationChange, caller: CallerDep, console: ConsoleDep
) -> dict[str, Any]:
    _check_access(caller, body.repos)
    return console.conversations.update(
        caller.principal.user_id,
        conversation_id,
        title=body.title,
        repos=body.repos,
        set_repos="repos" in body.model_fields_set,
    ).to_json()


@router.delete("/conversations/{conversation_id}", status_code=204)
def delete_conversation(conversation_id: int, caller: CallerDep, console: ConsoleDep) -> Response:
    console.conversations.delete(caller.principal.user_id, conversation_id)
    return Response(status_code=204)


@router.post(
    "/conversations/{conversation_id}/messages", summary="Ask; the answer streams as server-sent events"
)
async def ask(
    conversation_id: int, body: Question, caller: CallerDep, console: ConsoleDep, request: Request
) -> Response:
    return await chat.answer(console, caller.principal, conversation_id, body.content, body.repos, request)


@router.get("/search", summary="Search the code the caller may read")
def search(
    caller: CallerDep,
    console: ConsoleDep,
    q: Annotated[str, Query(min_length=1, max_length=2000)],
    repo: Annotated[list[str] | None, Query()] = None,
    k: Annotated[int, Query(ge=1, le=50)] = 10,
    mode: Annotated[str, Query(pattern="^(hybrid|dense|sparse)$")] = "hybrid",
) -> dict[str, Any]:
    from indexer.types import SearchFilter

    scope = caller.principal.scope(repo or None)
    index = console.gateway.index
    if not q.strip():
        raise InvalidInputError("q: give something to search for", param="q")
    if index is None or (scope is not None and not scope):
        return {"hits": []}
    hits = index.search(q, k=k, mode=mode, flt=SearchFilter(repos=scope))  # type: ignore[arg-type]
    return {"hits": [h.to_json() for h in hits if caller.principal.may_read(h.repo)]}


@router.get("/sources", summary="Lines of an indexed file (a cited source's preview)")
async def source(
    caller: CallerDep,
    console: ConsoleDep,
    repo: Annotated[str, Query(min_length=1, max_length=256)],
    path: Annotated[str, Query(min_length=1, max_length=1024)],
    start_line: Annotated[int, Query(ge=1)] = 1,
    end_line: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    if not caller.principal.may_read(repo):
        raise PermissionDeniedError(f"you may not read repository {repo!r}", param="repo")
    excerpt = await run_in_threadpool(
        read_excerpt,
        console.gateway.index,
        console.settings.indexer,
        repo,
        path,
        start_line,
        end_line if end_line is not None else start_line + 199,
    )
    return excerpt_json(excerpt)
