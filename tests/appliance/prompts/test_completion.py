"""Completion prompts built end to end over an in-memory source of real files."""

from __future__ import annotations

import time
from typing import Callable

import pytest

from appliance.prompts import (
    CompletionSettings,
    CursorContext,
    EditorSnippet,
    PromptTooLong,
    build_completion_prompt,
    family_names,
    get_family,
)
from indexer.types import Hit, SearchFilter, SearchMode
from tests.appliance.prompts.conftest import chars_div_4
from tests.appliance.prompts.memory_source import BlockedSource, FailingSource, MemorySource

PREFIX = (
    "from shop.pricing import apply_discount, tax_for\n"
    "\n"
    "\n"
    "def checkout(order, prices):\n"
    "    net = apply_discount(order.cart.subtotal(prices), order.discount)\n"
    "    return net + "
)
SHOP_ONLY = SearchFilter(repos=("shop",))
SETTINGS = CompletionSettings(retrieval_k=1, latency_budget_ms=5000)


def request(
    prefix: str = PREFIX, suffix: str = "\n", scope: SearchFilter = SHOP_ONLY, **kw: object
) -> CursorContext:
    return CursorContext(
        prefix=prefix,
        suffix=suffix,
        path="shop/checkout.py",
        language="python",
        repo="shop",
        scope=scope,
        **kw,
    )  # type: ignore[arg-type]


async def build(
    req: CursorContext,
    source: MemorySource | None,
    family: str = "qwen2.5-coder",
    context_length: int = 1024,
    max_tokens: int = 64,
    settings: CompletionSettings = SETTINGS,
    count: Callable[[str], int] = chars_div_4,
):
    return await build_completion_prompt(
        req,
        family=get_family(family),
        count_tokens=count,
        context_length=context_length,
        max_tokens=max_tokens,
        source=source,
        settings=settings,
    )


EXPECTED_QWEN = '''<|repo_name|>shop
<|file_sep|>shop/cart.py
"""A shopping cart: lines of product codes and quantities."""

from dataclasses import dataclass, field
from decimal import Decimal

from shop.pricing import PriceList, apply_discount


@dataclass
class CartLine:
# ...
    def subtotal(self, prices: PriceList) -> Decimal:
        return sum((prices.price_of(l.code) * l.quantity for l in self.lines), Decimal("0"))
<|file_sep|>shop/pricing.py
def apply_discount(price: Decimal, rate: Decimal) -> Decimal:
    """Return the price after a discount rate between 0 and 1."""
    if not 0 <= rate <= 1:
        raise ValueError(f"discount rate {rate} is not between 0 and 1")
    return (price * (1 - rate)).quantize(Decimal("0.01"))
# ...
def tax_for(country: str, amount: Decimal) -> Decimal:
    """The tax owed on an amount sold to a country."""
    return (amount * TAX_RATES.get(country, Decimal("0"))).quantize(Decimal("0.01"))
<|file_sep|>shop/checkout.py
<|fim_prefix|>from shop.pricing import apply_discount, tax_for


def checkout(order, prices):
    net = apply_discount(order.cart.subtotal(prices), order.discount)
    return net + <|fim_suffix|>
<|fim_middle|>'''


async def test_whole_prompt_with_definitions_and_retrieval(source: MemorySource) -> None:
    built = await build(request(), source)
    assert built.prompt == EXPECTED_QWEN
    assert [(s.path, s.start_line, s.end_line, s.source, s.symbol) for s in built.snippets] == [
        ("shop/cart.py", 1, 10, "retrieval", ""),
        ("shop/cart.py", 26, 27, "symbol", "subtotal"),
        ("shop/pricing.py", 8, 12, "symbol", "apply_discount"),
        ("shop/pricing.py", 15, 17, "symbol", "tax_for"),
    ]
    assert built.mode == "single" and built.stop[-1] == "\n"
    assert built.prompt_tokens == chars_div_4(built.prompt)
    assert built.affinity_key == "shop:shop/checkout.py"
    assert {s.name: s.status for s in built.stages} == {
        "identifiers": "ok",
        "symbols": "ok",
        "retrieval": "ok",
        "template": "ok",
        "trim": "ok",
        "select": "ok",
        "render": "ok",
    }


async def test_scope_and_current_file_reach_the_source(source: MemorySource) -> None:
    scope = SearchFilter(repos=("shop",), path_prefix="shop/", exclude_paths=(("shop", "shop/secret.py"),))
    await build(request(scope=scope), source)
    ((query, k, mode, flt),) = source.search_calls
    # The line being typed is left out of the query: the snippets stay put while the user types on it.
    assert query == PREFIX.rsplit("\n", 1)[0].strip() and k == 1 and mode == "hybrid"
    assert flt == SearchFilter(
        repos=("shop",),
        languages=("python",),
        path_prefix="shop/",
        exclude_paths=(("shop", "shop/secret.py"), ("shop", "shop/checkout.py")),
    )
    ((names, repos, limit),) = source.symbol_calls
    assert repos == ("shop",) and limit == SETTINGS.symbol_limit
    assert names == ("discount", "subtotal", "cart", "apply_discount", "tax_for", "pricing", "shop")


