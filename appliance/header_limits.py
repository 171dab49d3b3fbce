"""Bounds on a request's header, enforced before the server parses or buffers it: at most `max_bytes` of
header and `max_count` header lines, else `431 Request Header Fields Too Large` and the connection closes.

Without them one 32 MB header was accepted before authentication (and eight at once took ~260 MB). The check
reads the raw bytes of each request head as they arrive, ahead of h11, so neither the parser nor the app ever
holds more than the bound."""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from appliance.api.security_headers import HEADERS

_END_OF_HEAD = b"\r\n\r\n"


def bounded_h11(max_bytes: int, max_count: int) -> type[H11Protocol]:
    """uvicorn's h11 protocol with these bounds (a class, as uvicorn's `http` setting takes)."""

    class HeaderBoundedH11(H11Protocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._head = bytearray()
            self._reading_head = True

        def data_received(self, data: bytes) -> None:
            if self._reading_head:
                self._head += data
                end = self._head.find(_END_OF_HEAD)
                head = self._head if end < 0 else self._head[:end]
                lines = head.count(b"\r\n")  # the request line ends with one too
                if len(head) > max_bytes or lines > max_count:
                    self._refuse(len(head), lines)
                    return
                if end >= 0:
                    self._reading_head = False
                    self._head = bytearray()
            super().data_received(data)

        def on_response_complete(self) -> None:
            self._reading_head = True  # keep-alive: the next request's head is bounded too
            super().on_response_complete()

        def _refuse(self, size: int, lines: int) -> None:
            what = f"{size:,} bytes" if size > max_bytes else f"{lines:,} header lines"
            body = json.dumps(
                {
                    "error": {
                        "message": f"the request header is too large ({what}; at most {max_bytes:,} bytes and "
                        f"{max_count} fields)",
                        "type": "invalid_request_error",
                        "code": "header_too_large",
                        "param": None,
                    }
                }
            ).encode()
            extra = "".join(f"{name}: {value}\r\n" for name, value in HEADERS.items())
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
                + f"content-length: {len(body)}\r\nconnection: close\r\n{extra}\r\n".encode()
                + body
            )
            self.transport.close()

    return HeaderBoundedH11
