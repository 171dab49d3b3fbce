"""Settings of repository sync and index jobs (TOML `[jobs]`, env `CODEMOAT_JOBS__SYNC_INTERVAL_S`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class JobSettings(BaseModel):
    model_config = {"extra": "forbid"}

    run_jobs: bool = Field(
        True,
        description="This process runs index jobs (turn off on all but one replica "
        "when the index is local to one machine).",
    )
    checkout_dir: Path | None = Field(
        None, description="Where git repositories are cloned (default <home>/repos)."
    )
    sync_interval_s: int = Field(
        900, ge=0, description="Default pull-and-index interval of a new repository; 0: only when asked."
    )
    min_sync_interval_s: int = Field(60, ge=1, description="The shortest interval an administrator may set.")
    poll_interval_s: float = Field(
        2.0, gt=0, description="How often the runner looks for queued and due jobs."
    )
    git_timeout_s: float = Field(600.0, gt=0, description="Longest a clone or fetch may take.")
    allowed_path_roots: list[Path] = Field(
        default_factory=list, description="Local folders may only be added under these (empty: anywhere)."
    )
    progress_interval_s: float = Field(0.3, gt=0, description="How often live progress is written.")

    def checkouts(self, home: Path) -> Path:
        return self.checkout_dir if self.checkout_dir is not None else home / "repos"
