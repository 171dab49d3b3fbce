"""Two roles, two models: `codemoat serve` with a completion model and a chat model of its own (settings only),
driven by the `openai` SDK. /v1/models lists both with the context each role really takes, each endpoint
defaults to its role's model, and a prompt over the context is OpenAI's `context_length_exceeded`."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from appliance.engines.config import EngineSettings
from tests.appliance.api.conftest import GATEWAY_ENV, Home, Served, build_home, start_serve, stop_serve

pytestmark = pytest.mark.slow

COMPLETION_MODEL = "smollm2-135m-instruct"
CHAT_MODEL = "smollm2-chat"
ROLE_ENV = {
    "CODEMOAT_ENGINE__CHAT__KIND": "llama_cpp",
    "CODEMOAT_ENGINE__CHAT__MODEL": "smollm2-135m",
    "CODEMOAT_ENGINE__CHAT__MODEL_ID": CHAT_MODEL,
}


@pytest.fixture(scope="module")
def roles_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    return build_home(tmp_path_factory.mktemp("roles"))


@pytest.fixture(scope="module")
def served_roles(roles_home: Home) -> Iterator[Served]:
    served = start_serve(roles_home.path, env=ROLE_ENV)
    yield served
    stop_serve(served)


@pytest.fixture(scope="module")
def client(served_roles: Served, roles_home: Home) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=served_roles.url + "/v1", api_key=roles_home.admin_token, max_retries=0, timeout=300
    ) as sdk:
        yield sdk


def test_models_lists_each_model_with_its_roles_and_real_windows(client: openai.OpenAI) -> None:
    models = {m.id: m for m in client.models.list().data}
    assert set(models) == {COMPLETION_MODEL, CHAT_MODEL, "codemoat-embed-wordllama"}
    completion = models[COMPLETION_MODEL].model_extra or {}
    chat = models[CHAT_MODEL].model_extra or {}
    window = {
        "completion": int(GATEWAY_ENV["CODEMOAT_GATEWAY__COMPLETION_CONTEXT_TOKENS"]),
        "chat": int(GATEWAY_ENV["CODEMOAT_GATEWAY__CHAT_CONTEXT_TOKENS"]),
    }
    assert completion["context_length"] == window["completion"]
    assert completion["codemoat"]["roles"] == [{"role": "completion", "context_length": window["completion"]}]
    assert chat["context_length"] == window["chat"]
    assert chat["codemoat"] == {
        "family": "smollm2",
        "roles": [{"role": "chat", "context_length": window["chat"]}],
        "expected_ms": None,
    }


def test_each_endpoint_defaults_to_its_role_and_any_served_model_may_be_named(
    served_roles: Served, roles_home: Home, client: openai.OpenAI
) -> None:
    with httpx.Client(
        base_url=served_roles.url, headers={"Authorization": f"Bearer {roles_home.admin_token}"}, timeout=300
    ) as http:
        chat = http.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
        ).json()
        completion = http.post(
            "/v1/completions", json={"prompt": "def add(a, b):\n    return", "max_tokens": 4}
        ).json()
        ready = http.get("/readyz").json()
    assert chat["model"] == CHAT_MODEL and completion["model"] == COMPLETION_MODEL
    assert ready["checks"]["engine"]["model"] == COMPLETION_MODEL
    assert ready["checks"]["engine:chat"] == {
        "ok": True,
        "model": CHAT_MODEL,
        "roles": ["chat"],
        "detail": "loaded",
    }
    named = client.completions.create(model=CHAT_MODEL, prompt="def add(a, b):\n    return", max_tokens=4)
    assert named.model == CHAT_MODEL
    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    assert CHAT_MODEL in str(unknown.value) and COMPLETION_MODEL in str(unknown.value)


def test_a_prompt_over_the_context_is_context_length_exceeded(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as chat:
        client.chat.completions.create(
            model=CHAT_MODEL, max_tokens=16, messages=[{"role": "user", "content": "explain " * 3000}]
        )
    assert chat.value.code == "context_length_exceeded" and chat.value.param == "messages"
    with pytest.raises(openai.BadRequestError) as raw:
        client.completions.create(model=COMPLETION_MODEL, prompt="word " * 9000, max_tokens=16)
    assert raw.value.code == "context_length_exceeded"


def test_the_chat_role_inherits_what_it_does_not_set() -> None:
    settings = EngineSettings(
        kind="transformers", model="smollm2-135m", threads=1, chat={"kind": "llama_cpp", "contexts": 1}
    )
    chat = settings.for_role("chat")
    assert (chat.kind, chat.model, chat.threads, chat.contexts, chat.chat) == (
        "llama_cpp",
        "smollm2-135m",
        1,
        1,
        {},
    )
    assert settings.for_role("completion").kind == "transformers"
    assert EngineSettings().for_role("chat") == EngineSettings().for_role(
        "completion"
    )  # one model by default
    other = EngineSettings(model_id="coder", family="qwen2.5-coder", chat={"model": "smollm2-135m"})
    assert other.for_role("chat").served_model_id() == "smollm2-135m-instruct"  # its own name and family
    assert other.for_role("chat").served_family() == "smollm2"
    with pytest.raises(ValueError, match="engine.chat cannot set max_queue"):
        EngineSettings(chat={"max_queue": 3})
    with pytest.raises(ValueError, match="engine.chat.kind"):
        EngineSettings(chat={"kind": "gpu"})
