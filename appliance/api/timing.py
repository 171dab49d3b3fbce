"""Per-request stage timings: fed to the metrics histograms, the usage event, and the `Server-Timing` header
(so a client or a benchmark sees where the time of one request went)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from appliance.metrics import Stage


@dataclass(slots=True)
class StageTimer:
    started: float = field(default_factory=time.perf_counter)
    stages: dict[str, float] = field(default_factory=dict)  # stage -> seconds

    def add(self, stage: Stage, seconds: float) -> None:
        self.stages[stage] = self.stages.get(stage, 0.0) + seconds

    def mark_since(self, stage: Stage, since: float) -> float:
        """Record `now - since` for `stage`; returns now, so calls chain."""
        now = time.perf_counter()
        self.add(stage, now - since)
        return now

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def server_timing(self) -> str:
        return ", ".join(f"{name};dur={seconds * 1000:.3f}" for name, seconds in self.stages.items())
