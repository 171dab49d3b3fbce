"""Each family's template on one fixed input, asserted as the whole string."""

from __future__ import annotations

import pytest

from appliance.prompts import (
    ContextBlock,
    PromptParts,
    UnknownModelFamily,
    family_for_model,
    family_names,
    get_family,
    get_language,
)

PY = get_language("python")
PREFIX = "def amount_due(order):\n    net = "
SUFFIX = "\n    return net\n"
CONTEXT = (
    ContextBlock("shop", "shop/pricing.py", "def tax_for(country, amount):\n    return amount * RATE", PY),
    ContextBlock("billing", "billing/invoices.py", "def invoice_number(year, seq):", PY),
)
WITH_CONTEXT = PromptParts(PREFIX, SUFFIX, "shop/orders.py", PY, "shop", CONTEXT)
BARE = PromptParts(PREFIX, SUFFIX, "shop/orders.py", PY)

EXPECTED_WITH_CONTEXT = {
    "qwen2.5-coder": (
        "<|repo_name|>shop\n"
        "<|file_sep|>shop/pricing.py\ndef tax_for(country, amount):\n    return amount * RATE\n"
        "<|file_sep|>billing/billing/invoices.py\ndef invoice_number(year, seq):\n"
        "<|file_sep|>shop/orders.py\n"
        "<|fim_prefix|>def amount_due(order):\n    net = <|fim_suffix|>\n    return net\n<|fim_middle|>"
    ),
    "starcoder2": (
        "<repo_name>shop"
        "<file_sep>shop/pricing.py\ndef tax_for(country, amount):\n    return amount * RATE\n"
        "<file_sep>billing/billing/invoices.py\ndef invoice_number(year, seq):\n"
        "<file_sep><fim_prefix>shop/orders.py\n"
        "def amount_due(order):\n    net = <fim_suffix>\n    return net\n<fim_middle>"
    ),
    "deepseek-coder": (
        "<｜fim▁begin｜>"
        "# shop/pricing.py\ndef tax_for(country, amount):\n    return amount * RATE\n\n"
        "# billing/billing/invoices.py\ndef invoice_number(year, seq):\n\n"
        "# shop/orders.py\n"
        "def amount_due(order):\n    net = <｜fim▁hole｜>\n    return net\n<｜fim▁end｜>"
    ),
    "codellama": (
        "<PRE> # Path: shop/pricing.py\n# def tax_for(country, amount):\n#     return amount * RATE\n#\n"
        "# Path: billing/billing/invoices.py\n# def invoice_number(year, seq):\n#\n"
        "# Path: shop/orders.py\n"
        "def amount_due(order):\n    net =  <SUF>\n    return net\n <MID>"
    ),
    "codestral": (
        "[SUFFIX]\n    return net\n"
        "[PREFIX]# Path: shop/pricing.py\n# def tax_for(country, amount):\n#     return amount * RATE\n#\n"
        "# Path: billing/billing/invoices.py\n# def invoice_number(year, seq):\n#\n"
        "# Path: shop/orders.py\n"
        "def amount_due(order):\n    net = "
    ),
    "smollm2": (
        "# Path: shop/pricing.py\n# def tax_for(country, amount):\n#     return amount * RATE\n#\n"
        "# Path: billing/billing/invoices.py\n# def invoice_number(year, seq):\n#\n"
        "# Path: shop/orders.py\n"
        "def amount_due(order):\n    net = "
    ),
}

EXPECTED_BARE = {
    "qwen2.5-coder": "<|fim_prefix|>def amount_due(order):\n    net = <|fim_suffix|>\n    return net\n<|fim_middle|>",
    "starcoder2": "<fim_prefix>def amount_due(order):\n    net = <fim_suffix>\n    return net\n<fim_middle>",
    "deepseek-coder": "<｜fim▁begin｜>def amount_due(order):\n    net = <｜fim▁hole｜>\n    return net\n<｜fim▁end｜>",
    "codellama": "<PRE> def amount_due(order):\n    net =  <SUF>\n    return net\n <MID>",
    "codestral": "[SUFFIX]\n    return net\n[PREFIX]def amount_due(order):\n    net = ",
    "smollm2": "def amount_due(order):\n    net = ",
    "plain": "def amount_due(order):\n    net = ",
}


