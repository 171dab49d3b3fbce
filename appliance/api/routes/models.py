"""GET /v1/models and /v1/models/{id}: what this gateway serves."""

from __future__ import annotations

from fastapi import APIRouter

from appliance.api.deps import PrincipalDep, ServicesDep
from appliance.api.services import Services
from appliance.api.wire.models import ModelCard, ModelList

router = APIRouter(prefix="/v1", tags=["models"])


def _card(services: Services) -> ModelCard:
    return ModelCard(
        id=services.engine.model_id, created=services.started, context_length=services.engine.context_length
    )


@router.get("/models", response_model=ModelList)
async def list_models(_principal: PrincipalDep, services: ServicesDep) -> ModelList:
    return ModelList(data=[_card(services)])


@router.get("/models/{model_id:path}", response_model=ModelCard)
async def get_model(model_id: str, _principal: PrincipalDep, services: ServicesDep) -> ModelCard:
    services.served_model(model_id)
    return _card(services)
