"""The bridge's settings, merged from the places an editor can put them.

Precedence, highest first: `workspace/configuration` (section `codemoat`, re-read on
`workspace/didChangeConfiguration`) > `initializationOptions` > `CODEMOAT_URL` / `CODEMOAT_TOKEN` /
`CODEMOAT_TOKEN_FILE` > defaults. Keys are accepted in camelCase (VS Code settings: `debounceMs`) and
snake_case (`debounce_ms`); DESIGN.md's `url` and `token` are the same in both."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlparse

from lsp.errors import ConfigError

__all__ = ["BridgeConfig", "resolve_config", "SECTION"]

SECTION = "codemoat"

DEFAULT_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    url: str = DEFAULT_URL
    token: str | None = None
    token_file: str | None = None
    # Model id sent in requests; None asks the appliance (`GET /v1/models`) once and uses its first model.
    model: str | None = None
    # Adaptive debounce bounds: fast typing waits longer (up to the max), a pause fires sooner.
    debounce_ms: int = 40
    debounce_max_ms: int = 250
    # The shortest wait for a suggestion; it grows to what this appliance needs (lsp/timeouts.py), up to
    # max_timeout_ms. Later than that nothing is shown: a late suggestion is worse than none.
    timeout_ms: int = 5000
    max_timeout_ms: int = 60_000
    max_tokens: int = 64
    chat_max_tokens: int = 512
    # Empty means every language.
    enabled_languages: tuple[str, ...] = ()
    prefix_chars: int = 3000
    suffix_chars: int = 1000
    snippet_chars: int = 1500
    telemetry: bool = True
    headers: dict[str, str] = field(default_factory=dict)

    def language_enabled(self, language: str) -> bool:
        return not self.enabled_languages or language in self.enabled_languages


_INT_FIELDS = {
    "debounce_ms": (0, 5_000),
    "debounce_max_ms": (0, 10_000),
    "timeout_ms": (50, 600_000),
    "max_timeout_ms": (50, 600_000),
    "max_tokens": (1, 4096),
    "chat_max_tokens": (1, 32_768),
    "prefix_chars": (0, 200_000),
    "suffix_chars": (0, 200_000),
    "snippet_chars": (0, 200_000),
}
_KNOWN = {f.name for f in fields(BridgeConfig)}


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def _coerce(name: str, value: Any, where: str) -> Any:
    if name in _INT_FIELDS:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(f"CodeMoat setting {where}.{name} must be a number, got {value!r}")
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(f"CodeMoat setting {where}.{name} must be a number, got {value!r}") from None
        low, high = _INT_FIELDS[name]
        if not low <= number <= high:
            raise ConfigError(
                f"CodeMoat setting {where}.{name} must be between {low} and {high}, got {number}"
            )
        return number
    if name == "enabled_languages":
        if isinstance(value, str):
            value = [part for part in re.split(r"[,\s]+", value) if part]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"CodeMoat setting {where}.enabledLanguages must be a list of language ids")
        return tuple(value)
    if name == "telemetry":
        if isinstance(value, str):
            return value.strip().lower() not in {"0", "false", "no", "off"}
        return bool(value)
    if name == "headers":
        if not isinstance(value, Mapping):
            raise ConfigError(f"CodeMoat setting {where}.headers must be an object")
        return {str(k): str(v) for k, v in value.items()}
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"CodeMoat setting {where}.{name} must be a string, got {value!r}")
    return value.strip() or None


def _layer(source: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    if not source:
        return {}
    if not isinstance(source, Mapping):
        raise ConfigError(f"CodeMoat {where} must be an object, got {type(source).__name__}")
    # A client may nest the section (`{"codemoat": {...}}`) or send it flat.
    if SECTION in source and isinstance(source[SECTION], Mapping):
        source = source[SECTION]
    layer: dict[str, Any] = {}
    for key, value in source.items():
        name = _snake(str(key))
        # Unknown keys are ignored so an older bridge works with a newer editor extension.
        if name in _KNOWN and value is not None:
            layer[name] = _coerce(name, value, where)
    return layer


def _env_layer(env: Mapping[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for variable, name in (
        ("CODEMOAT_URL", "url"),
        ("CODEMOAT_TOKEN", "token"),
        ("CODEMOAT_TOKEN_FILE", "token_file"),
    ):
        if env.get(variable):
            layer[name] = env[variable].strip()
    return layer


def _read_token_file(path: str) -> str:
    try:
        token = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            f"CodeMoat cannot read the token file {path} ({exc.strerror or exc}): fix `codemoat.tokenFile`"
        ) from None
    if not token:
        raise ConfigError(
            f"CodeMoat token file {path} is empty: put the token from `codemoat token create` in it"
        )
    return token


def resolve_config(
    *,
    init_options: Mapping[str, Any] | None = None,
    workspace: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> BridgeConfig:
    """Merge the layers and validate; raises ConfigError with a message for the user."""
    merged: dict[str, Any] = {}
    for layer in (
        _env_layer(env or {}),
        _layer(init_options, "initializationOptions"),
        _layer(workspace, SECTION),
    ):
        # A token given in a higher layer overrides a token file from a lower one, and the other way round.
        if "token" in layer or "token_file" in layer:
            merged.pop("token", None)
            merged.pop("token_file", None)
        merged.update(layer)
    config = replace(BridgeConfig(), **merged)
    parsed = urlparse(config.url)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise ConfigError(f"CodeMoat server URL {config.url!r} is not an http(s) URL: set `codemoat.url`")
    if config.token is None and config.token_file:
        config = replace(config, token=_read_token_file(config.token_file))
    if config.debounce_max_ms < config.debounce_ms:
        config = replace(config, debounce_max_ms=config.debounce_ms)
    return replace(config, url=config.url.rstrip("/"))