@pytest.mark.parametrize("name", sorted(EXPECTED_WITH_CONTEXT))
def test_template_with_repository_context(name: str) -> None:
    assert get_family(name).render(WITH_CONTEXT) == EXPECTED_WITH_CONTEXT[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_BARE))
def test_template_without_context_is_the_plain_fim_format(name: str) -> None:
    assert get_family(name).render(BARE) == EXPECTED_BARE[name]


def test_repository_name_alone_selects_the_repository_format() -> None:
    parts = PromptParts("x = ", "", "a.py", PY, "shop")
    assert get_family("qwen2.5-coder").render(parts) == (
        "<|repo_name|>shop\n<|file_sep|>a.py\n<|fim_prefix|>x = <|fim_suffix|><|fim_middle|>"
    )
    assert (
        get_family("starcoder2").render(parts)
        == "<repo_name>shop<file_sep><fim_prefix>a.py\nx = <fim_suffix><fim_middle>"
    )


def test_context_comments_follow_the_current_files_language() -> None:
    js = get_language("javascript")
    block = ContextBlock("shop", "web/cart.js", "export function countItems(lines) {\n\n}", js)
    parts = PromptParts("const n = ", "", "web/badge.js", js, "shop", (block,))
    assert get_family("smollm2").render(parts) == (
        "// Path: web/cart.js\n// export function countItems(lines) {\n//\n// }\n//\n"
        "// Path: web/badge.js\nconst n = "
    )


def test_deepseek_heads_each_file_with_a_comment_of_its_own_language() -> None:
    js = get_language("javascript")
    block = ContextBlock("shop", "shop/pricing.py", "RATE = 2", PY)
    parts = PromptParts("const n = ", "", "web/badge.js", js, "shop", (block,))
    assert get_family("deepseek-coder").render(parts) == (
        "<｜fim▁begin｜># shop/pricing.py\nRATE = 2\n\n// web/badge.js\nconst n = <｜fim▁hole｜><｜fim▁end｜>"
    )


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("Qwen/Qwen2.5-Coder-7B", "qwen2.5-coder"),
        ("/models/qwen2_5-coder-1.5b-instruct-q4.gguf", "qwen2.5-coder"),
        ("bigcode/starcoder2-3b", "starcoder2"),
        ("deepseek-ai/deepseek-coder-6.7b-base", "deepseek-coder"),
        ("deepseek-ai/DeepSeek-Coder-V2-Lite-Base", "deepseek-coder"),
        ("codellama/CodeLlama-7b-hf", "codellama"),
        ("mistralai/Codestral-22B-v0.1", "codestral"),
        ("SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2"),
        ("HuggingFaceTB/SmolLM2-1.7B", "smollm2"),
        ("gpt2", "plain"),
        ("qwen2.5-coder", "qwen2.5-coder"),
    ],
)
def test_family_for_model_guesses_from_the_name(model: str, family: str) -> None:
    assert family_for_model(model).name == family


def test_unknown_family_name_is_a_clear_error() -> None:
    with pytest.raises(UnknownModelFamily) as err:
        get_family("gpt-17")
    assert str(err.value) == (f"unknown prompt family 'gpt-17'; known families: {', '.join(family_names())}")
    assert err.value.param == "model"


def test_every_family_declares_its_stop_tokens_and_source() -> None:
    for name in family_names():
        family = get_family(name)
        assert family.stop_tokens and family.source
        if family.fim is not None:
            for token in (family.fim.prefix, family.fim.suffix, family.fim.middle):
                # The format tokens must never reach the editor: the model writing one ends the completion.
                assert token in family.stop_tokens
