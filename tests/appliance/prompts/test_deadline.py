"""`call_with_deadline`: context lookups run side by side, and only what answered within the budget is used."""

from __future__ import annotations

import threading

from appliance.prompts.sources import call_with_deadline


async def test_an_answer_after_the_budget_is_dropped_even_when_it_is_instant() -> None:
    # Any real call takes some microseconds: with no budget at all, nothing may be used, however the event
    # loop happened to schedule the check.
    results, timings = await call_with_deadline({"symbols": lambda: ["def total(): ..."]}, timeout_s=0)
    assert results == {}
    assert [(t.name, t.status) for t in timings] == [("symbols", "timeout")]


async def test_answers_within_the_budget_are_used_and_a_slow_one_is_not_waited_for() -> None:
    release = threading.Event()

    def slow() -> list[str]:
        release.wait(10)
        return ["late"]

    try:
        results, timings = await call_with_deadline(
            {"fast": lambda: ["hit"], "slow": slow, "broken": lambda: 1 / 0}, timeout_s=0.5
        )
    finally:
        release.set()
    assert results == {"fast": ["hit"]}
    assert {t.name: t.status for t in timings} == {"fast": "ok", "slow": "timeout", "broken": "error"}
