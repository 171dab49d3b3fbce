"""Configuration layers, names and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from lsp.config import resolve_config
from lsp.errors import ConfigError


def test_defaults_and_env_fallback() -> None:
    config = resolve_config(env={"CODEMOAT_URL": "http://gw:9000/", "CODEMOAT_TOKEN": "t-env"})
    assert config.url == "http://gw:9000"
    assert config.token == "t-env"
    assert config.debounce_ms == 40 and config.max_tokens == 64


def test_precedence_workspace_over_init_over_env() -> None:
    config = resolve_config(
        env={"CODEMOAT_URL": "http://env:1", "CODEMOAT_TOKEN": "env"},
        init_options={"url": "http://init:2", "token": "init", "maxTokens": 16},
        workspace={"codemoat": {"url": "http://ws:3", "debounceMs": 10, "enabledLanguages": ["python"]}},
    )
    assert (config.url, config.token, config.max_tokens, config.debounce_ms) == (
        "http://ws:3",
        "init",
        16,
        10,
    )
    assert config.language_enabled("python") and not config.language_enabled("go")


def test_token_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("secret-token\n")
    config = resolve_config(env={"CODEMOAT_TOKEN": "env"}, workspace={"token_file": str(token_file)})
    assert config.token == "secret-token"
    with pytest.raises(ConfigError, match="cannot read the token file"):
        resolve_config(init_options={"tokenFile": str(tmp_path / "missing")})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"url": "gw:8000"}, "not an http"),
        ({"debounceMs": "fast"}, "must be a number"),
        ({"maxTokens": 0}, "between 1 and 4096"),
        ({"enabledLanguages": [1, 2]}, "list of language ids"),
        ({"token": 5}, "must be a string"),
    ],
)
def test_bad_settings_say_which_and_why(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_config(workspace=settings)


def test_unknown_keys_are_ignored_and_languages_may_be_a_string() -> None:
    config = resolve_config(init_options={"someFutureKey": 1, "enabledLanguages": "python, go"})
    assert config.enabled_languages == ("python", "go")
