"""Request bodies parsed by pydantic straight from the bytes, whatever the Content-Type (curl users forget
it), with every failure a 400 naming the field; unknown fields are kept, and logged once per name."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from appliance.api.errors import InvalidRequestError
from appliance.api.wire.common import WireRequest

log = logging.getLogger("codemoat.api")

M = TypeVar("M", bound=WireRequest)

_MAX_LOGGED_NAMES = 256


def json_body(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    logged: set[str] = set()

    async def parse(request: Request) -> M:
        raw = await request.body()
        if not raw.strip():
            raise InvalidRequestError("the request body is empty; send a JSON object")
        try:
            parsed = model.model_validate_json(raw)
        except ValidationError as exc:
            raise RequestValidationError(exc.errors(include_url=False)) from None
        unknown = [name for name in parsed.unknown_fields() if name not in logged]
        if unknown and len(logged) < _MAX_LOGGED_NAMES:
            logged.update(unknown)
            log.info(
                "%s: ignoring fields this server does not implement: %s", request.url.path, ", ".join(unknown)
            )
        return parsed

    parse.__name__ = f"parse_{model.__name__}"
    return parse
