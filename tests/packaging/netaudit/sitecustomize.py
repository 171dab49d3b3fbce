"""Loaded by every Python process of the offline-install test (it is on their PYTHONPATH): records each attempt
to resolve a name or open a connection, through Python's audit hooks, in the file CODEMOAT_NET_AUDIT names.

Inside an empty network namespace an attempt to reach the network fails, and a failure can be swallowed (a
retry, a fallback, a warning nobody reads); the record is what the test asserts on."""

import json
import os
import socket
import sys

_LOG = os.environ.get("CODEMOAT_NET_AUDIT")
_LOCAL_FAMILIES = {socket.AF_UNIX, getattr(socket, "AF_NETLINK", -1)}
_LOOPBACK_NAMES = {None, "", "localhost", "localhost.localdomain", "ip6-localhost", "::1", "0.0.0.0", "::"}


def _loopback_host(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    return host in _LOOPBACK_NAMES or (isinstance(host, str) and host.startswith("127."))


def _record(event: str, target: object, loopback: bool) -> None:
    line = json.dumps({"event": event, "target": repr(target), "loopback": loopback, "argv": sys.argv[:3]})
    fd = os.open(_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, line.encode() + b"\n")
    finally:
        os.close(fd)


def _hook(event: str, args: tuple) -> None:
    if event == "socket.getaddrinfo":
        _record(event, args[:2], _loopback_host(args[0]))
    elif event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        sock, address = args[0], args[-1]
        if sock.family in _LOCAL_FAMILIES:
            return
        host = address[0] if isinstance(address, tuple) and address else address
        _record(event, address, _loopback_host(host))


if _LOG:
    sys.addaudithook(_hook)
