"""Users: create, list, disable and enable, change role, set or reset a password, check a password.

Every change is recorded in the audit log in the same transaction. The last enabled administrator can be
neither disabled nor demoted, so the appliance never locks its operators out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from appliance.audit.log import Actor, AuditLog
from appliance.errors import ConflictError, InvalidInputError, NotFoundError
from appliance.state.db import Database
from appliance.state.models import ConsoleSession, Group, GroupMember, Role, User, utcnow
from appliance.users.access import user_scope
from appliance.users.errors import SignInError
from appliance.users.passwords import generate_password, hash_password, verify_password
from appliance.users.validation import check_name, check_password

ROLES = (Role.ADMIN.value, Role.USER.value)


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    name: str
    role: str
    disabled: bool
    has_password: bool
    created: datetime
    last_login: datetime | None
    groups: tuple[str, ...] = ()
    repos: tuple[str, ...] | None = None  # what the user may read (None: every repository)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "disabled": self.disabled,
            "has_password": self.has_password,
            "created": self.created.isoformat(),
            "last_login": self.last_login.isoformat() if self.last_login else None,
            "groups": list(self.groups),
            "repos": list(self.repos) if self.repos is not None else None,
        }


@dataclass(frozen=True, slots=True)
class CreatedUser:
    user: UserInfo
    password: str | None  # generated: shown once to the administrator


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInputError("role: must be 'admin' or 'user'", param="role")
    return role


def _info(session: Session, user: User) -> UserInfo:
    groups = tuple(
        sorted(
            session.scalars(
                select(Group.name)
                .join(GroupMember, GroupMember.group_id == Group.id)
                .where(GroupMember.user_id == user.id)
            )
        )
    )
    return UserInfo(
        user.id,
        user.name,
        user.role,
        user.disabled,
        user.password_hash is not None,
        user.created,
        user.last_login,
        groups,
        user_scope(session, user.id, user.role),
    )


class Accounts:
    def __init__(self, db: Database, audit: AuditLog, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock

    # -- reading -----------------------------------------------------------------------------------------------

    def list(self) -> list[UserInfo]:
        with self._db.session() as session:
            return [_info(session, u) for u in session.scalars(select(User).order_by(User.name))]

    def get(self, name: str) -> UserInfo:
        with self._db.session() as session:
            return _info(session, self._user(session, name))

    def by_id(self, user_id: int) -> UserInfo | None:
        with self._db.session() as session:
            user = session.get(User, user_id)
            return _info(session, user) if user is not None else None

    # -- changing ----------------------------------------------------------------------------------------------

    def create(
        self,
        name: str,
        *,
        role: str = "user",
        password: str | None = None,
        generate: bool = False,
        actor: Actor,
    ) -> CreatedUser:
        """Create a user. `password` sets it; `generate` makes one (returned once); neither: token sign-in only."""
        name = check_name("user", name)
        check_role(role)
        generated = generate_password() if generate and password is None else None
        secret = password if password is not None else generated
        if secret is not None and password is not None:
            check_password(secret)
        with self._db.session() as session:
            if session.scalar(select(User.id).where(User.name == name)) is not None:
                raise ConflictError(f"name: a user named {name!r} already exists", param="name")
            user = User(
                name=name,
                role=role,
                created=self._clock(),
                password_hash=hash_password(secret) if secret is not None else None,
            )
            session.add(user)
            try:
                session.flush()
            except IntegrityError:
                raise ConflictError(f"name: a user named {name!r} already exists", param="name") from None
            self._audit.record(session, actor, "user.create", name, role=role, password=secret is not None)
            return CreatedUser(_info(session, user), generated)

    def set_disabled(self, name: str, disabled: bool, *, actor: Actor) -> UserInfo:
        with self._db.session() as session:
            user = self._user(session, name)
            if disabled and user.is_admin and not user.disabled:
                self._keep_an_admin(session, user, "disable")
            if user.disabled != disabled:
                user.disabled = disabled
                if disabled:  # sign them out everywhere
                    session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id))
                self._audit.record(session, actor, "user.disable" if disabled else "user.enable", name)
            return _info(session, user)

    def set_role(self, name: str, role: str, *, actor: Actor) -> UserInfo:
        check_role(role)
        with self._db.session() as session:
            user = self._user(session, name)
            if user.role != role:
                if user.is_admin:
                    self._keep_an_admin(session, user, "demote")
                previous, user.role = user.role, role
                self._audit.record(session, actor, "user.role", name, role=role, previous=previous)
            return _info(session, user)

    def set_password(
        self, name: str, password: str | None, *, actor: Actor, param: str = "password"
    ) -> str | None:
        """Set `password`, or generate one when it is None (returned once). Signs the user out everywhere."""
        generated = generate_password() if password is None else None
        if password is not None:
            check_password(password, param=param)
        with self._db.session() as session:
            user = self._user(session, name)
            user.password_hash = hash_password(password if password is not None else generated)  # type: ignore[arg-type]
            session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id))
            action = "user.password_change" if actor.user_id == user.id else "user.password_reset"
            self._audit.record(session, actor, action, name, generated=generated is not None)
        return generated

    def change_own_password(self, user_id: int, current: str, new: str, *, actor: Actor) -> None:
        with self._db.session() as session:
            user = session.get(User, user_id)
            if user is None:
                raise NotFoundError("no such user")
            name, stored = user.name, user.password_hash
        if stored is not None and not verify_password(current, stored):
            raise InvalidInputError(
                "current_password: this is not your current password", param="current_password"
            )
        if current == new:
            raise InvalidInputError(
                "new_password: choose a password you did not use just now", param="new_password"
            )
        self.set_password(name, new, actor=actor, param="new_password")

    # -- signing in --------------------------------------------------------------------------------------------

    def check_password(self, name: str, password: str) -> UserInfo:
        """The user, when `password` is theirs and they may sign in. Raises SignInError otherwise, with the same
        message and after the same work whether or not the user exists."""
        with self._db.session() as session:
            user = session.scalar(select(User).where(User.name == name))
            stored = user.password_hash if user is not None else None
        if not verify_password(password, stored) or user is None:
            raise SignInError("wrong user name or password")
        if user.disabled:
            raise SignInError(f"the account {name!r} is disabled; ask an administrator")
        with self._db.session() as session:
            row = session.get(User, user.id)
            if row is not None:
                row.last_login = self._clock()
                return _info(session, row)
        raise SignInError("wrong user name or password")

    # -- helpers -----------------------------------------------------------------------------------------------

    @staticmethod
    def _user(session: Session, name: str) -> User:
        user = session.scalar(select(User).where(User.name == name))
        if user is None:
            raise NotFoundError(f"no user named {name!r}", param="name")
        return user

    @staticmethod
    def _keep_an_admin(session: Session, user: User, verb: str) -> None:
        others = session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == Role.ADMIN.value, User.disabled.is_(False), User.id != user.id)
        )
        if not others:
            raise ConflictError(
                f"cannot {verb} {user.name!r}: it is the last enabled administrator", param="name"
            )
