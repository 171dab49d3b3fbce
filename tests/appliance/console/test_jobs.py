"""Repository sync and index jobs against a real code index: a local folder, a git URL cloned and then pulled
(only the changed file is re-embedded), schedules, failures recorded with their reason (credentials never in
it), removal that stops a running job, and every bad input refused with the field it concerns."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from appliance.audit.log import AuditLog
from appliance.jobs.config import JobSettings
from appliance.jobs.errors import RepositoryConflict, RepositoryNotFound, SourceError
from appliance.jobs.runner import JobRunner
from appliance.jobs.sources import RepositorySources
from appliance.metrics import GatewayMetrics
from appliance.state.config import StateSettings
from appliance.state.db import Database
from appliance.users.groups import Groups
from indexer.config import IndexerSettings
from indexer.service import CodeIndex
from indexer.types import SearchFilter

from .conftest import ADMIN
from .gitrepo import commit, make_repo

pytestmark = pytest.mark.slow

PARSER = '''def parse_invoice(text):
    """Split an invoice line into its amount and currency."""
    amount, currency = text.split()
    return float(amount), currency
'''
MAILER = '''def send_reminder(address):
    """E-mail a payment reminder."""
    return f"reminder to {address}"
'''


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def index(home: Path):  # type: ignore[no-untyped-def]
    with CodeIndex.open(IndexerSettings(), home) as code_index:
        yield code_index


@pytest.fixture
def db(home: Path):  # type: ignore[no-untyped-def]
    database = Database.open(StateSettings(), home)
    yield database
    database.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def runner(db: Database, index: CodeIndex, home: Path, clock: Clock) -> JobRunner:
    return JobRunner(db, index, JobSettings(sync_interval_s=0, min_sync_interval_s=60), home, clock=clock)


@pytest.fixture
def sources(runner: JobRunner, db: Database) -> RepositorySources:
    return RepositorySources(runner, AuditLog(db))


def run_next(runner: JobRunner) -> str:
    job = runner.claim()
    assert job is not None, "no queued job"
    return runner.run_job(job).state


def paths(index: CodeIndex, query: str, repo: str) -> list[str]:
    return [h.path for h in index.search(query, k=5, flt=SearchFilter(repos=(repo,)))]


def test_a_local_folder_is_indexed_with_progress(
    tmp_path: Path, sources: RepositorySources, runner: JobRunner, index: CodeIndex
) -> None:
    folder = tmp_path / "billing"
    folder.mkdir()
    (folder / "parser.py").write_text(PARSER)
    (folder / "mailer.py").write_text(MAILER)
    added = sources.add("path", str(folder), actor=ADMIN)
    assert added.name == "billing" and added.state == "queued"
    assert run_next(runner) == "done"
    view = sources.get("billing")
    assert (view.state, view.files, view.job.state) == ("indexed", 2, "done")
    assert view.chunks >= 2 and view.job.files_total == view.job.files_done == 2
    assert "parser.py" in paths(index, "invoice amount currency", "billing")
    assert runner.claim() is None


def test_a_repository_indexed_from_the_cli_is_reindexed_from_the_console(
    tmp_path: Path, sources: RepositorySources, runner: JobRunner, index: CodeIndex
) -> None:
    folder = tmp_path / "cli-made"
    folder.mkdir()
    (folder / "parser.py").write_text(PARSER)
    index.index(folder, name="cli-made")  # what `codemoat index` did before the server ran
    assert sources.get("cli-made").kind == "indexed"
    (folder / "mailer.py").write_text(MAILER)
    job = sources.reindex("cli-made", actor=ADMIN)
    assert job > 0 and run_next(runner) == "done"
    view = sources.get("cli-made")
    assert (view.managed, view.kind, view.location, view.sync_interval_s) == (True, "path", str(folder), 0)
    assert (view.files, view.job.files_changed) == (2, 1)
    assert "mailer.py" in paths(index, "payment reminder e-mail", "cli-made")
    assert [v.name for v in sources.list()].count("cli-made") == 1


def test_a_git_repository_is_cloned_then_pulled_incrementally(
    tmp_path: Path, sources: RepositorySources, runner: JobRunner, index: CodeIndex
) -> None:
    upstream = tmp_path / "upstream"
    first = make_repo(upstream, {"billing/parser.py": PARSER, "billing/mailer.py": MAILER})
    sources.add("git", f"file://{upstream}", name="billing", actor=ADMIN)
    assert run_next(runner) == "done"
    view = sources.get("billing")
    assert view.last_commit == first and view.files == 2 and view.job.files_changed == 2

    second = commit(
        upstream, {"billing/mailer.py": MAILER.replace("payment reminder", "overdue notice")}, "edit"
    )
    job = sources.reindex("billing", actor=ADMIN)
    assert job > 0 and run_next(runner) == "done"
    view = sources.get("billing")
    assert view.last_commit == second
    assert view.job.files_changed == 1  # only the changed file was chunked and embedded again
    hits = index.search("overdue notice", k=3, flt=SearchFilter(repos=("billing",)))
    assert hits and "overdue notice" in hits[0].text
    assert not any(
        "payment reminder" in h.text
        for h in index.search("payment reminder", k=10, flt=SearchFilter(repos=("billing",)))
    )


def test_scheduled_syncs_are_queued_when_due(
    tmp_path: Path, sources: RepositorySources, runner: JobRunner, clock: Clock
) -> None:
    folder = tmp_path / "svc"
    folder.mkdir()
    (folder / "a.py").write_text(PARSER)
    sources.add("path", str(folder), sync_interval_s=600, actor=ADMIN)
    assert runner.schedule_due() == 0  # its first job is queued already
    assert run_next(runner) == "done"
    assert runner.schedule_due() == 0
    clock.now += timedelta(seconds=599)
    assert runner.schedule_due() == 0
    clock.now += timedelta(seconds=2)
    assert runner.schedule_due() == 1
    assert runner.schedule_due() == 0  # one queued job per repository
    assert run_next(runner) == "done"


def test_a_failing_sync_is_recorded_without_credentials(
    sources: RepositorySources, runner: JobRunner
) -> None:
    sources.add("git", "https://deploy:s3cr3t-token@127.0.0.1:9/team/app.git", actor=ADMIN)
    assert run_next(runner) == "failed"
    view = sources.get("app")
    assert (
        view.state == "failed"
        and view.last_error
        and view.last_error.startswith("cloning https://***@127.0.0.1:9")
    )
    assert "s3cr3t" not in view.last_error and "s3cr3t" not in view.location
    assert "s3cr3t" not in str([e.detail for e in sources.audit.entries()])


def test_removal_stops_a_running_job_and_drops_points_and_grants(
    tmp_path: Path, db: Database, index: CodeIndex, home: Path
) -> None:
    runner = JobRunner(db, index, JobSettings(sync_interval_s=0, progress_interval_s=0.01), home)
    sources = RepositorySources(runner, AuditLog(db))
    folder = tmp_path / "big"
    folder.mkdir()
    for i in range(1000):
        (folder / f"module_{i}.py").write_text(f"def function_{i}(x):\n    return x * {i}\n")
    sources.add("path", str(folder), actor=ADMIN)
    groups = Groups(db, sources.audit)
    groups.create("team", repos=["big"], actor=ADMIN)
    job = runner.claim()
    assert job is not None
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(runner.run_job(job).state))
    worker.start()
    deadline = time.monotonic() + 60
    while sources.get("big").job.files_done == 0:  # wait until the index run is under way
        assert time.monotonic() < deadline, "the job never made progress"
        time.sleep(0.05)
    sources.remove("big", actor=ADMIN)
    worker.join(180)  # on a loaded 2-core machine the run notices the cancel between files, not at once
    assert outcome == ["failed"]
    with pytest.raises(RepositoryNotFound):
        sources.get("big")
    assert index.store.count("big") == 0 and not [r for r in index.repositories() if r.name == "big"]
    assert groups.get("team").repos == ()
    assert [e.action for e in sources.audit.entries(limit=1)] == ["repo.remove"]


def test_the_runner_loop_runs_queued_jobs(tmp_path: Path, db: Database, index: CodeIndex, home: Path) -> None:
    folder = tmp_path / "loop"
    folder.mkdir()
    (folder / "x.py").write_text(PARSER)
    metrics = GatewayMetrics()
    runner = JobRunner(db, index, JobSettings(sync_interval_s=0, poll_interval_s=30), home, metrics=metrics)
    sources = RepositorySources(runner, AuditLog(db))

    async def scenario() -> str:
        runner.start()
        try:
            sources.add("path", str(folder), actor=ADMIN)  # wakes the loop: no wait for the 30 s poll
            for _ in range(600):
                state = sources.get("loop").state
                if state in ("indexed", "failed"):
                    return state
                await asyncio.sleep(0.05)
            return "timeout"
        finally:
            await runner.aclose()

    assert asyncio.run(scenario()) == "indexed"
    # What an operator's dashboard reads: the job's outcome and how long it took.
    assert metrics.registry.get_sample_value("codemoat_index_jobs_total", {"outcome": "done"}) == 1
    assert metrics.registry.get_sample_value("codemoat_index_job_seconds_count") == 1
    assert metrics.registry.get_sample_value("codemoat_index_job_seconds_sum") > 0


@pytest.mark.parametrize(
    ("kind", "location", "extra", "message"),
    [
        ("svn", "/tmp", {}, "kind: must be 'path'"),
        ("path", "", {}, "location: give a folder path or a git URL"),
        ("path", "relative/dir", {}, "location: give an absolute path"),
        ("path", "/definitely/not/here", {}, "location: /definitely/not/here does not exist"),
        ("path", "/etc/hostname", {}, "location: /etc/hostname is not a folder"),
        ("path", "/tmp", {"branch": "main"}, "branch: only git repositories have a branch"),
        ("git", "ftp://host/repo.git", {}, "location: a git URL starts with"),
        ("git", "--upload-pack=touch /tmp/x", {}, "location: a git URL is one line without spaces"),
        ("git", "-oProxyCommand=x", {}, "location: this kind of git URL is not allowed"),
        ("git", "ext::sh -c touch% /tmp/pwned", {}, "location: a git URL is one line without spaces"),
        ("git", "https://h/r.git", {"branch": "--force"}, "branch: not a valid branch name"),
        ("git", "https://h/r.git", {"name": "../up"}, "name: a repository name is"),
        ("git", "https://h/r.git", {"sync_interval_s": -1}, "sync_interval_s: a number of seconds"),
        ("git", "https://h/r.git", {"sync_interval_s": 5}, "sync_interval_s: at least 60 seconds"),
    ],
)
def test_bad_repository_input_is_refused(sources: RepositorySources, kind, location, extra, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SourceError) as caught:
        sources.add(kind, location, actor=ADMIN, **extra)
    assert str(caught.value).startswith(message)
    assert caught.value.param == message.split(":")[0]


def test_a_local_git_url_obeys_the_allowed_folders(
    tmp_path: Path, db: Database, index: CodeIndex, home: Path
) -> None:
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    make_repo(outside, {"ledger.py": PARSER})
    settings = JobSettings(sync_interval_s=0, allowed_path_roots=[allowed])
    sources = RepositorySources(JobRunner(db, index, settings, home), AuditLog(db))
    with pytest.raises(SourceError, match=f"location: folders may only be added under {allowed}"):
        sources.add("path", str(outside), actor=ADMIN)
    for url in (f"file://{outside}", f"file://localhost{outside}", f"file://{allowed}/../outside"):
        with pytest.raises(SourceError, match=f"location: folders may only be added under {allowed}"):
            sources.add("git", url, actor=ADMIN)
    with pytest.raises(SourceError, match="no host"):
        sources.add("git", "file://other-host/srv/repo", actor=ADMIN)
    assert sources.list() == []


def test_names_are_unique(tmp_path: Path, sources: RepositorySources, index: CodeIndex) -> None:
    (tmp_path / "one").mkdir()
    sources.add("path", str(tmp_path / "one"), actor=ADMIN)
    with pytest.raises(RepositoryConflict, match="already exists"):
        sources.add("git", "https://h/one.git", actor=ADMIN)
    (tmp_path / "cli").mkdir()
    (tmp_path / "cli" / "a.py").write_text(PARSER)
    index.index(tmp_path / "cli", name="from-cli")
    with pytest.raises(RepositoryConflict, match="already indexed from"):
        sources.add("path", str(tmp_path / "one"), name="from-cli", actor=ADMIN)
    assert {v.name: v.kind for v in sources.list()} == {"from-cli": "indexed", "one": "path"}


def test_jobs_of_a_dead_process_go_back_to_the_queue(
    tmp_path: Path, db: Database, index: CodeIndex, home: Path
) -> None:
    import socket
    import subprocess

    from sqlalchemy import update

    from appliance.state.models import IndexJob

    folder = tmp_path / "orphan"
    folder.mkdir()
    (folder / "a.py").write_text(PARSER)
    runner = JobRunner(db, index, JobSettings(sync_interval_s=0, poll_interval_s=30), home)
    sources = RepositorySources(runner, AuditLog(db))
    sources.add("path", str(folder), actor=ADMIN)
    finished = subprocess.Popen(["true"])
    finished.wait()
    dead_pid = finished.pid  # a process id that no longer runs
    job_id = sources.get("orphan").job.id
    with db.session() as session:
        session.execute(
            update(IndexJob)
            .where(IndexJob.id == job_id)
            .values(state="running", runner=f"{socket.gethostname()}:{dead_pid}")
        )

    async def scenario() -> str:
        runner.start()  # releases the dead process's job, then runs it
        try:
            for _ in range(600):
                if sources.get("orphan").state == "indexed":
                    return "indexed"
                await asyncio.sleep(0.05)
            return sources.get("orphan").state
        finally:
            await runner.aclose()

    assert asyncio.run(scenario()) == "indexed"
