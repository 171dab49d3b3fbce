"""Errors of the audit log.

ApplianceError
└── AuditError
    ├── AuditChainBroken     `codemoat audit verify` found deleted, edited or reordered entries
    └── AuditNotRecorded     a command's change was made, but its audit entry could not be written
"""

from __future__ import annotations

from appliance.errors import ApplianceError

__all__ = ["AuditChainBroken", "AuditError", "AuditNotRecorded"]


class AuditError(ApplianceError):
    exit_code = 3


class AuditChainBroken(AuditError):
    exit_code = 6


class AuditNotRecorded(AuditError):
    """The change is done (the message says which); only its audit entry is missing. A code of its own, so
    that a script can tell this from a refused command, which changed nothing."""

    exit_code = 7
