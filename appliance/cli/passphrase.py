"""A passphrase for keys at rest, asked on the terminal or read from a file descriptor, never an argument.

An argument is visible to every user in `ps` and stays in the shell's history; a file descriptor
(`--passphrase-fd 3 3<file`, or a pipe from a secrets manager) and a hidden prompt do not leak it."""

from __future__ import annotations

import os
import sys

import typer

from appliance.errors import InvalidInputError

MIN_CHARS = 12

PassphraseFd = typer.Option(
    None,
    "--passphrase-fd",
    min=0,
    help="Read the key passphrase from this file descriptor (its first line), e.g. 3 with `3<file`; "
    "without it the passphrase is asked on the terminal.",
)


def read_passphrase(fd: int | None, *, what: str, new: bool = False) -> bytes:
    """The passphrase from `fd`, else from a hidden prompt (asked twice when `new`)."""
    if fd is not None:
        try:
            with os.fdopen(fd, "rb", closefd=False) as stream:
                line = stream.readline()
        except OSError as exc:
            raise InvalidInputError(
                f"cannot read the passphrase from file descriptor {fd}: {exc.strerror or exc}",
                param="passphrase-fd",
            ) from None
        text = line.rstrip(b"\r\n")
    elif sys.stdin.isatty():
        text = typer.prompt(
            f"passphrase for {what}", hide_input=True, confirmation_prompt=new, err=True
        ).encode()
    else:
        raise InvalidInputError(
            f"{what} need a passphrase: run this in a terminal to be asked, or give it on a file descriptor with "
            "--passphrase-fd N (e.g. `--passphrase-fd 3 3<passphrase-file`)",
            param="passphrase-fd",
        )
    if new and len(text.decode("utf-8", "replace")) < MIN_CHARS:
        raise InvalidInputError(
            f"the passphrase is too short: at least {MIN_CHARS} characters", param="passphrase-fd"
        )
    if not text:
        raise InvalidInputError("the passphrase is empty", param="passphrase-fd")
    return text
