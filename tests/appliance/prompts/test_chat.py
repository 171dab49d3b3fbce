from __future__ import annotations

import pytest

from appliance.prompts import ChatSettings, Citation, PromptError, PromptTooLong, build_chat_prompt
from appliance.prompts.chat import DEFAULT_INSTRUCTIONS, fuse
from indexer.types import Hit, SearchFilter
from tests.appliance.prompts.conftest import chars_div_4
from tests.appliance.prompts.memory_source import MemorySource

SHOP = SearchFilter(repos=("shop",))
QUESTION = (
    "How is tax computed when an order is paid?\n```python\nnet = self.cart.total(prices, discount)\n```"
)


async def chat(
    messages, source, *, context_length=2048, max_tokens=256, scope=SHOP, retrieve=None, **settings
):
    return await build_chat_prompt(
        messages,
        source=source,
        scope=scope,
        count_tokens=chars_div_4,
        context_length=context_length,
        max_tokens=max_tokens,
        settings=ChatSettings(**settings),
        retrieve=retrieve,
    )


async def test_sources_are_numbered_in_the_system_message_and_cited(source: MemorySource) -> None:
    built = await chat([{"role": "user", "content": QUESTION}], source, max_sources=2)
    assert built.citations == (
        Citation(
            1,
            "shop",
            "shop/orders.py",
            11,
            18,
            "class Order: customer: str country: str cart: Cart def amount_due(self, prices: PriceList, "
            'discount: Decimal = Decimal("0")) -> Decimal: net = self.cart.total(…',
        ),
        Citation(
            2,
            "shop",
            "shop/pricing.py",
            11,
            20,
            'raise ValueError(f"discount rate {rate} is not between 0 and 1") return (price * (1 - rate))'
            '.quantize(Decimal("0.01")) def tax_for(country: str, amount: Decima…',
        ),
    )
    system, user = built.messages
    assert user == {"role": "user", "content": QUESTION}
    assert system["role"] == "system"
    assert system["content"] == (
        DEFAULT_INSTRUCTIONS + "\n\nSources:\n\n"
        "[1] shop/shop/orders.py:11-18\n```python\n"
        "class Order:\n    customer: str\n    country: str\n    cart: Cart\n\n"
        '    def amount_due(self, prices: PriceList, discount: Decimal = Decimal("0")) -> Decimal:\n'
        "        net = self.cart.total(prices, discount)\n"
        "        return net + tax_for(self.country, net)\n```\n\n"
        "[2] shop/shop/pricing.py:11-20\n```python\n"
        '        raise ValueError(f"discount rate {rate} is not between 0 and 1")\n'
        '    return (price * (1 - rate)).quantize(Decimal("0.01"))\n\n\n'
        "def tax_for(country: str, amount: Decimal) -> Decimal:\n"
        '    """The tax owed on an amount sold to a country."""\n'
        '    return (amount * TAX_RATES.get(country, Decimal("0"))).quantize(Decimal("0.01"))\n\n\n'
        "class PriceList:\n```"
    )
    assert built.citations[0].to_json() == {
        "index": 1,
        "repo": "shop",
        "path": "shop/orders.py",
        "start_line": 11,
        "end_line": 18,
        "preview": built.citations[0].preview,
    }


async def test_question_and_pasted_code_are_searched_separately_within_scope(source: MemorySource) -> None:
    await chat([{"role": "user", "content": QUESTION}], source)
    assert [(q, k, flt) for q, k, _, flt in source.search_calls] == [
        ("How is tax computed when an order is paid?", 8, SHOP),
        ("net = self.cart.total(prices, discount)", 8, SHOP),
    ]


async def test_no_visible_repository_means_no_search_and_no_sources(source: MemorySource) -> None:
    built = await chat([{"role": "user", "content": QUESTION}], source, scope=SearchFilter(repos=()))
    assert source.search_calls == [] and built.citations == ()
    assert built.messages[0]["content"] == (
        DEFAULT_INSTRUCTIONS + "\n\nNo repository sources were looked up for this message."
    )
    assert built.stages[0].status == "skipped" and built.context_note == "the caller may read no repository"


