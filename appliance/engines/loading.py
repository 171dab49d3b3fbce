"""Waiting for a model that loads in the background: what the in-process engines share. A model loads on its
own thread into a `concurrent.futures.Future`; requests wait for it from any event loop (or thread), and one
that gives up never cancels the load for the others."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from typing import TypeVar

from appliance.engines.errors import EngineUnavailableError

T = TypeVar("T")


def new_load() -> Future:  # type: ignore[type-arg]
    future: Future = Future()  # type: ignore[type-arg]
    future.set_running_or_notify_cancel()  # awaiting callers who give up must not cancel the load
    return future


def failed_load(reason: str) -> Future:  # type: ignore[type-arg]
    """A load that is over and failed with `reason`: what requests get while the model is unloaded."""
    future = new_load()
    future.set_exception(EngineUnavailableError(reason))
    return future


async def wait_for_load(loading: Future[T], timeout: float | None, model_id: str) -> T:
    """The loaded model; its load error (EngineUnavailableError) if it failed; a 503 if `timeout` passes."""
    if loading.done():
        return loading.result()
    waiting = asyncio.wrap_future(loading)
    # A waiter that times out leaves the wrapped future behind: mark its error seen, it is reported anyway.
    waiting.add_done_callback(lambda f: f.cancelled() or f.exception())
    try:
        return await asyncio.wait_for(asyncio.shield(waiting), timeout)
    except TimeoutError:
        raise EngineUnavailableError(f"the model {model_id} is still loading; try again shortly") from None


def load_result(loading: Future[T], timeout: float | None, model_id: str) -> T:
    """The same, from a thread that may block (token counting before the first request)."""
    try:
        return loading.result(timeout=timeout)
    except TimeoutError:
        raise EngineUnavailableError(f"the model {model_id} is still loading") from None
