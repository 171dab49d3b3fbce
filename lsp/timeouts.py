"""How long the bridge waits for a suggestion: as long as this appliance needs, within bounds.

A CPU appliance takes seconds per completion, a GPU one a fraction of a second; one fixed timeout either drops
every CPU suggestion (5 s: headless Neovim saw none) or leaves a GPU user waiting on a stalled server. The wait
follows the evidence, in this order:

- what the appliance says about itself (`X-CodeMoat-Expected-Ms` on each completion: the p90 of its recent
  completions), and what this session measured (the p90 of its own recent round trips), with headroom;
- after a suggestion that did not arrive in time, the wait doubles, so a cold start on a slow appliance
  converges instead of timing out forever;
- never below `timeout_ms` (the user's floor) nor above `max_timeout_ms`."""

from __future__ import annotations

from collections import deque

__all__ = ["AdaptiveTimeout"]

HEADROOM = 1.5
_WINDOW = 32


def _p90(values: deque[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


class AdaptiveTimeout:
    def __init__(self, floor_ms: float, ceiling_ms: float) -> None:
        self.floor_ms = floor_ms
        self.ceiling_ms = max(ceiling_ms, floor_ms)
        self._observed: deque[float] = deque(maxlen=_WINDOW)
        self._hint_ms: float | None = None
        self._backoff_ms = floor_ms

    @property
    def current_ms(self) -> float:
        wanted = self._backoff_ms
        if self._observed:
            wanted = max(wanted, HEADROOM * _p90(self._observed))
        if self._hint_ms is not None:
            wanted = max(wanted, HEADROOM * self._hint_ms)
        return min(max(wanted, self.floor_ms), self.ceiling_ms)

    def observed(self, elapsed_ms: float, hint_ms: float | None = None) -> None:
        """A suggestion arrived after `elapsed_ms`; the appliance's own estimate came with it, if any."""
        self._observed.append(elapsed_ms)
        if hint_ms is not None and hint_ms > 0:
            self._hint_ms = hint_ms
        # Measurements now say how long to wait; the back-off after misses has done its job.
        self._backoff_ms = self.floor_ms

    def timed_out(self) -> float:
        """A suggestion did not arrive within `current_ms`: wait twice as long next time. Returns the new wait."""
        self._backoff_ms = min(2 * self.current_ms, self.ceiling_ms)
        return self.current_ms
