"""Diagnostics about keepalived.conf files: where, how bad, a stable code and a hint.

Pure data. The parser and the linter produce ``Diagnostic`` values; they never print
and never raise for a user's mistake. ``exit_status`` maps a list of diagnostics to
the exit codes ``keepalived -t`` returns.

keepalived(8) documents 3, 4 and 5; the 2.2.7 binary returns one more than its man
page says (``config_test_exit``: KEEPALIVED_EXIT_CONFIG for a missing file, a bad
interface or a fatal error, KEEPALIVED_EXIT_CONFIG_TEST_SECURITY for script
security, KEEPALIVED_EXIT_CONFIG_TEST otherwise). keepalived keeps the most severe
class seen: fatal before script security before the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


# Exit statuses of ``lablb check``: those of ``keepalived -t`` 2.2.7, measured.
EXIT_OK = 0
EXIT_STOPPED = 2  # a keyword with no value: keepalived stops reading at that line
EXIT_FATAL = 4  # the file cannot be read, an interface it needs is missing, or fatal
EXIT_CONFIG = 5  # errors keepalived reports, then skips or rewrites what they name
EXIT_SECURITY = 6  # scripts would run as root with script security off


@dataclass(frozen=True, order=True)
class Where:
    """A position in a configuration file; line and col count from 1."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


NOWHERE = Where("", 0, 0)


@dataclass(frozen=True)
class Diagnostic:
    where: Where
    severity: Severity
    code: str
    message: str
    hint: str = ""
    fatal: bool = False
    security: bool = False
    stops: bool = False  # keepalived stops at this line ("is missing a parameter"): exit 2

    def format(self) -> str:
        hint = f"\n    hint: {self.hint}" if self.hint else ""
        return f"{self.where}: {self.severity}[{self.code}]: {self.message}{hint}"

    def as_json(self) -> dict[str, object]:
        return {
            "file": self.where.file,
            "line": self.where.line,
            "col": self.where.col,
            "severity": str(self.severity),
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }


def error(
    where: Where,
    code: str,
    message: str,
    hint: str = "",
    *,
    fatal: bool = False,
    security: bool = False,
    stops: bool = False,
) -> Diagnostic:
    return Diagnostic(where, Severity.ERROR, code, message, hint, fatal, security, stops)


def warning(where: Where, code: str, message: str, hint: str = "") -> Diagnostic:
    return Diagnostic(where, Severity.WARNING, code, message, hint)


def strict(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """``--strict``: every warning becomes an error."""
    return [
        Diagnostic(
            d.where, Severity.ERROR, d.code, d.message, d.hint, d.fatal, d.security, d.stops
        )
        for d in diagnostics
    ]


def exit_status(diagnostics: Iterable[Diagnostic]) -> int:
    """0 when no error; else the most severe class: a keyword missing its value 2 (keepalived
    stops reading there, before anything else is judged), fatal 4, script security 6, 5."""
    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    if any(d.stops for d in errors):
        return EXIT_STOPPED
    if any(d.fatal for d in errors):
        return EXIT_FATAL
    if any(d.security for d in errors):
        return EXIT_SECURITY
    return EXIT_CONFIG if errors else EXIT_OK
