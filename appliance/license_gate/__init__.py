"""The gateway's side of licensing: whether `codemoat serve` enforces a license, the heartbeat that re-checks
it while serving, the gate every /v1 request passes, and what happens to the engine when the state changes
(the model unloads on STOPPED and its keys are dropped; it loads again after a renewal, no restart).

The cryptography and the state machine live in the top-level `licensing` package; this package only wires
them into the appliance (`LicenseRuntime.open` in `create_app`'s lifespan)."""

from appliance.license_gate.config import LicenseSettings
from appliance.license_gate.runtime import LicenseRuntime

__all__ = ["LicenseRuntime", "LicenseSettings"]
