"""One settings object for the whole appliance, read from a TOML file and `CODEMOAT_*` environment variables,
validated at load and passed down to every service (no globals read from elsewhere).

Precedence: explicit arguments > environment (`CODEMOAT_HOME`, `CODEMOAT_INDEXER__CHUNK_BUDGET`, ...) >
the TOML file (`--config`, `CODEMOAT_CONFIG`, or `<home>/config.toml`) > defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from appliance.api.config import GatewaySettings
from appliance.console.config import ConsoleSettings
from appliance.engines.config import EngineSettings
from appliance.errors import ConfigError
from appliance.jobs.config import JobSettings
from appliance.license_gate.config import LicenseSettings
from appliance.logs import LogFormat
from appliance.mcp.config import McpSettings
from appliance.state.config import StateSettings
from indexer.config import IndexerSettings


def default_home() -> Path:
    return Path(os.environ.get("CODEMOAT_HOME") or Path.home() / ".codemoat").expanduser()


class ServerSettings(BaseModel):
    model_config = {"extra": "forbid"}

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Addresses of reverse proxies whose X-Forwarded-For/-Proto are believed. Empty: none, so no local process
    # can choose the client address that the audit log records and sign-in throttling keys on.
    trusted_proxies: list[str] = Field(default_factory=list)
    # A request header over either bound is a 431 before anything reads it (appliance.http_protocol).
    max_header_bytes: int = Field(32_768, ge=4096, le=1_048_576)
    max_headers: int = Field(100, ge=16, le=1000)
    # JSON lines for a service, readable text on a terminal ("auto"), or either always (appliance.logs).
    log_format: LogFormat = "auto"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODEMOAT_", env_nested_delimiter="__", extra="forbid")

    home: Path = Field(default_factory=default_home)
    indexer: IndexerSettings = Field(default_factory=IndexerSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    state: StateSettings = Field(default_factory=StateSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    license: LicenseSettings = Field(default_factory=LicenseSettings)
    mcp: McpSettings = Field(default_factory=McpSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_file = _CONFIG_FILE.get("path")
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


# The TOML path is chosen at load time, before the model exists; pydantic-settings reads it from here.
_CONFIG_FILE: dict[str, Path | None] = {"path": None}


def load_settings(*, home: Path | None = None, config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the Settings object once, at the edge (CLI or server start), and pass it down."""
    if config_file is None and os.environ.get("CODEMOAT_CONFIG"):
        config_file = Path(os.environ["CODEMOAT_CONFIG"])
    if config_file is None:
        candidate = (home or default_home()) / "config.toml"
        config_file = candidate if candidate.is_file() else None
    elif not config_file.is_file():
        raise ConfigError(f"configuration file {config_file} does not exist")
    if home is not None:
        overrides["home"] = home
    _CONFIG_FILE["path"] = config_file
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(f"invalid configuration: {where}: {first['msg']}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read configuration {config_file}: {exc}") from None
    finally:
        _CONFIG_FILE["path"] = None
