"""Request limits both generation endpoints apply before any work starts."""

from __future__ import annotations

from appliance.api.config import GatewaySettings
from appliance.api.errors import InvalidRequestError
from appliance.api.wire.common import SamplingFields


def resolve_max_tokens(
    requested: int | None, *, default: int, settings: GatewaySettings, param: str = "max_tokens"
) -> int:
    if requested is None:
        return min(default, settings.max_tokens_limit)
    if requested > settings.max_tokens_limit:
        raise InvalidRequestError(
            f"{param} is {requested}; this server allows at most {settings.max_tokens_limit}", param=param
        )
    return requested


def stop_sequences(body: SamplingFields, settings: GatewaySettings) -> tuple[str, ...]:
    stops = body.stop_sequences()
    if len(stops) > settings.max_stop_sequences:
        raise InvalidRequestError(
            f"stop has {len(stops)} sequences; at most {settings.max_stop_sequences} are allowed",
            param="stop",
        )
    return stops
