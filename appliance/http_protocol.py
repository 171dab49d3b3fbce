"""uvicorn's h11 protocol, made to answer what it refuses the way the API does: JSON errors with the security
headers, and bounds on a request's head enforced before anything parses or buffers it.

- A head over `max_bytes` or `max_count` header lines is a `431` and the connection closes. Without the bound
  one 32 MB header was accepted before authentication (and eight at once took ~260 MB): the raw bytes of each
  head are counted as they arrive, ahead of h11, so neither the parser nor the app ever holds more.
- A `Content-Length` longer than h11 accepts (over 20 digits, e.g. 10^20) is a `413`, as any body over the limit
  is: h11 alone calls it a malformed request.
- A request h11 cannot parse gets a JSON `400` instead of uvicorn's plain-text one."""

from __future__ import annotations

import json
import re
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from appliance.api.security_headers import HEADERS

_END_OF_HEAD = b"\r\n\r\n"
# h11 refuses a Content-Length of more digits than this (CONTENT_LENGTH_MAX_DIGITS) as malformed.
_H11_LENGTH_DIGITS = 20
_HUGE_LENGTH = re.compile(
    rb"\r\ncontent-length[ \t]*:[ \t]*[0-9]{%d,}[ \t]*(?:\r\n|$)" % (_H11_LENGTH_DIGITS + 1), re.I
)
_REASONS = {400: "Bad Request", 413: "Content Too Large", 431: "Request Header Fields Too Large"}


def bounded_h11(max_bytes: int, max_count: int) -> type[H11Protocol]:
    """uvicorn's h11 protocol with these bounds (a class, as uvicorn's `http` setting takes)."""

    class BoundedH11(H11Protocol):
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
                    what = f"{len(head):,} bytes" if len(head) > max_bytes else f"{lines:,} header lines"
                    self._answer(
                        431,
                        f"the request header is too large ({what}; at most {max_bytes:,} bytes and "
                        f"{max_count} fields)",
                        "header_too_large",
                    )
                    return
                if end >= 0:
                    self._reading_head = False
                    self._head = bytearray()
                    if _HUGE_LENGTH.search(head):
                        self._answer(413, "the request body is larger than the limit", "request_too_large")
                        return
            super().data_received(data)

        def on_response_complete(self) -> None:
            self._reading_head = True  # keep-alive: the next request's head is bounded too
            super().on_response_complete()

        def send_400_response(self, msg: str) -> None:
            self._answer(400, "the request is not valid HTTP/1.1", "malformed_request")

        def _answer(self, status: int, message: str, code: str) -> None:
            body = json.dumps(
                {"error": {"message": message, "type": "invalid_request_error", "code": code, "param": None}}
            ).encode()
            extra = "".join(f"{name}: {value}\r\n" for name, value in HEADERS.items())
            self.transport.write(
                f"HTTP/1.1 {status} {_REASONS[status]}\r\ncontent-type: application/json\r\n".encode()
                + f"content-length: {len(body)}\r\nconnection: close\r\n{extra}\r\n".encode()
                + body
            )
            self.transport.close()

    return BoundedH11
