"""Tokens of keepalived.conf, as keepalived's own reader splits them.

Pure: text in, tokens and diagnostics out; no file is opened here.

Rules (keepalived.conf(5), "DESCRIPTION" and "Quoted strings"):
- ``#`` and ``!`` start a comment anywhere outside quotes;
- ``{`` and ``}`` are tokens of their own, glued or not;
- ``"`` and ``'`` quote, and are removed: ``abcd" efg "h`` is the one string
  ``abcd efg h``; inside quotes the shell's escapes work (``\\n``, ``\\x41``, ``\\101``);
- words are split on ASCII white space only. keepalived reads U+00A0 (the no-break
  space that web pages put in copied text) as part of a word, so ``\\u00a0state`` is an
  unknown keyword to it. lablb reports every such line and then reads the character as
  a space, so that the rest of the file can still be checked.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from lablb.config.diagnostics import Diagnostic, Where, error, warning

ASCII_SPACE = " \t\r\n\v\f"
SMART_QUOTES = "\u2018\u2019\u201c\u201d\u00ab\u00bb"
ESCAPES = {"a": "\a", "b": "\b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


@dataclass(frozen=True)
class Token:
    text: str
    where: Where
    quoted: bool = False

    @property
    def is_open(self) -> bool:
        return self.text == "{" and not self.quoted

    @property
    def is_close(self) -> bool:
        return self.text == "}" and not self.quoted


def _odd_space(ch: str) -> bool:
    """White space that is not ASCII white space (U+00A0, U+2009, U+FEFF, ...)."""
    return ch not in ASCII_SPACE and (ch.isspace() or unicodedata.category(ch) in ("Zs", "Cf"))


def _escape(line: str, i: int) -> tuple[str, int]:
    """Decode the escape at ``line[i] == '\\'``; return (text, next index)."""
    if i + 1 >= len(line):
        return "\\", i + 1
    c = line[i + 1]
    if c in ESCAPES:
        return ESCAPES[c], i + 2
    if c == "x":
        j = i + 2
        while j < len(line) and line[j] in "0123456789abcdefABCDEF":
            j += 1
        if j > i + 2:
            return chr(int(line[i + 2 : j], 16) & 0xFF), j
        return "x", i + 2
    if c in "01234567":
        j = i + 1
        while j < len(line) and j < i + 4 and line[j] in "01234567":
            j += 1
        return chr(int(line[i + 1 : j], 8) & 0xFF), j
    if c == "c" and i + 2 < len(line):
        return chr(ord(line[i + 2]) & 0x1F), i + 3
    return c, i + 2


def _smart_quote(ch: str, where: Where) -> list[Diagnostic]:
    """A typographic quote is a character like any other to keepalived: said once."""
    if ch not in SMART_QUOTES:
        return []
    return [
        warning(
            where,
            "smart-quote",
            f"typographic quote {_name(ch)} is taken literally by keepalived",
            "use a plain \" or ' (text copied from a web page often carries these)",
        )
    ]


def tokenize_line(line: str, file: str, lineno: int) -> tuple[list[Token], list[Diagnostic]]:
    """Split one line into tokens; report odd characters once per line."""
    tokens: list[Token] = []
    diags: list[Diagnostic] = []
    odd: tuple[int, str] | None = None
    buf: list[str] = []
    start = 0
    quoted = False
    quote: str | None = None
    i = 0

    def flush() -> None:
        nonlocal buf, quoted
        if buf or quoted:
            tokens.append(Token("".join(buf), Where(file, lineno, start + 1), quoted))
        buf = []
        quoted = False

    while i < len(line):
        ch = line[i]
        if quote is not None:
            if ch == quote:
                quote = None
            elif ch == "\\":
                text, i = _escape(line, i)
                buf.append(text)
                continue
            else:
                buf.append(ch)
            i += 1
            continue
        if ch in "#!":
            break
        if ch in ASCII_SPACE or _odd_space(ch):
            if _odd_space(ch) and odd is None:
                odd = (i, ch)
            flush()
        elif ch in "{}":
            flush()
            tokens.append(Token(ch, Where(file, lineno, i + 1)))
        else:
            if not buf and not quoted:
                start = i
            if ch in "\"'":
                quote = ch
                quoted = True
            else:
                diags += _smart_quote(ch, Where(file, lineno, i + 1))
                buf.append(ch)
        i += 1
    if quote is not None:
        diags.append(
            error(
                Where(file, lineno, start + 1),
                "unterminated-quote",
                f"quoted string opened with {quote} is not closed on this line",
                f"close it with {quote}; keepalived strings do not span lines",
            )
        )
    flush()
    if odd is not None:
        col, ch = odd
        diags.append(_odd_space_diagnostic(Where(file, lineno, col + 1), ch, line))
    return tokens, diags


def _name(ch: str) -> str:
    return f"U+{ord(ch):04X} {unicodedata.name(ch, 'UNNAMED')}"


def _odd_space_diagnostic(where: Where, ch: str, line: str) -> Diagnostic:
    # What keepalived itself makes of the line: its first word glued to the odd space.
    words = [w for w in re.split(r"[ \t\r\n\v\f]+", line) if w]
    word = words[0] if words else ""
    seen = word.replace(ch, f"\\u{ord(ch):04x}")
    return error(
        where,
        "nbsp" if ch == "\u00a0" else "odd-space",
        f"{_name(ch)} in place of a space: keepalived splits words on ASCII white space "
        f"only, reads '{seen}' as an unknown keyword and ignores this line",
        "replace it with a plain space (text copied from a web page carries U+00A0): "
        "sed -i 's/\\xc2\\xa0/ /g' FILE",
    )
