"""The one exception tree of lablb.

Every error that lablb raises on purpose is a ``LablbError``; the CLI turns it into
one clear line and a non-zero exit, and shows a traceback only with ``--debug``::

    LablbError
     +-- ConfigError      a keepalived.conf that cannot be used (file:line:col, hint)
     +-- PacketError      a frame or packet that does not decode (carries a reason)
     +-- ProtocolError    a peer or a state machine asked for something illegal
     +-- LabError         the lab cannot be built, reached or torn down
     +-- IncomparableError two results that must not be compared (other configs, ...)
     +-- UsageError       a bad argument: parameter, topology, --repeat (exit 2, as argparse)

This module must not import anything from the rest of lablb.
"""

from __future__ import annotations


class LablbError(Exception):
    """Base of every error lablb raises on purpose."""

    exit_code = 1


class ConfigError(LablbError):
    """A configuration that cannot be used, with where and what to do about it."""

    exit_code = 3

    def __init__(
        self, message: str, *, file: str = "", line: int = 0, col: int = 0, hint: str = ""
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.col = col
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}: " if self.file else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{where}{self.message}{hint}"


class PacketError(LablbError):
    """A packet that does not decode; ``reason`` says why, for counting."""

    def __init__(self, reason: object, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else str(reason))


class ProtocolError(LablbError):
    """An illegal move of a protocol state machine."""


class LabError(LablbError):
    """The lab cannot be built, reached or torn down."""

    exit_code = 2


class IncomparableError(LablbError):
    """Two results whose timings must not be compared: their runs differ in scenario,
    topology, engine, parameters or configs."""

    exit_code = 6


class UsageError(LablbError):
    """A command-line argument that cannot be used; checked before any lab starts."""

    exit_code = 2
