"""`license` in the appliance settings: when the gateway enforces a license and how it re-checks it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

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
    tpm: Literal["auto", "required", "off"] = Field(
        "auto",
        description="Seal the device keys to the TPM 2.0: auto (when one answers), required (refuse keys that "
        "are not sealed), off (keys in owner-only files).",
    )
    tpm_tcti: str = Field(
        "device:/dev/tpmrm0", description="How to reach the TPM (libtss2 TCTI, e.g. swtpm:host=HOST,port=N)."
    )
    tpm_timeout_s: float = Field(
        15.0, gt=0, description="How long to wait for a TPM another program holds before giving up."
    )
    tpm_pcrs: list[int] = Field(
        default_factory=list,
        description="SHA-256 PCRs the sealed keys also require unchanged (e.g. [7] for Secure Boot state).",
    )

    @field_validator("tpm_pcrs")
    @classmethod
    def _pcrs_exist(cls, pcrs: list[int]) -> list[int]:
        wrong = [p for p in pcrs if not 0 <= p <= 23]
        if wrong:
            raise ValueError(f"PCR {wrong[0]} is not a PCR number from 0 to 23")
        return sorted(set(pcrs))

    @field_validator("relay_url")
    @classmethod
    def _relay_is_http(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"relay URL {url!r} must start with http:// or https://")
        return url
