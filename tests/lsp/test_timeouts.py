"""The bridge's wait for a suggestion follows the appliance: its own estimate, this session's round trips,
doubling after a miss, within the user's floor and ceiling."""

from __future__ import annotations

from lsp.timeouts import AdaptiveTimeout


def test_a_miss_doubles_the_wait_up_to_the_ceiling() -> None:
    timeout = AdaptiveTimeout(5000, 60000)
    assert timeout.current_ms == 5000
    assert [timeout.timed_out() for _ in range(5)] == [10000, 20000, 40000, 60000, 60000]


def test_measurements_set_the_wait_with_headroom_and_never_below_the_floor() -> None:
    timeout = AdaptiveTimeout(5000, 60000)
    timeout.timed_out()
    timeout.observed(8000)  # arrived: the back-off is over, the measurement decides
    assert timeout.current_ms == 12000
    fast = AdaptiveTimeout(5000, 60000)
    fast.observed(300)
    assert fast.current_ms == 5000


def test_the_appliances_own_estimate_counts_and_the_ceiling_holds() -> None:
    timeout = AdaptiveTimeout(1000, 30000)
    timeout.observed(900, hint_ms=14000)
    assert timeout.current_ms == 21000
    timeout.observed(900, hint_ms=50000)
    assert timeout.current_ms == 30000
