"""Errors of the state database.

ApplianceError
└── DatabaseError           the state database cannot be opened, migrated or written
"""

from __future__ import annotations

from appliance.errors import ApplianceError

__all__ = ["DatabaseError"]


class DatabaseError(ApplianceError):
    status = 503
    code = "state_unavailable"
    exit_code = 3
    public_message = "the state database is unavailable"
