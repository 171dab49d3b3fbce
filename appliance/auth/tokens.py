"""Bearer tokens: issue (shown once), list, revoke, and resolve a presented secret to a `Principal`.

A token is `cm_` + 43 URL-safe characters (256 random bits from `secrets`). Only its SHA-256 is stored: a
salted slow hash buys nothing for a secret with 256 bits of entropy, and a plain digest lets the lookup be one
indexed equality query."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from appliance.auth.errors import (
    AuthenticationError,
    PermissionDeniedError,
    TokenConflictError,
    TokenNotFoundError,
    TokenScopeError,
)
from appliance.auth.principal import Principal
from appliance.state.db import Database
from appliance.state.models import ApiToken, Role, User, utcnow
from appliance.users.access import effective_scope, user_scope

TOKEN_PREFIX = "cm_"
DISPLAY_CHARS = 11  # "cm_" + 8 characters: enough to tell tokens apart, far too few to guess the rest
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")
_REPO = re.compile(r"^[^\s,]{1,256}$")


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    name: str
    user: str
    role: str
    prefix: str
    repos: tuple[str, ...] | None
    created: datetime
    last_used: datetime | None
    revoked: datetime | None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "user": self.user,
            "role": self.role,
            "prefix": self.prefix,
            "repos": list(self.repos) if self.repos is not None else None,
            "created": self.created.isoformat(),
            "last_used": self.last_used.isoformat() if self.last_used else None,
            "revoked": self.revoked.isoformat() if self.revoked else None,
        }


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """What `create` returns: the only time the secret exists outside the caller's hands."""

    token: str
    info: TokenInfo


def _info(token: ApiToken, user: User) -> TokenInfo:
    return TokenInfo(
        id=token.id,
        name=token.name,
        user=user.name,
        role=user.role,
        prefix=token.prefix,
        repos=tuple(token.repos) if token.repos is not None else None,
        created=token.created,
        last_used=token.last_used,
        revoked=token.revoked,
    )


def _check_name(what: str, name: str) -> str:
    if not _NAME.match(name):
        raise TokenConflictError(
            f"invalid {what} name {name!r}: use 1-128 letters, digits and . _ @ + - "
            "(starting with a letter or digit)"
        )
    return name


def _check_repos(repos: Sequence[str] | None) -> list[str] | None:
    if repos is None:
        return None
    cleaned = sorted({r.strip() for r in repos if r.strip()})
    for repo in cleaned:
        if not _REPO.match(repo):
            raise TokenConflictError(f"invalid repository name {repo!r}")
    return cleaned


def _check_scope(session: Session, owner: User, scope: list[str] | None) -> None:
    """A token narrows what its user may read and never widens it, so naming a repository outside that is a
    mistake to say at once, not a token that silently reads less than its name promises."""
    if scope is None or owner.is_admin:
        return
    readable = set(user_scope(session, owner.id, owner.role) or ()) if owner.id is not None else set()
    outside = [repo for repo in scope if repo not in readable]
    if outside:
        raise TokenScopeError(
            f"user {owner.name!r} may not read {', '.join(outside)}: grant the repositories to one of the "
            "user's groups first, or leave them out of the token",
            param="repos",
        )


class TokenStore:
    """Tokens and their users in the state database. Thread-safe: each call is its own session."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], datetime] = utcnow,
        touch_interval: timedelta = timedelta(seconds=60),
    ) -> None:
        self._db = db
        self._clock = clock
        # `last_used` is written at most this often per token: serving stays read-only in steady state.
        self._touch_interval = touch_interval

    def create(
        self,
        name: str,
        *,
        user: str | None = None,
        admin: bool = False,
        repos: Sequence[str] | None = None,
    ) -> IssuedToken:
        """Issue a token named `name` for `user` (default: a user of the same name, created when missing)."""
        _check_name("token", name)
        user_name = _check_name("user", user or name)
        scope = _check_repos(repos)
        secret = new_secret()
        with self._db.session() as session:
            owner = session.scalar(select(User).where(User.name == user_name))
            if owner is None:
                owner = User(
                    name=user_name, role=(Role.ADMIN if admin else Role.USER).value, created=self._clock()
                )
                session.add(owner)
            elif admin and not owner.is_admin:
                raise TokenConflictError(f"user {user_name!r} exists and is not an administrator")
            elif owner.disabled:
                raise TokenConflictError(f"user {user_name!r} is disabled")
            if self._live_by_name(session, name) is not None:
                raise TokenConflictError(f"a token named {name!r} already exists (revoke it first)")
            _check_scope(session, owner, scope)
            token = ApiToken(
                user=owner,
                name=name,
                hash=hash_secret(secret),
                prefix=secret[:DISPLAY_CHARS],
                repos=scope,
                created=self._clock(),
            )
            session.add(token)
            try:
                session.flush()
            except IntegrityError:
                # Another process created the same name between our check and our insert.
                raise TokenConflictError(f"a token named {name!r} already exists (revoke it first)") from None
            return IssuedToken(token=secret, info=_info(token, owner))

    def list_tokens(self, *, include_revoked: bool = False) -> list[TokenInfo]:
        with self._db.session() as session:
            query = select(ApiToken, User).join(User).order_by(ApiToken.id)
            if not include_revoked:
                query = query.where(ApiToken.revoked.is_(None))
            return [_info(token, user) for token, user in session.execute(query)]

    def revoke(self, name_or_id: str) -> TokenInfo:
        """Revoke the live token with this name, or the token with this numeric id (idempotent by id)."""
        with self._db.session() as session:
            token: ApiToken | None
            if name_or_id.isdigit():
                token = session.get(ApiToken, int(name_or_id))
            else:
                token = self._live_by_name(session, name_or_id)
            if token is None:
                raise TokenNotFoundError(
                    f"no live token named or numbered {name_or_id!r} (see `codemoat token list`)"
                )
            if token.revoked is None:
                token.revoked = self._clock()
            return _info(token, token.user)

    def authenticate(self, secret: str) -> Principal:
        """The principal behind a presented secret. Raises AuthenticationError (unknown secret) or
        PermissionDeniedError (revoked token, disabled user)."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 128:
            raise AuthenticationError("invalid API token")
        with self._db.session() as session:
            row = session.execute(
                select(ApiToken, User).join(User).where(ApiToken.hash == hash_secret(secret))
            ).first()
            if row is None:
                raise AuthenticationError("invalid API token")
            token, user = row
            if token.revoked is not None:
                raise PermissionDeniedError(f"API token {token.name!r} was revoked")
            if user.disabled:
                raise PermissionDeniedError(f"user {user.name!r} is disabled")
            now = self._clock()
            if token.last_used is None or now - token.last_used >= self._touch_interval:
                token.last_used = now
            return Principal(
                user_id=user.id,
                user_name=user.name,
                role=user.role,
                token_id=token.id,
                token_name=token.name,
                # What the user's groups grant (everything for an administrator), narrowed by the token.
                repos=effective_scope(session, user.id, user.role, token.repos),
            )

    @staticmethod
    def _live_by_name(session: Session, name: str) -> ApiToken | None:
        return session.scalar(select(ApiToken).where(ApiToken.name == name, ApiToken.revoked.is_(None)))
