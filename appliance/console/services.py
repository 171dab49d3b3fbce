"""What the console works with, built once when the app starts (in `appliance.wiring`, from the gateway's own
services and the job runner) and reached through `deps.ConsoleDep`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from appliance.api.services import Services
from appliance.audit.log import AuditLog
from appliance.console.conversations import Conversations
from appliance.console.license_panel import LicensePanel
from appliance.console.sessions import SessionStore
from appliance.console.usage_stats import UsageStats
from appliance.jobs.runner import JobRunner
from appliance.jobs.sources import RepositorySources
from appliance.users.accounts import Accounts
from appliance.users.groups import Groups
from appliance.users.throttle import LoginThrottle, ThrottlePolicy

if TYPE_CHECKING:
    from appliance.config import Settings


@dataclass
class ConsoleServices:
    settings: Settings
    gateway: Services
    audit: AuditLog
    accounts: Accounts
    groups: Groups
    sessions: SessionStore
    throttle: LoginThrottle
    runner: JobRunner
    repositories: RepositorySources
    conversations: Conversations
    usage: UsageStats
    license: LicensePanel

    @classmethod
    def build(
        cls, settings: Settings, gateway: Services, runner: JobRunner, audit: AuditLog
    ) -> ConsoleServices:
        db = gateway.db
        console = settings.console
        return cls(
            settings=settings,
            gateway=gateway,
            audit=audit,
            accounts=Accounts(db, audit),
            groups=Groups(db, audit),
            sessions=SessionStore(
                db,
                lifetime=timedelta(hours=console.session_hours),
                idle=timedelta(minutes=console.idle_minutes),
            ),
            throttle=LoginThrottle(
                db,
                ThrottlePolicy(
                    max_failures=console.max_failed_logins,
                    max_failures_per_source=console.max_failed_logins_per_source,
                    window_s=console.failed_login_window_s,
                    lockout_s=console.lockout_s,
                    max_lockout_s=console.max_lockout_s,
                ),
            ),
            runner=runner,
            repositories=RepositorySources(runner, audit),
            conversations=Conversations(db),
            usage=UsageStats(db),
            license=LicensePanel(settings, audit),
        )

    def cookie_secure(self, request_is_https: bool) -> bool:
        mode = self.settings.console.cookie_secure
        return mode == "always" or (mode == "auto" and request_is_https)