async def test_a_repository_outside_the_scope_never_reaches_the_prompt(source: MemorySource) -> None:
    in_scope = await build(request(), source)
    everywhere = await build(request(scope=SearchFilter()), source)
    billing = "Billing's own discount"
    assert billing not in in_scope.prompt
    assert billing in everywhere.prompt and "<|file_sep|>billing/billing/invoices.py\n" in everywhere.prompt


async def test_no_repository_in_scope_means_no_lookup_at_all(source: MemorySource) -> None:
    built = await build(request(scope=SearchFilter(repos=())), source)
    assert source.search_calls == [] and source.symbol_calls == []
    assert built.snippets == ()
    assert built.prompt == (
        "<|repo_name|>shop\n<|file_sep|>shop/checkout.py\n<|fim_prefix|>"
        + PREFIX
        + "<|fim_suffix|>\n<|fim_middle|>"
    )


class ReorderingSource(MemorySource):
    """Returns its hits in reverse order on every other call: scores that changed between two keystrokes."""

    def search(
        self, query: str, *, k: int = 10, mode: SearchMode = "hybrid", flt: SearchFilter = SearchFilter()
    ) -> list[Hit]:
        hits = super().search(query, k=k, mode=mode, flt=flt)
        return hits[::-1] if len(self.search_calls) % 2 == 0 else hits


@pytest.mark.parametrize("family", ["qwen2.5-coder", "starcoder2", "deepseek-coder", "smollm2"])
async def test_consecutive_keystrokes_share_everything_up_to_the_files_prefix(
    shop_files: dict[tuple[str, str], str], family: str
) -> None:
    source = ReorderingSource(shop_files)
    settings = CompletionSettings(retrieval_k=4, latency_budget_ms=5000)
    first = await build(request(prefix=PREFIX + "tax_"), source, family, settings=settings)
    second = await build(request(prefix=PREFIX + "tax_f"), source, family, settings=settings)
    assert [h.path for h in source.search(PREFIX, k=4)] != [h.path for h in source.search(PREFIX, k=4)]
    ranges = [[(s.path, s.start_line, s.end_line, s.source) for s in b.snippets] for b in (first, second)]
    assert ranges[0] == ranges[1] and ranges[0]
    head = PREFIX + "tax_"
    assert first.prompt[: first.prompt.index(head)] == second.prompt[: second.prompt.index(head)]


async def test_overlapping_snippets_count_once(source: MemorySource) -> None:
    # The symbol `apply_discount` (pricing.py 8-12) overlaps the retrieval chunk of pricing.py lines 1-10, and
    # the editor sends the same function again without a position.
    editor = EditorSnippet(
        path="shop/pricing.py",
        text="def apply_discount(price: Decimal, rate: Decimal) -> "
        'Decimal:\n    """Return the price after a discount rate between 0 and 1."""',
    )
    settings = CompletionSettings(retrieval_k=8, latency_budget_ms=5000)
    built = await build(
        request(
            prefix="from shop.pricing import TAX_RATES, apply_discount\n\nx = apply_",
            editor_snippets=(editor,),
        ),
        source,
        settings=settings,
        context_length=4096,
    )
    assert built.prompt.count("def apply_discount(price") == 1
    assert built.prompt.count('TAX_RATES = {"FR"') == 1
    sources = {(s.path, s.source) for s in built.snippets}
    assert ("shop/pricing.py", "symbol") in sources and ("shop/pricing.py", "retrieval") in sources
    assert ("shop/pricing.py", "editor") not in sources


async def test_editor_snippets_are_used_and_the_current_file_is_not(source: MemorySource) -> None:
    snippets = (
        EditorSnippet(path="web/cart.js", text="export function countItems(lines) {"),
        EditorSnippet(path="shop/checkout.py", text="def checkout(order, prices):"),
    )
    built = await build(request(editor_snippets=snippets), None, family="codellama")
    assert [(s.path, s.source, s.start_line) for s in built.snippets] == [("web/cart.js", "editor", 0)]
    assert built.prompt == (
        "<PRE> # Path: web/cart.js\n# export function countItems(lines) {\n#\n"
        "# Path: shop/checkout.py\n" + PREFIX + " <SUF>\n <MID>"
    )
    assert [(s.name, s.status) for s in built.stages[:2]] == [
        ("symbols", "skipped"),
        ("retrieval", "skipped"),
    ]


async def test_a_slow_source_is_dropped_at_the_latency_budget(shop_files: dict[tuple[str, str], str]) -> None:
    source = BlockedSource(shop_files)
    try:
        started = time.perf_counter()
        built = await build(
            request(), source, settings=CompletionSettings(retrieval_k=1, latency_budget_ms=80)
        )
        elapsed = time.perf_counter() - started
        assert source.entered.is_set() and not source.release.is_set()
    finally:
        source.release.set()
    stages = {s.name: s for s in built.stages}
    assert stages["retrieval"].status == "timeout"
    assert stages["symbols"].status == "ok"
    assert {s.source for s in built.snippets} == {"symbol"}
    assert elapsed < 5  # returned at the deadline, while the search was still blocked


