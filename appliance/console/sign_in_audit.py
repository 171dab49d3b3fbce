"""Audit entries of console sign-ins, with the client address as the source:

- `sign_in.success`: the user (actor and target), `method` password or token (and the token's name).
- `sign_in.failure`: a failed sign-in *for an existing account* (a wrong password, a disabled account), or
  with a real token that was revoked or whose user is disabled. The actor is `anonymous`: nobody was
  authenticated.
- `sign_in.lockout`: the throttle locked out an existing account, or a client address; once per lockout.

What is not written, so that nobody can fill the log from outside: a failure with an unknown user name or a
token that matches nothing (each address's such failures are counted by the throttle, and its lockout is
written with the count), and the attempts refused while a lockout lasts. So failure entries per account are
bounded by the throttle (an account that is locked out counts no failures), and a lockout entry costs an
address `max_failures_per_source` failures.

Failure entries are written after the answer was sent (a background task), so that the answer to a known user
name does not take one database write longer than the answer to an unknown one."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from appliance.audit.log import Actor, AuditLog
from appliance.state.db import Database
from appliance.state.errors import DatabaseError
from appliance.state.models import ApiToken, User
from appliance.users.throttle import Lockout

log = logging.getLogger("codemoat.console")

ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class FailedSignIn:
    method: str  # "password" or "token"
    source: str  # the client address
    reason: str  # the message the sign-in page showed
    username: str = ""  # password sign-ins: the name typed
    token_hash: str | None = None  # token sign-ins refused for a token that exists (revoked, user disabled)
    lockouts: Sequence[Lockout] = ()


class SignInAudit:
    def __init__(self, db: Database, audit: AuditLog) -> None:
        self._db = db
        self._audit = audit

    def succeeded(
        self, *, user_id: int, user_name: str, source: str, method: str, token_name: str | None = None
    ) -> None:
        detail = {"method": method} | ({"token": token_name} if token_name else {})
        self._audit.append(Actor(user_name, user_id, source), "sign_in.success", user_name, **detail)

    def failed(self, attempt: FailedSignIn) -> None:
        """Write what `attempt` calls for. Runs after the answer was sent: a database error is logged, not
        raised."""
        try:
            self._write_failure(attempt)
        except DatabaseError as exc:
            log.warning("sign-in failure from %s not audited: %s", attempt.source, exc)

    def _write_failure(self, attempt: FailedSignIn) -> None:
        actor = Actor(ANONYMOUS, None, attempt.source)
        with self._db.session() as session:
            account: str | None = None
            detail: dict[str, str] = {"method": attempt.method, "reason": attempt.reason}
            if attempt.method == "password" and attempt.username:
                # The throttle counts user names case-blind; so does the question "is this an account?".
                account = session.scalar(
                    select(User.name)
                    .where(func.lower(User.name) == attempt.username.strip().lower())
                    .order_by(User.id)
                    .limit(1)
                )
                if account is not None and account != attempt.username:
                    detail["typed"] = attempt.username
            elif attempt.token_hash is not None:
                row = session.execute(
                    select(ApiToken.name, User.name).join(User).where(ApiToken.hash == attempt.token_hash)
                ).first()
                if row is not None:
                    detail["token"], account = row[0], row[1]
            if account is not None:
                self._audit.record(session, actor, "sign_in.failure", account, **detail)
            for lockout in attempt.lockouts:
                if lockout.kind == "address":
                    target = lockout.subject
                elif account is not None and lockout.subject == account.lower()[:150]:
                    target = account
                else:  # a user name that is no account: the address's own lockout covers sprays of those
                    continue
                self._audit.record(
                    session,
                    actor,
                    "sign_in.lockout",
                    target,
                    kind=lockout.kind,
                    failures=lockout.failures,
                    seconds=lockout.seconds,
                    until=lockout.until.isoformat(),
                )
