"""The composition root: every service is built in `appliance.wiring`, whether the console is on or off. With
the console off, the repository job runner still runs and the editor bridge's telemetry is still received."""

from __future__ import annotations

from typing import Any

from tests.appliance.api.conftest import Home


async def test_without_the_console_jobs_run_and_telemetry_is_received(
    gateway_factory: Any, gateway_home: Home
) -> None:
    async with (
        gateway_factory(console={"enabled": False}) as gw,
        gw.client(gateway_home.user_token) as client,
    ):
        sent = await client.post(
            "/v1/telemetry/completions",
            json={
                "event": "accepted",
                "completion_id": "cmpl-wiring",
                "language": "python",
                "chars": 12,
                "lines": 1,
            },
        )
        assert sent.status_code == 204, sent.text
        assert (await client.get("/console/chat")).status_code == 404
        assert (await client.get("/api/me")).status_code == 404
        from sqlalchemy import select

        from appliance.state.models import CompletionFeedback

        with gw.services.db.session() as session:
            ids = session.scalars(select(CompletionFeedback.completion_id)).all()
        assert "cmpl-wiring" in ids


async def test_the_job_runner_is_built_and_started_by_the_composition_root(
    gateway_home: Home, cpu_engine: Any
) -> None:
    from appliance.engines import BoundedEngine
    from appliance.wiring import open_appliance
    from tests.appliance.api.conftest import gateway_settings

    settings = gateway_settings(gateway_home.path, console={"enabled": False})
    async with open_appliance(
        settings, engine=BoundedEngine(cpu_engine, max_concurrent=1, max_queue=0), open_index=False
    ) as appliance:
        assert appliance.console is None and appliance.runner.running
    assert not appliance.runner.running  # closed with the appliance
