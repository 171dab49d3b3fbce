"""Sign-in throttling: after `max_failures` failed sign-ins for one user name (or `max_failures_per_source`
from one address) within the window, further attempts are refused for a lockout that doubles with each
further failure, up to a ceiling. Counters live in the state database, so every gateway replica sees them.
`failed` returns the lockouts it started, so that the sign-in audits each lockout once (not each refusal)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from appliance.state.db import Database
from appliance.state.errors import DatabaseError
from appliance.state.models import LoginFailure, utcnow
from appliance.users.errors import SignInThrottledError


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    max_failures: int = 5
    max_failures_per_source: int = 30
    window_s: float = 900.0
    lockout_s: float = 60.0
    max_lockout_s: float = 900.0


@dataclass(frozen=True, slots=True)
class Lockout:
    """A key locked out by the failure just counted."""

    key: str
    failures: int
    seconds: float
    until: datetime

    @property
    def kind(self) -> str:
        return "address" if self.key.startswith("ip:") else "user"

    @property
    def subject(self) -> str:
        """The user name (lower-cased) or the client address the key counts for."""
        return self.key.split(":", 1)[1]


def user_key(name: str) -> str:
    return f"user:{name.strip().lower()[:150]}"


def source_key(address: str) -> str:
    return f"ip:{address[:150]}"


class LoginThrottle:
    def __init__(
        self, db: Database, policy: ThrottlePolicy, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._db = db
        self.policy = policy
        self._clock = clock

    def check(self, keys: Sequence[str]) -> None:
        """Raise SignInThrottledError while any of the keys is locked out."""
        now = self._clock()
        with self._db.session() as session:
            rows = session.scalars(select(LoginFailure).where(LoginFailure.key.in_(keys))).all()
        waits = [
            (row.locked_until - now).total_seconds()
            for row in rows
            if row.locked_until is not None and row.locked_until > now
        ]
        if waits:
            wait = math.ceil(max(waits))
            raise SignInThrottledError(
                f"too many failed sign-ins: try again in {wait} seconds", retry_after=wait
            )

    def failed(self, keys: Sequence[str]) -> list[Lockout]:
        """Count a failed sign-in against each key; returns the keys this failure locked out."""
        try:
            return self._count(keys)
        except (
            DatabaseError
        ):  # two first failures raced to insert the same key: count once more, now it exists
            return self._count(keys)

    def _count(self, keys: Sequence[str]) -> list[Lockout]:
        now = self._clock()
        window = timedelta(seconds=self.policy.window_s)
        locked: list[Lockout] = []
        with self._db.session() as session:
            for key in keys:
                limit = (
                    self.policy.max_failures_per_source if key.startswith("ip:") else self.policy.max_failures
                )
                row = session.get(LoginFailure, key)
                if row is None:
                    row = LoginFailure(key=key, failures=0, first_failure=now)
                    session.add(row)
                elif now - row.first_failure > window and (
                    row.locked_until is None or row.locked_until <= now
                ):
                    row.failures, row.first_failure, row.locked_until = 0, now, None
                row.failures += 1
                if row.failures >= limit:
                    doublings = min(row.failures - limit, 16)
                    seconds = min(self.policy.lockout_s * 2**doublings, self.policy.max_lockout_s)
                    row.locked_until = now + timedelta(seconds=seconds)
                    locked.append(Lockout(key, row.failures, seconds, row.locked_until))
        return locked

    def succeeded(self, keys: Sequence[str]) -> None:
        with self._db.session() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.key.in_(keys)))