@pytest.mark.parametrize("message", ["hi", "Hello!", "thanks, that works", "ok cool, bye"])
async def test_small_talk_pays_no_retrieval(source: MemorySource, message: str) -> None:
    built = await chat([{"role": "user", "content": message}], source)
    assert source.search_calls == [] and built.citations == ()
    assert built.context_note == "the message does not ask about code"
    assert (await chat([{"role": "user", "content": message}], source, retrieve=True)).context_note != (
        "the message does not ask about code"
    )  # asked for, it searches anyway
    assert source.search_calls


@pytest.mark.parametrize("message", ["hi, where is tax computed?", "thanks! and `tax_for`?", "explain Order"])
async def test_anything_else_is_a_question_about_code(source: MemorySource, message: str) -> None:
    await chat([{"role": "user", "content": message}], source)
    assert source.search_calls


async def test_the_client_may_turn_context_off(source: MemorySource) -> None:
    built = await chat([{"role": "user", "content": QUESTION}], source, retrieve=False)
    assert source.search_calls == [] and built.citations == ()
    assert built.context_note == "the client turned repository context off (codemoat.context: false)"


def test_fusion_prefers_hits_found_by_several_queries_and_drops_overlaps() -> None:
    def hit(path: str, start: int, end: int) -> Hit:
        return Hit("shop", path, "python", start, end, "", 1.0, "x")

    prose = [hit("a.py", 1, 10), hit("b.py", 1, 10), hit("c.py", 1, 10)]
    code = [hit("c.py", 1, 10), hit("a.py", 5, 12), hit("d.py", 3, 4)]
    fused = fuse([prose, code], limit=10)
    assert [(h.path, h.start_line) for h in fused] == [("c.py", 1), ("a.py", 1), ("b.py", 1), ("d.py", 3)]


async def test_history_is_trimmed_from_the_oldest_turn(source: MemorySource) -> None:
    old = "x" * 400  # 100 tokens each
    messages = [{"role": "system", "content": "Answer in French."}]
    for i in range(6):
        messages += [
            {"role": "user", "content": f"{i} {old}"},
            {"role": "assistant", "content": f"{i} {old}"},
        ]
    messages.append({"role": "user", "content": QUESTION})
    built = await chat(messages, source, context_length=1024, max_tokens=256, source_share=0.3)
    assert built.prompt_tokens <= 1024 - 256
    assert built.messages[-1] == {"role": "user", "content": QUESTION}
    assert built.messages[0]["content"].startswith(DEFAULT_INSTRUCTIONS + "\n\nAnswer in French.\n\nSources:")
    kept = [m["content"][0] for m in built.messages[1:-1]]
    assert built.dropped_messages == 12 - len(kept) > 0
    assert kept == [str(i) for i in range(6) for _ in (0, 1)][-len(kept) :]  # the newest turns survive
    total = sum(chars_div_4(m["content"]) + 4 for m in built.messages)
    assert total == built.prompt_tokens


async def test_sources_stay_within_their_share(source: MemorySource) -> None:
    built = await chat(
        [{"role": "user", "content": QUESTION}], source, context_length=600, max_tokens=100, source_share=0.4
    )
    sources_part = built.messages[0]["content"].split("Sources:", 1)[1]
    assert chars_div_4(sources_part) <= int(500 * 0.4)
    assert 0 < len(built.citations) < 8


async def test_a_last_message_that_cannot_fit_is_refused(source: MemorySource) -> None:
    with pytest.raises(PromptTooLong) as err:
        await chat([{"role": "user", "content": "y" * 4000}], source, context_length=512, max_tokens=128)
    assert err.value.param == "messages"


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([], "messages must not be empty"),
        ([{"role": "assistant", "content": "hi"}], "messages must contain a user message"),
        ([{"role": "robot", "content": "hi"}], "messages[0].role must be one of system, user, assistant"),
        ([{"role": "user", "content": 3}], "messages[0].content must be a string or a list of text parts"),
        (
            [{"role": "user", "content": [{"type": "image_url"}]}],
            "messages[0].content parts must be text parts",
        ),
    ],
)
async def test_malformed_messages_name_the_field(source: MemorySource, messages: list, message: str) -> None:
    with pytest.raises(PromptError) as err:
        await chat(messages, source)
    assert str(err.value) == message and err.value.param == "messages"


async def test_text_parts_are_joined(source: MemorySource) -> None:
    built = await chat(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What does"},
                    {"type": "text", "text": "tax_for return?"},
                ],
            }
        ],
        source,
    )
    assert built.messages[-1]["content"] == "What does\ntax_for return?"
    assert source.search_calls[0][0] == "What does tax_for return?"
