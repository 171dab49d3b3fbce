"""Errors of the audit log.

    ApplianceError
    └── AuditError
        └── AuditChainBroken     `codemoat audit verify` found deleted, edited or reordered entries
"""

from __future__ import annotations

from appliance.errors import ApplianceError

__all__ = ["AuditChainBroken", "AuditError"]


class AuditError(ApplianceError):
    exit_code = 3


class AuditChainBroken(AuditError):
    exit_code = 6
