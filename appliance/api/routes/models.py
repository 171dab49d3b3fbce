"""GET /v1/models and /v1/models/{id}: what this gateway serves, with the context each model really takes."""

from __future__ import annotations

from fastapi import APIRouter

from appliance.api.deps import PrincipalDep, ServicesDep
from appliance.api.routes.embeddings import embedding_model_id
from appliance.api.services import ServedModel, Services
from appliance.api.wire.models import ModelCard, ModelList, RoleCard

router = APIRouter(prefix="/v1", tags=["models"])


def _card(services: Services, model: ServedModel) -> ModelCard:
    roles = [RoleCard(role=role, context_length=services.context_window(role, model)) for role in model.roles]
    return ModelCard(
        id=model.model_id,
        created=services.started,
        # What a request may use: the longest window among the model's roles (prompt and answer together).
        context_length=max(r.context_length for r in roles),
        codemoat={
            "family": model.family.name,
            "roles": roles,
            "expected_ms": services.completion_latency.p90_ms() if "completion" in model.roles else None,
        },
    )


def _embedding_card(services: Services) -> ModelCard:
    return ModelCard(
        id=embedding_model_id(services),
        created=services.started,
        codemoat={
            "family": services.settings.indexer.embedder,
            "roles": [RoleCard(role="embedding", context_length=None)],
        },
    )


@router.get("/models", response_model=ModelList)
async def list_models(_principal: PrincipalDep, services: ServicesDep) -> ModelList:
    cards = [_card(services, model) for model in services.distinct_models()]
    return ModelList(data=[*cards, _embedding_card(services)])


@router.get("/models/{model_id:path}", response_model=ModelCard)
async def get_model(model_id: str, _principal: PrincipalDep, services: ServicesDep) -> ModelCard:
    if model_id == embedding_model_id(services):
        return _embedding_card(services)
    return _card(services, services.served_model(model_id, "completion"))
