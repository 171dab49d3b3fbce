"""Conversations, kept per user: list, open, rename, choose repositories, delete, and their messages.

Every call names the owner: a conversation of another user is "not found", never "forbidden", so ids reveal
nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from appliance.errors import InvalidInputError, NotFoundError
from appliance.state.db import Database
from appliance.state.models import Conversation, ConversationMessage, utcnow
from appliance.users.validation import check_repo

MAX_TITLE = 200
DEFAULT_TITLE = "New conversation"


@dataclass(frozen=True, slots=True)
class MessageView:
    id: int
    role: str
    content: str
    citations: list[dict[str, Any]]
    status: str
    created: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "role": self.role,
            "content": self.content,
            "citations": self.citations,
            "status": self.status,
            "created": self.created.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class ConversationView:
    id: int
    title: str
    repos: list[str] | None
    created: datetime
    updated: datetime
    messages: list[MessageView] = field(default_factory=list)

    def to_json(self, *, with_messages: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "repos": self.repos,
            "created": self.created.isoformat(),
            "updated": self.updated.isoformat(),
        }
        if with_messages:
            out["messages"] = [m.to_json() for m in self.messages]
        return out


def check_title(title: str) -> str:
    if not isinstance(title, str) or not title.strip():
        raise InvalidInputError("title: must not be empty", param="title")
    title = " ".join(title.split())
    if len(title) > MAX_TITLE:
        raise InvalidInputError(f"title: at most {MAX_TITLE} characters", param="title")
    return title


def check_repos(repos: list[str] | None) -> list[str] | None:
    if repos is None:
        return None
    return sorted({check_repo(r, param="repos") for r in repos})


def _message(row: ConversationMessage) -> MessageView:
    return MessageView(row.id, row.role, row.content, list(row.citations or []), row.status, row.created)


def _view(row: Conversation, messages: list[ConversationMessage] | None = None) -> ConversationView:
    return ConversationView(
        row.id,
        row.title,
        list(row.repos) if row.repos is not None else None,
        row.created,
        row.updated,
        [_message(m) for m in messages or []],
    )


class Conversations:
    def __init__(self, db: Database) -> None:
        self._db = db

    def list(self, user_id: int) -> list[ConversationView]:
        with self._db.session() as session:
            rows = session.scalars(
                select(Conversation)
                .where(Conversation.user_id == user_id)
                .order_by(Conversation.updated.desc(), Conversation.id.desc())
            )
            return [_view(r) for r in rows]

    def create(
        self, user_id: int, *, title: str | None = None, repos: list[str] | None = None
    ) -> ConversationView:
        title = check_title(title) if title is not None else DEFAULT_TITLE
        repos = check_repos(repos)
        now = utcnow()
        with self._db.session() as session:
            row = Conversation(user_id=user_id, title=title, repos=repos, created=now, updated=now)
            session.add(row)
            session.flush()
            return _view(row)

    def get(self, user_id: int, conversation_id: int) -> ConversationView:
        with self._db.session() as session:
            row = self._own(session, user_id, conversation_id)
            messages = list(
                session.scalars(
                    select(ConversationMessage)
                    .where(ConversationMessage.conversation_id == row.id)
                    .order_by(ConversationMessage.id)
                )
            )
            return _view(row, messages)

    def update(
        self,
        user_id: int,
        conversation_id: int,
        *,
        title: str | None = None,
        repos: list[str] | None = None,
        set_repos: bool = False,
    ) -> ConversationView:
        with self._db.session() as session:
            row = self._own(session, user_id, conversation_id)
            if title is not None:
                row.title = check_title(title)
            if set_repos:
                row.repos = check_repos(repos)
            row.updated = utcnow()
            return _view(row)

    def delete(self, user_id: int, conversation_id: int) -> None:
        with self._db.session() as session:
            row = self._own(session, user_id, conversation_id)
            session.execute(delete(ConversationMessage).where(ConversationMessage.conversation_id == row.id))
            session.delete(row)

    def add_message(
        self,
        user_id: int,
        conversation_id: int,
        role: str,
        content: str,
        *,
        citations: list[dict[str, Any]] | None = None,
        status: str = "ok",
    ) -> MessageView:
        with self._db.session() as session:
            conversation = self._own(session, user_id, conversation_id)
            row = ConversationMessage(
                conversation_id=conversation.id,
                role=role,
                content=content,
                citations=citations or [],
                status=status,
                created=utcnow(),
            )
            session.add(row)
            conversation.updated = row.created
            if role == "user" and conversation.title == DEFAULT_TITLE:
                conversation.title = " ".join(content.split())[:80] or DEFAULT_TITLE
            session.flush()
            return _message(row)

    @staticmethod
    def _own(session: Any, user_id: int, conversation_id: int) -> Conversation:
        row = session.get(Conversation, conversation_id)
        if row is None or row.user_id != user_id:
            raise NotFoundError(f"no conversation {conversation_id}", param="conversation")
        return row
