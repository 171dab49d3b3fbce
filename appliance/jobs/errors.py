"""Errors of repository management and index jobs.

ApplianceError
└── JobError
    ├── SourceError              400: the location, name or interval of a repository is not acceptable
    ├── RepositoryNotFound       404
    ├── RepositoryConflict       409: the name is taken
    ├── SyncError                cloning or pulling failed (the job records it)
    └── JobCancelled             the repository was removed, or the server is stopping, during its job
"""

from __future__ import annotations

from appliance.errors import ApplianceError

__all__ = ["JobCancelled", "JobError", "RepositoryConflict", "RepositoryNotFound", "SourceError", "SyncError"]


class JobError(ApplianceError):
    status = 500
    code = "job_error"
    exit_code = 3


class SourceError(JobError):
    status = 400
    code = "invalid_value"
    exit_code = 2


class RepositoryNotFound(JobError):
    status = 404
    code = "not_found"
    exit_code = 2


class RepositoryConflict(JobError):
    status = 409
    code = "conflict"
    exit_code = 2


class SyncError(JobError):
    status = 502
    code = "sync_failed"


class JobCancelled(JobError):
    status = 409
    code = "cancelled"
