"""The shapes names must have, checked in one place so that the CLI, the console forms and the API refuse the
same things with the same message."""

from __future__ import annotations

import re

from appliance.errors import InvalidInputError

# As `appliance.auth.tokens` (user and token names) and `indexer.service` (repository names).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")

MIN_PASSWORD = 10
MAX_PASSWORD = 256


def check_name(what: str, value: str, *, param: str = "name") -> str:
    value = value.strip() if isinstance(value, str) else value
    if not isinstance(value, str) or not _NAME.match(value):
        raise InvalidInputError(
            f"{param}: a {what} name is 1-128 letters, digits and . _ @ + - starting with a letter or digit",
            param=param,
        )
    return value


def check_repo(value: str, *, param: str = "repo") -> str:
    value = value.strip() if isinstance(value, str) else value
    if not isinstance(value, str) or not _REPO.match(value) or ".." in value.split("/"):
        raise InvalidInputError(
            f"{param}: a repository name is 1-128 letters, digits and . _ - / starting with a letter or digit",
            param=param,
        )
    return value


def check_password(value: str, *, param: str = "password") -> str:
    if not isinstance(value, str) or not MIN_PASSWORD <= len(value) <= MAX_PASSWORD:
        raise InvalidInputError(
            f"{param}: a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters", param=param
        )
    if len(set(value)) < 4:
        raise InvalidInputError(
            f"{param}: the password is too simple (use more different characters)", param=param
        )
    return value


def check_text(value: str, *, param: str, max_chars: int) -> str:
    if not isinstance(value, str) or len(value) > max_chars:
        raise InvalidInputError(f"{param}: at most {max_chars} characters", param=param)
    return value.strip()
