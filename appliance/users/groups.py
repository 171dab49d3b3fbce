"""Groups: create and delete, members, and the repositories a group grants. Every change is audited."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from appliance.audit.log import Actor, AuditLog
from appliance.errors import ConflictError, NotFoundError
from appliance.state.db import Database
from appliance.state.models import Group, GroupMember, RepoGrant, User, utcnow
from appliance.users.validation import check_name, check_repo, check_text


@dataclass(frozen=True, slots=True)
class GroupInfo:
    id: int
    name: str
    description: str
    created: datetime
    members: tuple[str, ...]
    repos: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "created": self.created.isoformat(),
            "members": list(self.members),
            "repos": list(self.repos),
        }


def _info(session: Session, group: Group) -> GroupInfo:
    members = tuple(
        sorted(
            session.scalars(
                select(User.name)
                .join(GroupMember, GroupMember.user_id == User.id)
                .where(GroupMember.group_id == group.id)
            )
        )
    )
    repos = tuple(sorted(session.scalars(select(RepoGrant.repo).where(RepoGrant.group_id == group.id))))
    return GroupInfo(group.id, group.name, group.description, group.created, members, repos)


class Groups:
    def __init__(self, db: Database, audit: AuditLog) -> None:
        self._db = db
        self._audit = audit

    def list(self) -> list[GroupInfo]:
        with self._db.session() as session:
            return [_info(session, g) for g in session.scalars(select(Group).order_by(Group.name))]

    def get(self, name: str) -> GroupInfo:
        with self._db.session() as session:
            return _info(session, self._group(session, name))

    def create(
        self,
        name: str,
        *,
        description: str = "",
        members: Sequence[str] = (),
        repos: Sequence[str] = (),
        actor: Actor,
    ) -> GroupInfo:
        name = check_name("group", name)
        description = check_text(description, param="description", max_chars=512)
        repos = sorted({check_repo(r, param="repos") for r in repos})
        with self._db.session() as session:
            if session.scalar(select(Group.id).where(Group.name == name)) is not None:
                raise ConflictError(f"name: a group named {name!r} already exists", param="name")
            group = Group(name=name, description=description, created=utcnow())
            session.add(group)
            session.flush()
            users = [self._user(session, m) for m in dict.fromkeys(members)]
            session.add_all(GroupMember(group_id=group.id, user_id=u.id) for u in users)
            session.add_all(RepoGrant(group_id=group.id, repo=r) for r in repos)
            session.flush()
            self._audit.record(
                session, actor, "group.create", name, members=[u.name for u in users], repos=repos
            )
            return _info(session, group)

    def delete(self, name: str, *, actor: Actor) -> None:
        with self._db.session() as session:
            group = self._group(session, name)
            info = _info(session, group)
            session.delete(group)
            self._audit.record(
                session, actor, "group.delete", name, members=list(info.members), repos=list(info.repos)
            )

    def add_member(self, name: str, user: str, *, actor: Actor) -> GroupInfo:
        with self._db.session() as session:
            group, member = self._group(session, name), self._user(session, user)
            exists = session.get(GroupMember, (group.id, member.id))
            if exists is None:
                session.add(GroupMember(group_id=group.id, user_id=member.id))
                session.flush()
                self._audit.record(session, actor, "group.member_add", name, user=member.name)
            return _info(session, group)

    def remove_member(self, name: str, user: str, *, actor: Actor) -> GroupInfo:
        with self._db.session() as session:
            group, member = self._group(session, name), self._user(session, user)
            row = session.get(GroupMember, (group.id, member.id))
            if row is None:
                raise NotFoundError(f"user: {user!r} is not a member of {name!r}", param="user")
            session.delete(row)
            session.flush()
            self._audit.record(session, actor, "group.member_remove", name, user=member.name)
            return _info(session, group)

    def grant(self, name: str, repo: str, *, actor: Actor) -> GroupInfo:
        repo = check_repo(repo)
        with self._db.session() as session:
            group = self._group(session, name)
            if session.get(RepoGrant, (group.id, repo)) is None:
                session.add(RepoGrant(group_id=group.id, repo=repo))
                session.flush()
                self._audit.record(session, actor, "group.grant", name, repo=repo)
            return _info(session, group)

    def revoke(self, name: str, repo: str, *, actor: Actor) -> GroupInfo:
        repo = check_repo(repo)
        with self._db.session() as session:
            group = self._group(session, name)
            row = session.get(RepoGrant, (group.id, repo))
            if row is None:
                raise NotFoundError(f"repo: group {name!r} is not granted {repo!r}", param="repo")
            session.delete(row)
            session.flush()
            self._audit.record(session, actor, "group.revoke", name, repo=repo)
            return _info(session, group)

    def forget_repo(self, session: Session, repo: str) -> int:
        """Drop every grant of a repository (it was removed); in the caller's transaction."""
        return int(session.execute(delete(RepoGrant).where(RepoGrant.repo == repo)).rowcount or 0)  # type: ignore[attr-defined]

    @staticmethod
    def _group(session: Session, name: str) -> Group:
        group = session.scalar(select(Group).where(Group.name == name))
        if group is None:
            raise NotFoundError(f"no group named {name!r}", param="group")
        return group

    @staticmethod
    def _user(session: Session, name: str) -> User:
        user = session.scalar(select(User).where(User.name == name))
        if user is None:
            raise NotFoundError(f"user: no user named {name!r}", param="user")
        return user
