"""`JobRunner`: one worker per gateway process that runs repository jobs from the state database.

The loop: queue scheduled syncs that are due, claim the oldest queued job (an UPDATE that only one replica's
claim can win), run it in a worker thread (sync: clone or pull; index: `CodeIndex.index`, incremental, with
progress written to the job's row), record the outcome on the job and the repository, repeat; sleep until
`wake()` or the poll interval. Index writes (jobs and removals) hold one lock, so they never overlap."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update

from appliance.jobs.config import JobSettings
from appliance.jobs.errors import JobCancelled, JobError, SyncError
from appliance.jobs.git import Git
from appliance.jobs.progress import JobProgress
from appliance.state.db import Database
from appliance.state.errors import DatabaseError
from appliance.state.models import IndexJob, Repository, utcnow

if TYPE_CHECKING:
    from appliance.metrics import GatewayMetrics
    from indexer.service import CodeIndex

log = logging.getLogger("codemoat.jobs")

ACTIVE = ("queued", "running")


@dataclass(frozen=True, slots=True)
class JobOutcome:
    state: str
    commit: str | None = None
    files: int = 0
    chunks: int = 0
    changed: int = 0  # files re-chunked and embedded in this run
    error: str | None = None


def checkout_path(settings: JobSettings, home: Path, repo_id: int) -> Path:
    return settings.checkouts(home) / f"repo-{repo_id}"


class JobRunner:
    def __init__(
        self,
        db: Database,
        index: CodeIndex | None,
        settings: JobSettings,
        home: Path,
        *,
        index_error: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self.db = db
        self.metrics = metrics
        self.index = index
        self.index_error = index_error
        self.settings = settings
        self.home = home
        self.git = Git(timeout_s=settings.git_timeout_s)
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.index_lock = threading.Lock()
        self._clock = clock
        self._cancel: dict[int, threading.Event] = {}  # repo id -> cancel flag of its running job
        self._stopping = threading.Event()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    # -- queueing ----------------------------------------------------------------------------------------------

    def enqueue(self, repo_id: int, trigger: str) -> int:
        """Queue a job for the repository, unless one is queued already (then that one's id)."""
        with self.db.session() as session:
            queued = session.scalar(
                select(IndexJob.id).where(IndexJob.repo_id == repo_id, IndexJob.state == "queued")
            )
            if queued is not None:
                return int(queued)
            job = IndexJob(repo_id=repo_id, trigger=trigger, state="queued", created=self._clock())
            session.add(job)
            session.flush()
            job_id = int(job.id)
        self.wake()
        return job_id

    def wake(self) -> None:
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def cancel_repo(self, repo_id: int) -> None:
        """Stop the repository's running job (at its next file) and drop its queued ones."""
        flag = self._cancel.get(repo_id)
        if flag is not None:
            flag.set()
        with self.db.session() as session:
            session.execute(
                update(IndexJob)
                .where(IndexJob.repo_id == repo_id, IndexJob.state == "queued")
                .values(state="failed", error="cancelled", finished=self._clock())
            )

    # -- lifecycle ---------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is not None or not self.settings.run_jobs:
            return
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._release_stale()
        self._task = self._loop.create_task(self._run_forever(), name="index-jobs")

    async def aclose(self) -> None:
        self._stopping.set()
        for flag in list(self._cancel.values()):
            flag.set()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run_forever(self) -> None:
        assert self._wake is not None
        while not self._stopping.is_set():
            try:
                await asyncio.to_thread(self.schedule_due)
                job_id = await asyncio.to_thread(self.claim)
                if job_id is not None:
                    # Shielded: a server shutdown cancels this task, but the thread must finish its bookkeeping.
                    await asyncio.shield(asyncio.to_thread(self.run_job, job_id))
                    continue
            except DatabaseError as exc:
                log.warning("index jobs: %s", exc)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval_s)
            except TimeoutError:
                pass

    def _release_stale(self) -> None:
        """Jobs a process of this host was running when it died go back to the queue (a live process's stay)."""
        host = socket.gethostname() + ":"
        try:
            with self.db.session() as session:
                for job in session.scalars(
                    select(IndexJob).where(IndexJob.state == "running", IndexJob.runner.startswith(host))
                ):
                    if not _alive(job.runner.removeprefix(host)):
                        job.state, job.runner, job.started = "queued", "", None
        except DatabaseError as exc:
            log.warning("index jobs: %s", exc)

    # -- one step (public for tests and for `codemoat`-side tools) ---------------------------------------------

    def schedule_due(self) -> int:
        """Queue a sync of every repository whose interval has passed since its last sync; returns how many."""
        now = self._clock()
        queued = 0
        with self.db.session() as session:
            active = set(session.scalars(select(IndexJob.repo_id).where(IndexJob.state.in_(ACTIVE))))
            for repo in session.scalars(select(Repository).where(Repository.sync_interval_s > 0)):
                if repo.id in active:
                    continue
                if repo.last_sync is None or repo.last_sync + timedelta(seconds=repo.sync_interval_s) <= now:
                    session.add(IndexJob(repo_id=repo.id, trigger="schedule", state="queued", created=now))
                    queued += 1
        return queued

    def claim(self) -> int | None:
        """Take the oldest queued job; None when there is none (or another replica took it first)."""
        with self.db.session() as session:
            candidate = session.scalar(
                select(IndexJob.id)
                .where(IndexJob.state == "queued")
                .order_by(IndexJob.created, IndexJob.id)
                .limit(1)
            )
            if candidate is None:
                return None
            won = session.execute(
                update(IndexJob)
                .where(IndexJob.id == candidate, IndexJob.state == "queued")
                .values(state="running", runner=self.name, started=self._clock(), phase="sync")
            )
            return int(candidate) if won.rowcount else None  # type: ignore[attr-defined]

    def run_job(self, job_id: int) -> JobOutcome:
        with self.db.session() as session:
            job = session.get(IndexJob, job_id)
            repo = session.get(Repository, job.repo_id) if job is not None else None
            if job is None or repo is None:
                return JobOutcome("failed", error="the repository was removed")
            repo_id, name, kind, location, branch = repo.id, repo.name, repo.kind, repo.location, repo.branch
        cancel = self._cancel.setdefault(repo_id, threading.Event())
        cancel.clear()
        started = time.monotonic()
        try:
            with self.index_lock:
                outcome = self._sync_and_index(job_id, repo_id, name, kind, location, branch, cancel)
        except JobCancelled:
            outcome = JobOutcome(
                "failed", error="cancelled: the repository was removed or the server stopped"
            )
        except (JobError, OSError) as exc:
            outcome = JobOutcome("failed", error=str(exc))
        except Exception as exc:  # the indexer's own errors and anything unexpected: recorded, never fatal
            log.warning("index job %d for %s failed", job_id, name, exc_info=True)
            outcome = JobOutcome("failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            self._cancel.pop(repo_id, None)
        if (
            self._stopping.is_set()
            and outcome.state == "failed"
            and (outcome.error or "").startswith("cancelled")
        ):
            self._requeue(job_id)
            return outcome
        self._record(job_id, repo_id, outcome)
        seconds = time.monotonic() - started
        log.info(
            "index job %d for %s %s in %.1f s%s",
            job_id,
            name,
            outcome.state,
            seconds,
            f": {outcome.error}" if outcome.error else f" ({outcome.files} files, {outcome.changed} changed)",
            extra={
                "job": job_id,
                "repo": name,
                "outcome": outcome.state,
                "duration_ms": round(seconds * 1000),
            },
        )
        if self.metrics is not None:
            self.metrics.index_jobs.labels(outcome.state).inc()
            self.metrics.index_job_seconds.observe(seconds)
        return outcome

    def _sync_and_index(
        self,
        job_id: int,
        repo_id: int,
        name: str,
        kind: str,
        location: str,
        branch: str | None,
        cancel: threading.Event,
    ) -> JobOutcome:
        if self.index is None:
            raise JobError(f"the code index is not open: {self.index_error or 'unknown reason'}")
        if kind == "git":
            root = checkout_path(self.settings, self.home, repo_id)
            commit: str | None = self.git.sync(location, root, branch)
        else:
            root = Path(location)
            if not root.is_dir():
                raise SyncError(f"the folder {location} does not exist any more")
            commit = None
        if cancel.is_set():
            raise JobCancelled("cancelled")
        progress = JobProgress(self.db, job_id, interval=self.settings.progress_interval_s, cancel=cancel)
        report = self.index.index(root, name=name, progress=progress)
        return JobOutcome(
            "done",
            commit=commit or report.last_commit,
            files=report.files,
            chunks=report.total_chunks,
            changed=report.files_changed,
        )

    def _record(self, job_id: int, repo_id: int, outcome: JobOutcome) -> None:
        # Plain UPDATEs, not loaded rows: a removal may delete both rows between our read and our write,
        # and an UPDATE that matches nothing is the right answer then, where a stale ORM flush is an error.
        now = self._clock()
        job_values: dict[str, object] = {
            "state": outcome.state,
            "finished": now,
            "error": outcome.error,
            "commit": outcome.commit,
        }
        repo_values: dict[str, object] = {"last_sync": now, "last_error": outcome.error}
        if outcome.state == "done":
            job_values |= {"chunks_written": outcome.chunks, "files_changed": outcome.changed}
            repo_values |= {"last_commit": outcome.commit, "files": outcome.files, "chunks": outcome.chunks}
        with self.db.session() as session:
            session.execute(update(IndexJob).where(IndexJob.id == job_id).values(**job_values))
            session.execute(update(Repository).where(Repository.id == repo_id).values(**repo_values))

    def _requeue(self, job_id: int) -> None:
        with self.db.session() as session:
            session.execute(
                update(IndexJob)
                .where(IndexJob.id == job_id)
                .values(state="queued", runner="", started=None, phase="")
            )

    def pending(self) -> int:
        with self.db.session() as session:
            return int(
                session.scalar(select(func.count()).select_from(IndexJob).where(IndexJob.state.in_(ACTIVE)))
                or 0
            )


def runner_alive(runner: str) -> bool:
    """Whether the runner named `host:pid` (`JobRunner.name`) may still be running. Another host's cannot be
    checked from here and counts as alive; its own server releases its jobs when it restarts."""
    host, _, pid = runner.rpartition(":")
    if not host:
        return False
    return _alive(pid) if host == socket.gethostname() else True


def _alive(pid_text: str) -> bool:
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if pid == os.getpid():
        return False  # a job this very process claimed before a restart of its loop cannot be running now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
