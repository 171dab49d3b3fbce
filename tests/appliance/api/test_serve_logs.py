"""`codemoat serve`'s logs, read from a real server process: one JSON line per request with its route, status,
duration, user and request id (a proxy's `X-Request-Id` kept, else one made and returned), readable lines on
request (`server.log_format = "text"`), and no token or query string ever written."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.appliance.api.conftest import run_codemoat, start_serve, stop_serve
from tests.appliance.api.test_serve_cli import NO_MODEL


def _token(home: Path) -> str:
    made = run_codemoat(home, "token", "create", "ops", "--admin", "--json")
    assert made.returncode == 0, made.stderr
    return json.loads(made.stdout)["token"]


def _requests(url: str, token: str) -> str:
    with httpx.Client(base_url=url, timeout=60) as client:
        tagged = client.get(
            "/v1/models", headers={"Authorization": f"Bearer {token}", "X-Request-Id": "lb-42"}
        )
        assert tagged.status_code == 200 and tagged.headers["x-request-id"] == "lb-42"
        made = client.get("/v1/models?api_key=query-secret-1", headers={"Authorization": f"Bearer {token}"})
        assert len(made.headers["x-request-id"]) == 16
        refused = client.get("/v1/models", headers={"Authorization": "Bearer cm_not-a-real-token-xyz"})
        assert refused.status_code == 401
        odd = client.get("/v1/models", headers={"X-Request-Id": "spaces are not an id"})
        assert odd.headers["x-request-id"] != "spaces are not an id"
        return made.headers["x-request-id"]


def _wait_for(served, text: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + 30
    while not any(text in line for line in served.log) and time.monotonic() < deadline:
        time.sleep(0.1)


def test_json_access_lines_carry_route_user_and_request_id_and_no_secret(tmp_path: Path) -> None:
    home = tmp_path / "home"
    token = _token(home)
    env = {**NO_MODEL, "CODEMOAT_SERVER__LOG_FORMAT": "json"}
    served = start_serve(home, env=env, wait_ready=False, access_log=True)
    try:
        made_id = _requests(served.url, token)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            access = [json.loads(line) for line in served.log if '"codemoat.access"' in line]
            if len(access) >= 4:
                break
            time.sleep(0.1)
    finally:
        stop_serve(served)
    output = "\n".join(served.log)
    assert token not in output and "query-secret-1" not in output and "cm_not-a-real-token-xyz" not in output
    assert {"time", "level", "logger", "message"} <= access[0].keys()
    by_id = {line["request_id"]: line for line in access}
    tagged = by_id["lb-42"]
    assert (tagged["method"], tagged["route"], tagged["status"], tagged["user"]) == (
        "GET",
        "/v1/models",
        200,
        "ops",
    )
    assert tagged["duration_ms"] >= 0
    assert by_id[made_id]["user"] == "ops" and by_id[made_id]["route"] == "/v1/models"
    refused = [line for line in access if line["status"] == 401]
    assert len(refused) == 2 and all(line["user"] == "" for line in refused)
    # Lines logged outside any request are JSON too, without request fields.
    startup = [json.loads(line) for line in served.log if line.startswith("{") and "uvicorn" in line]
    assert startup and all("request_id" not in line and "color_message" not in line for line in startup)


def test_text_lines_on_request(tmp_path: Path) -> None:
    home = tmp_path / "home"
    token = _token(home)
    served = start_serve(
        home, env={**NO_MODEL, "CODEMOAT_SERVER__LOG_FORMAT": "text"}, wait_ready=False, access_log=True
    )
    try:
        _requests(served.url, token)
        _wait_for(served, "request_id=lb-42")
    finally:
        stop_serve(served)
    line = next(line for line in served.log if "request_id=lb-42" in line)
    assert line.startswith("INFO:") and "GET /v1/models 200" in line and "user=ops" in line
    assert token not in "\n".join(served.log)
