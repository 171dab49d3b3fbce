"""Which repositories a user may read: administrators every one, users those their groups grant.

A token narrows its user's access (its optional `repos`) and never widens it, so the scope of a request is
the intersection of the two. The result is `Principal.repos`, which every retrieval filter reads."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from appliance.state.models import GroupMember, RepoGrant, Role


def granted_repos(session: Session, user_id: int) -> tuple[str, ...]:
    """The repositories the user's groups grant, sorted."""
    query = (
        select(RepoGrant.repo)
        .join(GroupMember, GroupMember.group_id == RepoGrant.group_id)
        .where(GroupMember.user_id == user_id)
        .distinct()
    )
    return tuple(sorted(session.scalars(query)))


def user_scope(session: Session, user_id: int, role: str) -> tuple[str, ...] | None:
    """None (every repository) for an administrator, else the granted repositories (maybe none)."""
    if role == Role.ADMIN.value:
        return None
    return granted_repos(session, user_id)


def narrow(user: tuple[str, ...] | None, token: Sequence[str] | None) -> tuple[str, ...] | None:
    """The scope of a request: what the user may read, narrowed by the token's own list when it has one."""
    if token is None:
        return user
    if user is None:
        return tuple(sorted(set(token)))
    allowed = set(user)
    return tuple(sorted(r for r in set(token) if r in allowed))


def effective_scope(
    session: Session, user_id: int, role: str, token_repos: Sequence[str] | None
) -> tuple[str, ...] | None:
    return narrow(user_scope(session, user_id, role), token_repos)
