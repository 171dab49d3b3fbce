"""The console's own errors. Every error the console meets is answered as the gateway answers it
(`appliance.api.errors.describe`): JSON `{"error": {"message", "type", "code", "param"}}`, or an error page.

    ApplianceError
    ├── LoginRequired                 a page needs a session: redirect to the sign-in page
    └── AuthError
        └── PermissionDeniedError
            └── CsrfError             403: a state-changing request without this session's CSRF token
"""

from __future__ import annotations

from appliance.auth.errors import PermissionDeniedError
from appliance.errors import ApplianceError

__all__ = ["CsrfError", "LoginRequired"]


class LoginRequired(ApplianceError):
    pass


class CsrfError(PermissionDeniedError):
    pass
