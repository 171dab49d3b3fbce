"""The caller a request runs as, resolved once per request from its token and passed down."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from appliance.auth.errors import PermissionDeniedError


@dataclass(frozen=True, slots=True)
class Principal:
    """`repos` is the set of repositories this caller may read: None means all of them, an empty tuple none.

    It is what the user's groups grant (every repository for an administrator), narrowed by the token's own
    scope (`appliance.users.access`): resolved in `TokenStore.authenticate` and for console sessions, so that
    every consumer (retrieval filters, sources) reads this one field. `token_id` is None for a console session
    signed in with a password."""

    user_id: int
    user_name: str
    role: str
    token_id: int | None
    token_name: str
    repos: tuple[str, ...] | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may_read(self, repo: str) -> bool:
        return self.repos is None or repo in self.repos

    def scope(self, requested: Sequence[str] | None = None) -> tuple[str, ...] | None:
        """The repositories a retrieval may touch: the requested ones (each must be allowed), else all
        allowed.

        Raises PermissionDeniedError naming `repo` when a requested repository is outside the scope."""
        if not requested:
            return self.repos
        for repo in requested:
            if not self.may_read(repo):
                raise PermissionDeniedError(f"this token may not read repository {repo!r}", param="repo")
        return tuple(requested)
