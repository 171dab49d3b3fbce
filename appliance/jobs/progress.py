"""Live progress of an index job: the indexer's `Progress` protocol, written to the job's row at most every
`interval` seconds (so the console of any replica shows it), and the place where a job learns it must stop."""

from __future__ import annotations

import threading
import time

from sqlalchemy import update

from appliance.jobs.errors import JobCancelled
from appliance.state.db import Database
from appliance.state.models import IndexJob


class JobProgress:
    def __init__(self, db: Database, job_id: int, *, interval: float, cancel: threading.Event) -> None:
        self._db = db
        self._job_id = job_id
        self._interval = interval
        self._cancel = cancel
        self.total = 0
        self.done = 0
        self.nbytes = 0
        self._written = 0.0

    def start(self, repo: str, total_files: int) -> None:
        self.total, self.done = total_files, 0
        self._write(phase="index")

    def advance(self, files: int, nbytes: int) -> None:
        if self._cancel.is_set():
            # Raised inside the indexer's run: it stops between files, and its manifest makes the next run
            # finish or sweep whatever this one left half done.
            raise JobCancelled("the job was cancelled")
        self.done += files
        self.nbytes += nbytes
        now = time.monotonic()
        if now - self._written >= self._interval:
            self._write()

    def finish(self) -> None:
        self._write()
        if (
            self._cancel.is_set()
        ):  # removed while its last batch was embedded: report it, the lock holder cleans up
            raise JobCancelled("the job was cancelled")

    def _write(self, **extra: object) -> None:
        self._written = time.monotonic()
        with self._db.session() as session:
            session.execute(
                update(IndexJob)
                .where(IndexJob.id == self._job_id)
                .values(files_total=self.total, files_done=self.done, **extra)
            )
