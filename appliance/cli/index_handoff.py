"""`codemoat index` while `codemoat serve` holds the embedded index: the work goes to the server's job runner.

The embedded store is one process's. The running server has it open, and its job runner claims queued jobs
from the state database that this command can open too, so the command queues a job there (the same job the
console's "Re-index" queues, audited as the shell user), shows its live progress, and prints what the server
reports when it ends. If no runner claims the job within a few poll intervals (the index is held by another
`codemoat index`, not a server), the job is withdrawn and the original "in use" reason stands.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from appliance.audit.log import Actor, AuditLog
from appliance.jobs.errors import JobError
from appliance.jobs.runner import JobRunner, runner_alive
from appliance.jobs.sources import RepositorySources
from appliance.state.models import IndexJob, Repository
from indexer.errors import StoreInUseError

if TYPE_CHECKING:
    from appliance.config import Settings
    from appliance.state.db import Database
    from indexer.pipeline import Progress

# How long a queued job may wait for a runner, in the runner's poll intervals, before the hand-off gives up.
_CLAIM_POLLS = 5
_WATCH_INTERVAL_S = 0.25


@dataclass(frozen=True, slots=True)
class HandedOffReport:
    """What the server's job reports, in the shape of the indexer's own report where the two share a field."""

    repo: str
    job: int
    runner: str
    files: int
    files_changed: int
    total_chunks: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "files": self.files,
            "files_changed": self.files_changed,
            "total_chunks": self.total_chunks,
            "seconds": round(self.seconds, 3),
            "handed_off": {"job": self.job, "runner": self.runner},
        }


class IndexHandoff:
    def __init__(self, db: Database, sources: RepositorySources, *, claim_timeout_s: float) -> None:
        self.db = db
        self.sources = sources
        self.claim_timeout_s = claim_timeout_s

    @classmethod
    def open(cls, settings: Settings) -> IndexHandoff:
        from appliance.state.db import Database

        db = Database.open(settings.state, settings.home)
        runner = JobRunner(db, None, settings.jobs, settings.home)  # queues only: never started here
        sources = RepositorySources(runner, AuditLog.for_settings(db, settings))
        return cls(db, sources, claim_timeout_s=_CLAIM_POLLS * settings.jobs.poll_interval_s + 5)

    def close(self) -> None:
        self.db.close()

    def index(
        self,
        path: Path,
        name: str,
        busy: StoreInUseError,
        progress: Progress | None,
        on_claimed: Callable[[IndexJob], None] = lambda job: None,
    ) -> HandedOffReport:
        """Queue the folder with the server and wait for its job; `busy` is raised again if nobody takes it."""
        started = time.monotonic()
        job_id, repo_created, job_created = self.sources.index_folder(path, name, actor=Actor.cli())
        total = done = 0
        try:
            job = self._wait_for_claim(job_id, busy)
        except BaseException:
            # Nobody took it, or the operator gave up (Ctrl-C): what this hand-off queued is taken back whole,
            # so that a server started later does not find a job or repository nobody asked it to keep. A job
            # someone else queued stays.
            if job_created:
                self._withdraw(job_id, repo_created)
            raise
        on_claimed(job)
        while job.state != "done" and job.state != "failed":
            if job.state == "queued":  # the server stopped and put it back: it runs when one takes it again
                job = self._wait_for_claim(job_id, busy)
                continue
            if progress is not None and job.files_total:
                if not total:
                    total = job.files_total
                    progress.start(name, total)
                progress.advance(job.files_done - done, 0)
                done = job.files_done
            time.sleep(_WATCH_INTERVAL_S)
            job = self._job(job_id)
        if progress is not None and total:
            progress.advance(job.files_done - done, 0)
            progress.finish()
        if job.state != "done":
            raise JobError(f"the server's index job {job_id} for {name} failed: {job.error or job.state}")
        with self.db.session() as session:
            repo = session.scalar(select(Repository).where(Repository.name == name))
            files, total_chunks = (repo.files, repo.chunks) if repo is not None else (0, 0)
        return HandedOffReport(
            repo=name,
            job=job_id,
            runner=job.runner,
            files=files,
            files_changed=job.files_changed,
            total_chunks=total_chunks,
            seconds=time.monotonic() - started,
        )

    def _wait_for_claim(self, job_id: int, busy: StoreInUseError) -> IndexJob:
        """The job once a runner took it. A runner that is busy with another job counts as there (it runs one
        job at a time, oldest first); with none alive past the timeout, `busy` is raised with that reason."""
        deadline = time.monotonic() + self.claim_timeout_s
        while True:
            job = self._job(job_id)
            if job.state != "queued":
                return job
            if time.monotonic() >= deadline:
                if not self._runner_busy():
                    raise StoreInUseError(
                        f"{busy}; no running server took the job within {self.claim_timeout_s:.0f} s"
                    )
                deadline = time.monotonic() + self.claim_timeout_s
            time.sleep(_WATCH_INTERVAL_S)

    def _runner_busy(self) -> bool:
        with self.db.session() as session:
            runners = list(session.scalars(select(IndexJob.runner).where(IndexJob.state == "running")))
        return any(runner_alive(runner) for runner in runners)

    def _withdraw(self, job_id: int, repo_created: bool) -> None:
        with self.db.session() as session:
            repo_id = session.scalar(select(IndexJob.repo_id).where(IndexJob.id == job_id))
            withdrawn = session.execute(
                delete(IndexJob).where(IndexJob.id == job_id, IndexJob.state == "queued")
            ).rowcount  # type: ignore[attr-defined]
            if withdrawn and repo_created and repo_id is not None:
                session.execute(delete(Repository).where(Repository.id == repo_id))

    def _job(self, job_id: int) -> IndexJob:
        with self.db.session() as session:
            job = session.get(IndexJob, job_id)
            if job is None:
                raise JobError(f"the server's index job {job_id} was removed (was the repository removed?)")
            session.expunge(job)
            return job
