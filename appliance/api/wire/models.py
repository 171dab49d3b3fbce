"""`GET /v1/models`."""

from __future__ import annotations

from typing import Literal

from appliance.api.wire.common import WireResponse


class ModelCard(WireResponse):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "codemoat"
    context_length: int | None = None


class ModelList(WireResponse):
    object: Literal["list"] = "list"
    data: list[ModelCard]
