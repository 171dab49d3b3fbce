"""Errors of the state layer.

ApplianceError
└── StateError           the state database cannot be opened, migrated or written
"""

from __future__ import annotations

from appliance.errors import ApplianceError

__all__ = ["StateError"]


class StateError(ApplianceError):
    exit_code = 3
