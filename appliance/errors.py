"""Errors of the appliance, each carrying a message safe and useful to show to the user.

    ApplianceError
    ├── ConfigError          the configuration file or environment is invalid
    └── (further families are added by the gateway: auth, limits, engine, license state)
"""

from __future__ import annotations


class ApplianceError(Exception):
    exit_code: int = 1


class ConfigError(ApplianceError):
    exit_code = 2