async def test_a_failing_source_stage_is_recorded_and_the_rest_is_used(
    shop_files: dict[tuple[str, str], str],
) -> None:
    built = await build(request(), FailingSource(shop_files))
    stages = {s.name: s for s in built.stages}
    assert stages["symbols"].status == "error" and "symbol table is locked" in stages["symbols"].detail
    assert {s.source for s in built.snippets} == {"retrieval"}


def assert_outline_then_end(prefix: str, kept: str) -> None:
    """A cut prefix is lines of the file's head (imports, enclosing headers) in file order, a gap marker, then
    the file's end up to the cursor."""
    head, marker, near = kept.rpartition("# ...\n")
    assert prefix.endswith(near)
    lines = prefix.splitlines(keepends=True)
    at = 0
    for line in head.splitlines(keepends=True):
        at = lines.index(line, at) + 1  # raises if a head line is not a line of the file, in order


@pytest.mark.parametrize("family", family_names())
@pytest.mark.parametrize("context_length", [96, 160, 256, 400, 700, 2048])
async def test_never_over_budget_and_prefix_keeps_its_end(
    source: MemorySource, shop_files: dict[tuple[str, str], str], family: str, context_length: int
) -> None:
    text = shop_files[("shop", "shop/cart.py")] * 3
    cursor = len(text) // 2
    req = CursorContext(
        prefix=text[:cursor],
        suffix=text[cursor:],
        path="shop/cart2.py",
        language="python",
        repo="shop",
        scope=SearchFilter(),
    )
    built = await build(
        req,
        source,
        family,
        context_length=context_length,
        max_tokens=32,
        settings=CompletionSettings(retrieval_k=6, latency_budget_ms=5000),
    )
    assert built.prompt_tokens == chars_div_4(built.prompt) <= context_length - 32
    assert_outline_then_end(req.prefix, built.prefix)
    assert req.suffix.startswith(built.suffix)
    assert built.prefix and built.prefix in built.prompt
    if get_family(family).uses_suffix:
        assert built.suffix and built.suffix in built.prompt
    else:
        assert built.suffix == "" and built.suffix_tokens == 0


@pytest.mark.slow
async def test_never_over_budget_with_the_real_smollm2_tokenizer(
    source: MemorySource, shop_files: dict[tuple[str, str], str], smollm2_count: Callable[[str], int]
) -> None:
    text = shop_files[("shop", "shop/pricing.py")] * 4
    cursor = len(text) * 2 // 3
    req = CursorContext(
        prefix=text[:cursor],
        suffix=text[cursor:],
        path="shop/p2.py",
        language="python",
        repo="shop",
        scope=SearchFilter(),
    )
    for family in ("smollm2", "qwen2.5-coder", "starcoder2"):
        for context_length in (128, 300, 1000):
            built = await build(
                req,
                source,
                family,
                context_length=context_length,
                max_tokens=48,
                count=smollm2_count,
                settings=CompletionSettings(retrieval_k=6, latency_budget_ms=5000),
            )
            assert built.prompt_tokens == smollm2_count(built.prompt) <= context_length - 48
            assert_outline_then_end(req.prefix, built.prefix)


async def test_multiline_mode_adds_the_languages_top_level_stops(source: MemorySource) -> None:
    built = await build(
        request(prefix="def checkout(order, prices):\n    ", suffix="\n"), source, "starcoder2"
    )
    assert built.mode == "multi"
    assert built.stop == (
        "<|endoftext|>",
        "<file_sep>",
        "<fim_prefix>",
        "<fim_suffix>",
        "<fim_middle>",
        "<repo_name>",
        "\n\n\n",
        "\ndef ",
        "\nclass ",
        "\nfrom ",
        "\nimport ",
        "\nif __name__ ",
        "\nasync def ",
        "\n@ ",
    )


async def test_max_tokens_that_leave_no_room_are_refused(source: MemorySource) -> None:
    with pytest.raises(PromptTooLong) as err:
        await build(request(), source, context_length=256, max_tokens=256)
    assert err.value.param == "max_tokens"
    with pytest.raises(PromptTooLong):
        await build(request(), source, context_length=256, max_tokens=250)


def test_settings_refuse_shares_over_one() -> None:
    with pytest.raises(ValueError, match="prefix_share \\+ suffix_share"):
        CompletionSettings(prefix_share=0.9, suffix_share=0.2)


async def test_the_clients_mode_overrides_the_guess(source: MemorySource) -> None:
    built = await build(request(mode="multi"), source, "starcoder2")
    assert built.mode == "multi" and "\n" not in built.stop and "\ndef " in built.stop


async def test_the_suffix_can_be_capped_in_tokens(source: MemorySource) -> None:
    suffix = "".join(f"    line_{i} = {i}\n" for i in range(40))
    long = await build(request(suffix=suffix), source)
    capped = await build(
        request(suffix=suffix),
        source,
        settings=CompletionSettings(retrieval_k=1, latency_budget_ms=5000, suffix_max_tokens=16),
    )
    assert long.suffix_tokens > 16 >= capped.suffix_tokens > 0 and suffix.startswith(capped.suffix)
