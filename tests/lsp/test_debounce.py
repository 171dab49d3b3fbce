"""Adaptive debounce follows typing speed within its bounds."""

from __future__ import annotations

import pytest

from lsp.debounce import AdaptiveDebounce


def _typed(debounce: AdaptiveDebounce, gaps: list[float]) -> float:
    at = 100.0
    debounce.keystroke("u", at)
    for gap in gaps:
        at += gap
        debounce.keystroke("u", at)
    return at


def test_first_keystroke_waits_the_minimum() -> None:
    debounce = AdaptiveDebounce(40, 250)
    debounce.keystroke("u", 1.0)
    assert debounce.delay("u") == pytest.approx(0.040)
    assert debounce.remaining("u", 1.0) == pytest.approx(0.040)
    assert debounce.remaining("u", 1.5) == 0.0


def test_fast_bursts_wait_longer_than_a_gap_slow_typing_is_capped() -> None:
    fast = AdaptiveDebounce(40, 250)
    _typed(fast, [0.08] * 10)
    assert 0.08 < fast.delay("u") < 0.12
    slow = AdaptiveDebounce(40, 250)
    _typed(slow, [0.5] * 10)
    assert slow.delay("u") == pytest.approx(0.250)
    very_fast = AdaptiveDebounce(40, 250)
    _typed(very_fast, [0.01] * 10)
    assert very_fast.delay("u") == pytest.approx(0.040)


def test_pauses_do_not_count_as_typing_speed() -> None:
    debounce = AdaptiveDebounce(40, 250)
    _typed(debounce, [0.08] * 5 + [5.0])
    assert debounce.delay("u") < 0.12


def test_documents_are_independent_and_forgettable() -> None:
    debounce = AdaptiveDebounce(40, 250)
    _typed(debounce, [0.5] * 5)
    assert debounce.delay("other") == pytest.approx(0.040)
    debounce.forget("u")
    assert debounce.remaining("u", 0.0) == 0.0
