"""A keyword written without its value, as keepalived 2.2.7 takes it. Pure.

Some keywords' handlers read their value at once, and keepalived stops reading the file
there ("Configuration line starting `X` is missing a parameter"): ``keepalived -t``
exits 2 before judging anything else. Which ones is measured (``no_value.STOPS``); the
rest are ordinary errors of their block's reader.
"""

from __future__ import annotations

from lablb.config.diagnostics import Diagnostic, Where, error
from lablb.config.no_value import STOPS

CHECKERS_LIKE_TCP = ("UDP_CHECK", "PING_CHECK", "SMTP_CHECK", "DNS_CHECK", "BFD_CHECK")


def stops_without_value(block: str, keyword: str) -> bool:
    """Does keepalived 2.2.7 stop reading (exit 2) at ``keyword`` without its value, in
    ``block``? Measured per block (``lablb.config.no_value``); SSL_GET reads as HTTP_GET,
    the other checkers share TCP_CHECK's connection keywords."""
    if block == "SSL_GET":
        block = "HTTP_GET"
    elif block in CHECKERS_LIKE_TCP:
        block = "TCP_CHECK"
    return (block, keyword) in STOPS


def missing_value(where: Where, keyword: str) -> Diagnostic:
    return error(
        where,
        "missing-argument",
        f"{keyword} has no value: keepalived stops reading the file here (exit 2)",
        f"give {keyword} its value",
        stops=True,
    )
