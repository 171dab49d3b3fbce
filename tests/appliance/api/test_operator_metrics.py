"""What an operator's monitoring reads from a running gateway, through HTTP: the build and version (also in
/healthz), process metrics, the license state, each role's model and the index, refused console sign-ins, and
per-route labels that name the route's template (console routes included) rather than "other"."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from tests.appliance.api.conftest import Home, metric_value


async def test_build_license_readiness_sign_ins_and_route_templates(
    gateway_factory: Any, gateway_home: Home
) -> None:
    async with gateway_factory() as gw, gw.client(gateway_home.admin_token) as client:
        health = (await client.get("/healthz")).json()
        assert health == {"status": "ok", "version": version("codemoat")}

        login = await client.get("/console/login")
        csrf = login.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        refused = await client.post(
            "/console/login",
            data={
                "csrf": csrf,
                "method": "password",
                "username": "nobody-here",
                "password": "wrong-password-1",
            },
        )
        assert refused.status_code == 401
        # A route with a parameter: one label for every user name, not one per name (nor "other").
        for name in ("ann", "ben"):
            await client.patch(f"/api/admin/users/{name}", json={})
        await client.get("/no/such/route")
        text = (await client.get("/metrics")).text

    assert metric_value(text, "codemoat_build_info", {"version": version("codemoat")}) == 1
    assert metric_value(text, "process_cpu_seconds_total") > 0
    assert metric_value(text, "process_resident_memory_bytes") > 0
    assert metric_value(text, "codemoat_license_state", {"state": "UNLICENSED"}) == 1
    assert metric_value(text, "codemoat_license_state", {"state": "VALID"}) == 0
    assert metric_value(text, "codemoat_model_ready", {"role": "completion"}) == 1
    assert metric_value(text, "codemoat_model_ready", {"role": "chat"}) == 1
    assert metric_value(text, "codemoat_index_ready") in (0, 1)
    assert metric_value(text, "codemoat_sign_in_failures_total", {"method": "password"}) == 1
    by_route = {"route": "/api/admin/users/{name}", "method": "PATCH"}
    assert (
        sum(
            metric_value(text, "codemoat_http_requests_total", {**by_route, "status": status})
            for status in ("200", "400", "401", "403", "404", "422")
        )
        == 2
    )
    assert metric_value(text, "codemoat_http_requests_total", {"route": "/api/admin/users/ann"}) == 0
    assert metric_value(text, "codemoat_http_requests_total", {"route": "other", "status": "404"}) >= 1
