"""The console's settings (TOML `[console]`, env `CODEMOAT_CONSOLE__SESSION_HOURS`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ConsoleSettings(BaseModel):
    model_config = {"extra": "forbid"}

    enabled: bool = True
    session_hours: float = Field(12.0, gt=0, le=24 * 30, description="A sign-in lasts at most this long.")
    idle_minutes: float = Field(120.0, gt=0, description="A session unused this long ends.")
    # "auto": Secure cookies when the server itself speaks TLS; "always" behind a TLS-terminating proxy.
    cookie_secure: Literal["auto", "always", "never"] = "auto"
    max_failed_logins: int = Field(5, ge=1, description="Failed sign-ins for one user before a lockout.")
    max_failed_logins_per_source: int = Field(30, ge=1, description="Failed sign-ins from one address.")
    failed_login_window_s: float = Field(900.0, gt=0)
    lockout_s: float = Field(60.0, gt=0, description="First lockout; it doubles with each further failure.")
    max_lockout_s: float = Field(900.0, gt=0)
    chat_max_tokens: int = Field(512, ge=1, description="Answer length in the console's chat.")
    chat_history_messages: int = Field(12, ge=1, description="Earlier messages sent along with a question.")
    max_message_chars: int = Field(16_000, ge=1)
