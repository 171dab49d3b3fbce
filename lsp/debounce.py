"""Adaptive debounce: how long to wait after a keystroke before asking the appliance.

A developer typing a word in a burst (intervals of 60–120 ms) should not trigger a request per character; one
who pauses should get a suggestion at once. The delay follows an exponential moving average of the intervals
between keystrokes in the document, scaled by `factor` and clamped to [min, max]: fast typing waits a little
longer than the typical gap (so the request fires when the burst ends), slow typing is capped at `max`.
Gaps longer than `pause_s` are pauses, not typing speed, and are not averaged in."""

from __future__ import annotations

__all__ = ["AdaptiveDebounce"]


class AdaptiveDebounce:
    def __init__(
        self,
        min_ms: float,
        max_ms: float,
        *,
        factor: float = 1.3,
        smoothing: float = 0.3,
        pause_s: float = 1.0,
    ) -> None:
        self.min_s = min_ms / 1000.0
        self.max_s = max(max_ms, min_ms) / 1000.0
        self.factor = factor
        self.smoothing = smoothing
        self.pause_s = pause_s
        self._last: dict[str, float] = {}
        self._average: dict[str, float] = {}

    def keystroke(self, uri: str, at: float) -> None:
        previous = self._last.get(uri)
        self._last[uri] = at
        if previous is None:
            return
        gap = at - previous
        if gap <= 0 or gap > self.pause_s:
            return
        average = self._average.get(uri)
        self._average[uri] = gap if average is None else average + self.smoothing * (gap - average)

    def delay(self, uri: str) -> float:
        """Seconds to wait after the last keystroke in `uri`."""
        average = self._average.get(uri)
        if average is None:
            return self.min_s
        return min(self.max_s, max(self.min_s, average * self.factor))

    def remaining(self, uri: str, now: float) -> float:
        """Seconds still to wait at `now`; 0 when the document has been quiet long enough."""
        last = self._last.get(uri)
        if last is None:
            return 0.0
        return max(0.0, last + self.delay(uri) - now)

    def forget(self, uri: str) -> None:
        self._last.pop(uri, None)
        self._average.pop(uri, None)
