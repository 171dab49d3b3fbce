"""Tell the developer about a problem once, with what to do, and then keep quiet about it.

Every occurrence goes to `window/logMessage` (the editor's output panel); only the first of each distinct
problem (unreachable appliance, refused token, stopped license, bad setting) goes to `window/showMessage`.
A request that succeeds again clears the slate, so a later outage is reported afresh; so does a change of
configuration."""

from __future__ import annotations

from typing import Callable

from lsprotocol import types

from lsp.errors import BridgeError

__all__ = ["ProblemReporter"]

Notify = Callable[[types.MessageType, str], None]

_SEVERITY = {
    "config": types.MessageType.Error,
    "auth": types.MessageType.Error,
    "forbidden": types.MessageType.Warning,
    "license": types.MessageType.Warning,
    "unreachable": types.MessageType.Warning,
    "slow": types.MessageType.Warning,
}


class ProblemReporter:
    def __init__(self, show: Notify, log: Notify) -> None:
        self._show = show
        self._log = log
        self._shown: set[str] = set()

    @property
    def active(self) -> frozenset[str]:
        return frozenset(self._shown)

    def report(self, error: BridgeError) -> None:
        self._log(types.MessageType.Warning if error.user_visible else types.MessageType.Log, error.message)
        if not error.user_visible or error.problem in self._shown:
            return
        self._shown.add(error.problem)
        self._show(_SEVERITY.get(error.problem, types.MessageType.Error), error.message)

    def recovered(self) -> None:
        if self._shown:
            self._log(types.MessageType.Info, "CodeMoat: the appliance answers again")
            self._shown.clear()

    def forget(self, problem: str) -> None:
        self._shown.discard(problem)

    def reset(self) -> None:
        self._shown.clear()
