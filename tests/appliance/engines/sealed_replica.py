"""A stand-in for `vllm serve MODEL_DIR --load-format codemoat-sealed` where no GPU is: it loads the sealed
weights exactly as the vLLM loader does (`licensing.vllm_plugin.sealed_weights`, the key fetched from the
appliance's key server with the socket and one-time token the supervisor put in its environment), proves the
token cannot be used twice, then answers /health like vLLM.

Run by the supervisor: `python sealed_replica.py MODEL_DIR PORT`."""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

from licensing.errors import KeyServerError
from licensing.keyserver import fetch_model_key
from licensing.vllm_plugin import key_server_address, sealed_model_id, sealed_weights


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        body = json.dumps({"status": "ok"}).encode()
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


def main() -> None:
    model_dir, port = Path(sys.argv[1]), int(sys.argv[2])
    socket_path, token = key_server_address(None)
    numbers = sum(tensor.numel() for _, tensor in sealed_weights(model_dir, socket_path, token))
    print(f"loaded {numbers} weights", flush=True)
    try:
        fetch_model_key(socket_path, token, sealed_model_id(model_dir))
        print("token reused: served", flush=True)
    except KeyServerError as exc:
        print(f"token reused: refused ({exc})", flush=True)
    HTTPServer(("127.0.0.1", port), Health).serve_forever()


if __name__ == "__main__":
    main()
