"""How long this gateway's code completions take, told to the editor bridge so that it waits long enough
(`X-CodeMoat-Expected-Ms` on every completion, and in /v1/models): the p90 of the recent successful ones."""

from __future__ import annotations

import threading
from collections import deque

EXPECTED_HEADER = "X-CodeMoat-Expected-Ms"
_WINDOW = 64
_MIN_SAMPLES = 3


class LatencyTracker:
    def __init__(self) -> None:
        self._seconds: deque[float] = deque(maxlen=_WINDOW)
        self._lock = threading.Lock()

    def record(self, seconds: float) -> None:
        with self._lock:
            self._seconds.append(seconds)

    def p90_ms(self) -> int | None:
        """None until a few completions have been served."""
        with self._lock:
            if len(self._seconds) < _MIN_SAMPLES:
                return None
            ordered = sorted(self._seconds)
        return round(1000 * ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))])

    def headers(self) -> dict[str, str]:
        p90 = self.p90_ms()
        return {EXPECTED_HEADER: str(p90)} if p90 is not None else {}
