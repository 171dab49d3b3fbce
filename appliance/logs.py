"""How the gateway logs: JSON lines for a service (journald, a log shipper), readable lines on a terminal.

Every record logged while a request runs carries its `request_id` and `path`, from context variables the
access-log middleware (appliance.api.access_log) sets, so a line from deep in the engine or the retriever can be
joined with its request's access line (which has the route template, status and user). What is logged is chosen, never dumped: no header, no query string,
no request body, so a token or a secret in a prompt never reaches a log.

    server.log_format = "auto"    JSON when stderr is not a terminal, text when it is; or "json" / "text"
"""

from __future__ import annotations

import contextvars
import logging
import sys
from typing import Any, Literal

LogFormat = Literal["auto", "json", "text"]

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("codemoat_request_id", default="")
path: contextvars.ContextVar[str] = contextvars.ContextVar("codemoat_path", default="")

_CONTEXT = {"request_id": request_id, "path": path}


class RequestContext(logging.Filter):
    """Adds the current request's id and path to every record (nothing outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, variable in _CONTEXT.items():
            value = variable.get()
            if value and not hasattr(record, name):
                setattr(record, name, value)
        record.__dict__.pop("color_message", None)  # uvicorn's copy of the message with terminal colours
        return True


class TextFormatter(logging.Formatter):
    """uvicorn's look ("INFO:     ..."), with the request's id and user when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{record.levelname + ':':<9} {record.getMessage()}"
        context = " ".join(
            f"{name}={getattr(record, name)}" for name in ("user", "request_id") if getattr(record, name, "")
        )
        if context:
            line += f"  [{context}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def resolve(log_format: LogFormat) -> Literal["json", "text"]:
    if log_format != "auto":
        return log_format
    return "text" if sys.stderr.isatty() else "json"


def logging_config(log_format: LogFormat, level: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` for uvicorn and the gateway's own loggers, on stderr."""
    formatter: dict[str, Any] = (
        {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
        }
        if resolve(log_format) == "json"
        else {"()": "appliance.logs.TextFormatter"}
    )
    handler = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
        "formatter": "default",
        "filters": ["request"],
    }
    quiet = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": "appliance.logs.RequestContext"}},
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "loggers": {
            "uvicorn": quiet,
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"handlers": [], "propagate": False},  # ours has the user and the route
            "codemoat": quiet,
        },
    }
