"""Placeholders of an unrendered template in a line of keepalived.conf. Pure.

Configs are often kept as templates (Ansible/Jinja ``{{ vip }}``, Chef/Puppet ERB
``<%= @vip %>``, Docker entrypoints' ``#PUBLIC_IFACE#`` or ``$STATE`` for sed or
envsubst, READMEs' ``<virtual_ip>``). keepalived reads such a file as it is and fails
on whatever the placeholder breaks; twenty errors follow from one cause. This module
finds the first placeholder so the reader can say that one thing.

It must not guess at ordinary text: ``$NAME``, ``<name>`` and the sed styles count only
outside quotes (a script's ``$1`` is the shell's business), Jinja and ERB anywhere (no
shell line holds ``{{``); none in a comment that starts the line.
``$NAME`` counts only after keepalived's own ``$NAME=`` parameters were expanded (the
preprocessor leaves an undefined one as it was written).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ANYWHERE = (
    ("Jinja/Go", re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{\{.*")),
    ("ERB", re.compile(r"<%.*?%>")),
)
_UNQUOTED = (
    ("sed/Docker", re.compile(r"#[A-Z][A-Z0-9_]+#")),
    ("envsubst", re.compile(r"\$\{[A-Za-z_]\w*\}|\$[A-Za-z_]\w*")),
    ("documentation", re.compile(r"<[A-Za-z][\w.-]*>")),
    ("sed", re.compile(r"%%[A-Za-z_]\w*%%|@@[A-Za-z_]\w*@@")),
)


@dataclass(frozen=True)
class Placeholder:
    col: int  # 1-based
    text: str
    style: str


def _unquoted(line: str) -> str:
    """``line`` with quoted strings blanked (same length, so columns hold)."""
    out, quote = [], None
    for ch in line:
        if quote is None and ch in "\"'":
            quote = ch
            out.append(" ")
        elif quote is not None:
            if ch == quote:
                quote = None
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def placeholder(line: str) -> Placeholder | None:
    """The first placeholder in ``line`` (after preprocessing), or None."""
    stripped = line.lstrip()
    if not stripped or stripped[0] in "#!":
        return None
    text = _unquoted(line)
    found = [(m.start(), m.group(0), style) for style, rx in _ANYWHERE for m in rx.finditer(line)]
    found += [(m.start(), m.group(0), style) for style, rx in _UNQUOTED for m in rx.finditer(text)]
    if not found:
        return None
    col, token, style = min(found)
    # After a comment mark keepalived ignores the rest, but a sed-style #NAME# there is
    # exactly what was meant to be replaced; any other placeholder in a comment is prose.
    comment = min((i for i in (text[:col].find("#"), text[:col].find("!")) if i >= 0), default=-1)
    if comment >= 0 and style != "sed/Docker":
        return None
    return Placeholder(col + 1, token.strip(), style)
