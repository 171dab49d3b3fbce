"""Prompt building over the real indexer facade (`indexer.service.CodeIndex`): tree-sitter chunks, the SQLite
symbol table, Qdrant Edge hybrid retrieval and the bundled static embedder, on the fixture repositories."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from appliance.prompts import (
    BuiltPrompt,
    CompletionSettings,
    CursorContext,
    build_chat_prompt,
    build_completion_prompt,
    get_family,
)
from indexer.config import IndexerSettings
from indexer.service import CodeIndex
from indexer.types import SearchFilter
from tests.appliance.prompts.conftest import chars_div_4
from tests.appliance.prompts.memory_source import DATA

pytestmark = pytest.mark.slow

PREFIX = (
    "from shop.pricing import apply_discount, tax_for\n"
    "\n"
    "\n"
    "def checkout(order, prices):\n"
    "    net = apply_discount(order.cart.subtotal(prices), order.discount)\n"
    "    return net + "
)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CodeIndex]:
    home = tmp_path_factory.mktemp("home")
    idx = CodeIndex.open(IndexerSettings(), Path(home))
    for name in ("shop", "billing"):
        idx.index(DATA / name, name=name)
    yield idx
    idx.close()


async def _complete(index: CodeIndex, prefix: str, **settings: object) -> BuiltPrompt:
    """The completion prompt an editor's request in shop/orders.py gets, with the caller limited to `shop`."""
    request = CursorContext(
        prefix=prefix,
        suffix="\n",
        path="shop/orders.py",
        language="python",
        repo="shop",
        scope=SearchFilter(repos=("shop",)),
    )
    return await build_completion_prompt(
        request,
        family=get_family("qwen2.5-coder"),
        count_tokens=chars_div_4,
        context_length=2048,
        max_tokens=64,
        source=index,
        settings=CompletionSettings(retrieval_k=4, latency_budget_ms=30_000, **settings),  # type: ignore[arg-type]
    )


async def test_completion_context_from_the_real_index_respects_scope_and_the_current_file(
    index: CodeIndex,
) -> None:
    built = await _complete(index, PREFIX)
    stages = {s.name: s.status for s in built.stages}
    assert stages["symbols"] == "ok" and stages["retrieval"] == "ok"
    definitions = {
        (s.path, s.symbol, s.start_line, s.end_line) for s in built.snippets if s.source == "symbol"
    }
    assert ("shop/pricing.py", "apply_discount", 8, 12) in definitions
    assert ("shop/pricing.py", "tax_for", 15, 17) in definitions
    assert ("shop/cart.py", "subtotal", 26, 27) in definitions
    assert all(s.repo == "shop" and s.path != "shop/orders.py" for s in built.snippets)
    assert "Billing's own discount" not in built.prompt
    assert "<|file_sep|>shop/pricing.py\n" in built.prompt
    assert built.prompt.endswith(
        "<|file_sep|>shop/orders.py\n<|fim_prefix|>" + PREFIX + "<|fim_suffix|>\n<|fim_middle|>"
    )


async def test_chat_citations_from_the_real_index(index: CodeIndex) -> None:
    built = await build_chat_prompt(
        [{"role": "user", "content": "Where is the tax owed on an amount sold to a country computed?"}],
        source=index,
        scope=SearchFilter(repos=("shop",)),
        count_tokens=chars_div_4,
        context_length=4096,
        max_tokens=512,
    )
    assert built.citations
    assert all(c.repo == "shop" for c in built.citations)
    assert any(c.path == "shop/pricing.py" and c.start_line <= 15 <= c.end_line for c in built.citations)
    assert "[1] shop/" in built.messages[0]["content"]


async def test_completion_context_follows_the_open_files_imports(index: CodeIndex) -> None:
    """An alias is looked up by the name it stands for, and the module named before the cursor is searched
    first: its definitions reach the prompt although the cursor's lines never name them."""
    prefix = (
        "from shop import pricing\n"
        "from shop.pricing import apply_discount as disc\n"
        "\n"
        "# Invoices are built from orders: the net amount after the discount, then the tax\n"
        "# owed on it, rounded to cents. Credit notes are invoices with negative lines,\n"
        "# and their totals are computed the same way.\n"
        "\n"
        "\n"
        "def invoice_total(order, prices):\n"
        '    """The amount to invoice for an order."""\n'
        "    net = disc(order.subtotal, order.rate)\n"
        "    return net + pricing."
    )
    built = await _complete(index, prefix)
    symbols = {(s.path, s.symbol) for s in built.snippets if s.source == "symbol"}
    assert ("shop/pricing.py", "apply_discount") in symbols
    retrieved = [s.path for s in built.snippets if s.source == "retrieval"]
    assert "shop/pricing.py" in retrieved, built.snippets
    off = await _complete(index, prefix, use_imports=False)
    assert ("shop/pricing.py", "apply_discount") not in {
        (s.path, s.symbol) for s in off.snippets if s.source == "symbol"
    }
