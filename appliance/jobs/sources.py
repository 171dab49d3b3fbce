"""The repositories the appliance indexes: managed ones (a local folder or a git URL, kept in the state
database and synced by jobs) and any others found in the index (indexed with `codemoat index`).

Adding queues the first job at once; removing stops a running job, deletes the repository's points and
manifest rows, its clone, its grants, and records who did it."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import delete, func, select

from appliance.audit.log import Actor, AuditLog
from appliance.errors import InvalidInputError
from appliance.jobs.errors import RepositoryConflict, RepositoryNotFound, SourceError
from appliance.jobs.git import check_branch, check_git_url, local_git_path, redact_url
from appliance.jobs.runner import JobRunner, checkout_path
from appliance.state.models import IndexJob, RepoGrant, Repository, utcnow
from appliance.users.validation import check_repo

if TYPE_CHECKING:
    from indexer.service import RepoInfo


@dataclass(frozen=True, slots=True)
class JobView:
    id: int
    trigger: str
    state: str
    phase: str
    created: datetime
    started: datetime | None
    finished: datetime | None
    files_total: int
    files_done: int
    files_changed: int
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "trigger": self.trigger,
            "state": self.state,
            "phase": self.phase,
            "created": self.created.isoformat(),
            "started": _iso(self.started),
            "finished": _iso(self.finished),
            "files_total": self.files_total,
            "files_done": self.files_done,
            "files_changed": self.files_changed,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class RepositoryView:
    name: str
    managed: bool
    kind: str  # path, git, or "indexed" for a repository found only in the index
    location: str  # credentials removed from URLs
    branch: str | None
    sync_interval_s: int
    files: int
    chunks: int
    last_commit: str | None
    last_sync: datetime | None
    last_error: str | None
    job: JobView | None

    @property
    def state(self) -> str:
        if self.job is not None and self.job.state in ("queued", "running"):
            return self.job.state
        if self.last_error:
            return "failed"
        return "indexed" if self.files or self.chunks or self.last_sync else "new"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "managed": self.managed,
            "kind": self.kind,
            "location": self.location,
            "branch": self.branch,
            "sync_interval_s": self.sync_interval_s,
            "files": self.files,
            "chunks": self.chunks,
            "last_commit": self.last_commit,
            "last_sync": _iso(self.last_sync),
            "last_error": self.last_error,
            "state": self.state,
            "job": self.job.to_json() if self.job else None,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _job(job: IndexJob | None) -> JobView | None:
    if job is None:
        return None
    return JobView(
        job.id,
        job.trigger,
        job.state,
        job.phase,
        job.created,
        job.started,
        job.finished,
        job.files_total,
        job.files_done,
        job.files_changed,
        job.error,
    )


def _default_name(kind: str, location: str) -> str:
    tail = location.rstrip("/").replace(":", "/").rsplit("/", 1)[-1]
    if kind == "git" and tail.endswith(".git"):
        tail = tail[:-4]
    return "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in tail).strip("-.") or "repository"


class RepositorySources:
    def __init__(self, runner: JobRunner, audit: AuditLog) -> None:
        self.runner = runner
        self.db = runner.db
        self.settings = runner.settings
        self.audit = audit

    # -- reading -----------------------------------------------------------------------------------------------

    def list(self) -> list[RepositoryView]:
        with self.db.session() as session:
            repos = list(session.scalars(select(Repository).order_by(Repository.name)))
            latest_ids = {
                repo_id: job_id
                for repo_id, job_id in session.execute(
                    select(IndexJob.repo_id, func.max(IndexJob.id)).group_by(IndexJob.repo_id)
                )
            }
            jobs = {
                j.repo_id: j
                for j in session.scalars(select(IndexJob).where(IndexJob.id.in_(latest_ids.values())))
            }
            views = [self._view(r, jobs.get(r.id)) for r in repos]
        managed = {v.name for v in views}
        for info in self._indexed():
            if info.name not in managed:
                views.append(
                    RepositoryView(
                        info.name,
                        False,
                        "indexed",
                        info.root,
                        None,
                        0,
                        info.files,
                        info.chunks,
                        info.last_commit,
                        None,
                        None,
                        None,
                    )
                )
        return sorted(views, key=lambda v: v.name)

    def get(self, name: str) -> RepositoryView:
        for view in self.list():
            if view.name == name:
                return view
        raise RepositoryNotFound(f"no repository named {name!r}", param="name")

    def names(self) -> list[str]:
        return [v.name for v in self.list()]

    def _indexed(self) -> list[RepoInfo]:
        return self.runner.index.repositories() if self.runner.index is not None else []

    def _view(self, repo: Repository, job: IndexJob | None) -> RepositoryView:
        location = redact_url(repo.location) if repo.kind == "git" else repo.location
        return RepositoryView(
            repo.name,
            True,
            repo.kind,
            location,
            repo.branch,
            repo.sync_interval_s,
            repo.files,
            repo.chunks,
            repo.last_commit,
            repo.last_sync,
            repo.last_error,
            _job(job),
        )

    # -- changing ----------------------------------------------------------------------------------------------

    def add(
        self,
        kind: Literal["path", "git"] | str,
        location: str,
        *,
        name: str | None = None,
        branch: str | None = None,
        sync_interval_s: int | None = None,
        actor: Actor,
    ) -> RepositoryView:
        if kind not in ("path", "git"):
            raise SourceError(
                "kind: must be 'path' (a folder on the appliance) or 'git' (a URL)", param="kind"
            )
        if not isinstance(location, str) or not location.strip():
            raise SourceError("location: give a folder path or a git URL", param="location")
        if kind == "git":
            location = check_git_url(location)
            local = local_git_path(location)
            if local is not None:
                # A local clone reads the appliance's own disk: the same roots as a folder (a file:// URL
                # must not get around `jobs.allowed_path_roots`).
                self._check_folder(local)
            branch = check_branch(branch)
        else:
            location = str(self._check_folder(location))
            if branch:
                raise SourceError("branch: only git repositories have a branch", param="branch")
        try:
            name = check_repo(name if name and name.strip() else _default_name(kind, location), param="name")
        except InvalidInputError as exc:
            raise SourceError(str(exc), param="name") from None
        interval = self._check_interval(sync_interval_s)
        indexed = {info.name: info for info in self._indexed()}
        with self.db.session() as session:
            if session.scalar(select(Repository.id).where(Repository.name == name)) is not None:
                raise RepositoryConflict(f"name: a repository named {name!r} already exists", param="name")
            if name in indexed:
                raise RepositoryConflict(
                    f"name: {name!r} is already indexed from {indexed[name].root} (by `codemoat index`); choose "
                    "another name, or remove it first",
                    param="name",
                )
            repo = Repository(
                name=name,
                kind=kind,
                location=location,
                branch=branch,
                sync_interval_s=interval,
                created=utcnow(),
                created_by=actor.name,
            )
            session.add(repo)
            session.flush()
            repo_id = repo.id
            self.audit.record(
                session,
                actor,
                "repo.add",
                name,
                kind=kind,
                location=redact_url(location) if kind == "git" else location,
                branch=branch,
                sync_interval_s=interval,
            )
        self.runner.enqueue(repo_id, "added")
        return self.get(name)

    def reindex(self, name: str, *, actor: Actor) -> int:
        """Queue a job for the repository; one indexed with `codemoat index` becomes a managed folder (its
        indexed root, not synced on a schedule) so that the console can re-index it like any other."""
        with self.db.session() as session:
            repo_id = session.scalar(select(Repository.id).where(Repository.name == name))
            if repo_id is None:
                root = next((info.root for info in self._indexed() if info.name == name), None)
                if root is None:
                    raise RepositoryNotFound(f"no repository named {name!r}", param="name")
                repo_id = self._adopt(session, name, root, actor)
            self.audit.record(session, actor, "repo.reindex", name)
        return self.runner.enqueue(repo_id, "manual")

    def index_folder(self, path: Path, name: str, *, actor: Actor) -> tuple[int, bool, bool]:
        """Queue a job indexing the folder `path` as `name`, for `codemoat index` while the server holds the
        index; returns the job, whether the repository was new to the database and whether the job is new (a
        job already queued for it is shared, not duplicated). The operator at the shell chose the folder, so the
        console's `allowed_path_roots` do not apply, as they do not to `codemoat index` itself; a name that a
        managed repository uses for another location is refused."""
        if not path.is_dir():
            raise SourceError(f"{path}: no such directory", param="path")
        location = str(path.resolve())
        with self.db.session() as session:
            repo = session.scalar(select(Repository).where(Repository.name == name))
            created = repo is None
            if repo is None:
                repo_id = self._adopt(session, name, location, actor)
            elif repo.kind != "path" or repo.location != location:
                where = redact_url(repo.location) if repo.kind == "git" else repo.location
                raise RepositoryConflict(
                    f"a repository named {name!r} is already indexed from {where}: choose another --name",
                    param="name",
                )
            else:
                repo_id = repo.id
            queued = session.scalar(
                select(IndexJob.id).where(IndexJob.repo_id == repo_id, IndexJob.state == "queued")
            )
            self.audit.record(session, actor, "repo.reindex", name, location=location)
        job_id = self.runner.enqueue(repo_id, "cli")
        return job_id, created, job_id != queued

    def _adopt(self, session: Any, name: str, location: str, actor: Actor) -> int:
        repo = Repository(
            name=name,
            kind="path",
            location=location,
            sync_interval_s=0,
            created=utcnow(),
            created_by=actor.name,
        )
        session.add(repo)
        session.flush()
        return int(repo.id)

    def set_interval(self, name: str, sync_interval_s: int, *, actor: Actor) -> RepositoryView:
        interval = self._check_interval(sync_interval_s)
        with self.db.session() as session:
            repo = session.scalar(select(Repository).where(Repository.name == name))
            if repo is None:
                raise RepositoryNotFound(f"no repository named {name!r}", param="name")
            previous, repo.sync_interval_s = repo.sync_interval_s, interval
            self.audit.record(
                session, actor, "repo.schedule", name, sync_interval_s=interval, previous=previous
            )
        return self.get(name)

    def remove(self, name: str, *, actor: Actor) -> int:
        """Blocking (waits for a running job to stop): call it from a worker thread. Returns points removed."""
        with self.db.session() as session:
            repo = session.scalar(select(Repository).where(Repository.name == name))
            repo_id, kind = (repo.id, repo.kind) if repo is not None else (None, None)
        indexed = any(info.name == name for info in self._indexed())
        if repo_id is None and not indexed:
            raise RepositoryNotFound(f"no repository named {name!r}", param="name")
        if repo_id is not None:
            self.runner.cancel_repo(repo_id)
        with self.runner.index_lock:
            removed = self.runner.index.remove_repository(name) if indexed and self.runner.index else 0
            with self.db.session() as session:
                if repo_id is not None:
                    session.execute(delete(Repository).where(Repository.id == repo_id))
                grants = list(session.scalars(select(RepoGrant.repo).where(RepoGrant.repo == name)))
                session.execute(delete(RepoGrant).where(RepoGrant.repo == name))
                self.audit.record(
                    session, actor, "repo.remove", name, points=removed, grants_dropped=len(grants)
                )
        if kind == "git" and repo_id is not None:
            shutil.rmtree(checkout_path(self.settings, self.runner.home, repo_id), ignore_errors=True)
        return removed

    # -- validation --------------------------------------------------------------------------------------------

    def _check_folder(self, location: str) -> Path:
        path = Path(location.strip()).expanduser()
        if not path.is_absolute():
            raise SourceError(
                "location: give an absolute path (it is read on the appliance)", param="location"
            )
        path = path.resolve()
        if not path.exists():
            raise SourceError(f"location: {path} does not exist on the appliance", param="location")
        if not path.is_dir():
            raise SourceError(f"location: {path} is not a folder", param="location")
        roots = [Path(r).resolve() for r in self.settings.allowed_path_roots]
        if roots and not any(path == r or r in path.parents for r in roots):
            allowed = ", ".join(str(r) for r in roots)
            raise SourceError(f"location: folders may only be added under {allowed}", param="location")
        return path

    def _check_interval(self, value: int | None) -> int:
        if value is None:
            return self.settings.sync_interval_s
        if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value > 30 * 86400:
            raise SourceError(
                "sync_interval_s: a number of seconds from 0 (only when asked) to 2592000 (30 days)",
                param="sync_interval_s",
            )
        if 0 < value < self.settings.min_sync_interval_s:
            raise SourceError(
                f"sync_interval_s: at least {self.settings.min_sync_interval_s} seconds (or 0)",
                param="sync_interval_s",
            )
        return value
