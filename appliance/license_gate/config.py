"""`license` in the appliance settings: when the gateway enforces a license and how it re-checks it."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, field_validator


class LicenseSettings(BaseModel):
    """A license is enforced when one is installed, when the model is sealed (it cannot load without one), or
    always with `required = true`. Otherwise the open bundled model serves as UNLICENSED."""

    model_config = {"extra": "forbid"}

    required: bool = Field(False, description="Refuse to serve without a valid license, sealed model or not.")
    heartbeat_interval_s: float = Field(300.0, gt=0, description="How often the license is re-checked.")
    seat_window_s: float = Field(3600.0, gt=0, description="A user holds a seat this long after a request.")
    relay_url: str | None = Field(None, description="License relay that renews leases automatically.")
    renew_before_days: int = Field(7, ge=1, description="Ask the relay this long before the lease ends.")
    keyserver_socket: Path | None = Field(
        None, description="Unix socket handing model keys to vLLM (default <home>/run/keys/keyserver.sock)."
    )

    @field_validator("relay_url")
    @classmethod
    def _relay_is_http(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"relay URL {url!r} must start with http:// or https://")
        return url
