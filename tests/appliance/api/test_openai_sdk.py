"""The official `openai` SDK, unchanged, against a real `codemoat serve` process on the CPU model."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.appliance.api.conftest import Home, Served, metric_value, run_codemoat

pytestmark = pytest.mark.slow

MODEL = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def client(served: Served, served_home: Home) -> Iterator[openai.OpenAI]:
    # No retries: a 429 or 503 must surface as the SDK's exception, not be retried away.
    with openai.OpenAI(
        base_url=served.url + "/v1", api_key=served_home.admin_token, max_retries=0, timeout=300
    ) as sdk:
        yield sdk


def idle(served: Served, token: str) -> None:
    """Poll the in-flight gauge until the server has let go of every generation (the slot is free again)."""
    deadline = time.monotonic() + 120
    with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        while time.monotonic() < deadline:
            if metric_value(http.get("/metrics").text, "codemoat_generations_in_flight") == 0:
                return
            time.sleep(0.05)
    raise AssertionError("generations still in flight")


def test_models(client: openai.OpenAI) -> None:
    models = client.models.list()
    assert [m.id for m in models.data] == [MODEL, "codemoat-embed-wordllama"]
    assert client.models.retrieve(MODEL).id == MODEL
    embedder = client.models.retrieve("codemoat-embed-wordllama").model_extra or {}
    assert embedder["codemoat"]["roles"] == [{"role": "embedding", "context_length": None}]


def test_completion_with_suffix_and_repository_context(client: openai.OpenAI) -> None:
    completion = client.completions.create(
        model=MODEL,
        prompt="from billing.invoice import invoice_total\n\n\ndef describe(lines):\n    total = ",
        suffix="\n    return total\n",
        max_tokens=16,
        extra_body={
            "repo": "sample",
            "path": "billing/describe.py",
            "language": "python",
            "snippets": [{"path": "billing/customer.py", "text": "class Customer:\n    name: str\n"}],
        },
    )
    choice = completion.choices[0]
    assert completion.object == "text_completion" and completion.model == MODEL
    assert isinstance(choice.text, str) and "\n" not in choice.text  # the cursor is mid-line: one line
    assert choice.finish_reason in ("stop", "length")
    assert completion.usage is not None and completion.usage.prompt_tokens > 0
    citations = (completion.model_extra or {})["codemoat"]["citations"]
    assert {"repo": "sample", "path": "billing/customer.py"}.items() <= next(
        c for c in citations if c["source"] == "editor"
    ).items()


def test_a_completions_repo_scopes_its_context_to_that_repository(client: openai.OpenAI) -> None:
    """The administrator may read both repositories; a completion in "sample" still takes no context, symbols
    included, from "secret" (whose function the prefix names), and an unknown repository is a 404 naming it."""
    prefix = "from vault.keys import rotate_master_key\n\n\ndef rotate(vault):\n    return rotate_master_key("

    def cited(repo: str | None) -> set[str]:
        extra = {"path": "billing/rotate.py", "language": "python"} | ({"repo": repo} if repo else {})
        done = client.completions.create(model=MODEL, prompt=prefix, max_tokens=2, extra_body=extra)
        return {c["repo"] for c in (done.model_extra or {})["codemoat"]["citations"]}

    assert "secret" in cited(None)  # unscoped, the definition is found where it lives
    assert cited("sample") <= {"sample"} and "secret" in cited("secret")
    with pytest.raises(openai.NotFoundError) as unknown:
        client.completions.create(model=MODEL, prompt=prefix, max_tokens=2, extra_body={"repo": "nope"})
    error = unknown.value.body
    assert (
        error["code"] == "repository_not_found" and error["param"] == "repo" and "'nope'" in error["message"]
    )
    with pytest.raises(openai.NotFoundError) as in_chat:
        client.chat.completions.create(
            model=MODEL,
            max_tokens=2,
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"repo": ["sample", "nope"]},
        )
    assert in_chat.value.body["param"] == "repo"


def test_chat_retrieves_only_for_questions_about_code_unless_told(client: openai.OpenAI) -> None:
    def info(content: str, **codemoat: object) -> dict:
        extra = {"codemoat": codemoat} if codemoat else {}
        answer = client.chat.completions.create(
            model=MODEL, max_tokens=2, messages=[{"role": "user", "content": content}], extra_body=extra
        )
        return (answer.model_extra or {})["codemoat"]

    hello = info("hi")
    assert hello["citations"] == [] and hello["context_note"] == "the message does not ask about code"
    asked = info("How is the invoice total computed?")
    assert asked["citations"] and "context_note" not in asked
    off = info("How is the invoice total computed?", context=False)
    assert off["citations"] == [] and "codemoat.context: false" in off["context_note"]
    assert info("hi", context=True)["citations"]  # told to, it searches even for small talk
    with pytest.raises(openai.BadRequestError) as unknown:
        info("hi", sources=3)
    assert "codemoat" in (unknown.value.body["param"] or "")


def test_embeddings_with_the_indexers_embedder(client: openai.OpenAI) -> None:
    import base64

    import numpy as np

    texts = ["def invoice_total(lines):", "sum of quantity times unit price", "rotate the vault key"]
    done = client.embeddings.create(model="codemoat-embed-wordllama", input=texts, encoding_format="float")
    assert done.model == "codemoat-embed-wordllama" and [d.index for d in done.data] == [0, 1, 2]
    vectors = np.array([d.embedding for d in done.data])
    assert vectors.shape == (3, 256) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # related code and prose are nearer
    assert done.usage.prompt_tokens == done.usage.total_tokens > 0
    one = client.embeddings.create(model="codemoat-embed-wordllama", input=texts[0], encoding_format="base64")
    raw = np.frombuffer(base64.b64decode(one.data[0].embedding), dtype="<f4")  # type: ignore[arg-type]
    assert np.allclose(raw, vectors[0], atol=1e-6)
    for bad, param in (
        ({"model": "text-embedding-3-small", "input": "x"}, "model"),
        ({"model": "codemoat-embed-wordllama", "input": "x", "dimensions": 64}, "dimensions"),
        ({"model": "codemoat-embed-wordllama", "input": [[1, 2, 3]]}, "input"),
        ({"model": "codemoat-embed-wordllama", "input": [""]}, "input"),
    ):
        with pytest.raises((openai.BadRequestError, openai.NotFoundError)) as refused:
            client.embeddings.create(**bad)  # type: ignore[arg-type]
        assert (refused.value.body["param"] or "").startswith(param), refused.value.body


def test_plain_completion(client: openai.OpenAI) -> None:
    completion = client.completions.create(
        model=MODEL, prompt="The capital of France is", max_tokens=4, temperature=0
    )
    assert completion.choices[0].text.strip()
    assert completion.usage is not None and completion.usage.completion_tokens <= 4


def test_chat(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model=MODEL,
        max_tokens=8,
        messages=[
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "How is the invoice total computed?"},
        ],
    )
    assert answer.object == "chat.completion"
    assert answer.choices[0].message.role == "assistant" and answer.choices[0].message.content
    assert answer.choices[0].finish_reason in ("stop", "length")
    citations = (answer.model_extra or {})["codemoat"]["citations"]
    assert any(c["path"] == "billing/invoice.py" and c["repo"] == "sample" for c in citations)


def test_chat_stream(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        max_tokens=8,
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "What does render_invoice print?"}],
    )
    text, finishes, usage, citations = "", [], None, None
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finishes.append(chunk.choices[0].finish_reason)
        if chunk.usage is not None:
            usage = chunk.usage
        extra = chunk.model_extra or {}
        if "codemoat" in extra:
            citations = extra["codemoat"]["citations"]
    assert text and finishes[-1] in ("stop", "length")
    assert usage is not None and 0 < usage.completion_tokens <= 8
    assert citations and all(c["repo"] in ("sample", "secret") for c in citations)


def test_errors_surface_as_the_sdk_exception_types(
    served: Served, served_home: Home, client: openai.OpenAI
) -> None:
    with (
        openai.OpenAI(base_url=served.url + "/v1", api_key="cm_wrong", max_retries=0) as stranger,
        pytest.raises(openai.AuthenticationError) as unauthenticated,
    ):
        stranger.models.list()
    assert unauthenticated.value.status_code == 401 and unauthenticated.value.code == "invalid_api_key"

    with pytest.raises(openai.NotFoundError) as unknown_model:
        client.completions.create(model="gpt-4o", prompt="x", max_tokens=1)
    assert unknown_model.value.param == "model"

    with pytest.raises(openai.BadRequestError) as too_many:
        client.completions.create(model=MODEL, prompt="x", max_tokens=1_000_000)
    assert too_many.value.param == "max_tokens" and "at most" in str(too_many.value)

    with pytest.raises(openai.BadRequestError) as wrong_type:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], temperature="warm"
        )  # type: ignore[arg-type]
    assert wrong_type.value.param == "temperature"

    with (
        openai.OpenAI(base_url=served.url + "/v1", api_key=served_home.user_token, max_retries=0) as scoped,
        pytest.raises(openai.PermissionDeniedError) as out_of_scope,
    ):
        scoped.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "keys?"}],
            max_tokens=1,
            extra_body={"repo": "secret"},
        )
    assert out_of_scope.value.param == "repo"


def test_revoked_token_through_the_cli(served: Served, served_home: Home) -> None:
    created = run_codemoat(served_home.path, "token", "create", "sdk-temp", "--admin", "--json")
    assert created.returncode == 0, created.stderr
    secret = json.loads(created.stdout)["token"]
    with openai.OpenAI(base_url=served.url + "/v1", api_key=secret, max_retries=0) as sdk:
        assert sdk.models.list().data
        assert run_codemoat(served_home.path, "token", "revoke", "sdk-temp").returncode == 0
        with pytest.raises(openai.PermissionDeniedError, match="revoked"):
            sdk.models.list()


def test_queue_full_is_a_rate_limit_error(served: Served, served_home: Home, client: openai.OpenAI) -> None:
    # The server runs one generation at a time with no queue: a second request while one streams is refused.
    busy = client.chat.completions.create(
        model=MODEL,
        max_tokens=200,
        stream=True,
        messages=[{"role": "user", "content": "Write a long story about invoices."}],
    )
    next(iter(busy))
    try:
        with pytest.raises(openai.RateLimitError) as refused:
            client.completions.create(model=MODEL, prompt="x", max_tokens=1)
        assert refused.value.code == "queue_full"
        assert int(refused.value.response.headers["retry-after"]) >= 1
    finally:
        busy.close()
    idle(served, served_home.admin_token)
    assert client.completions.create(model=MODEL, prompt="x", max_tokens=1).choices
