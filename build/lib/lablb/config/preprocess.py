"""keepalived's line preprocessor: conditional lines, ``$NAME=`` parameters, ``~SEQ``
and ``~LST`` (keepalived.conf(5), "ADVANCED CONFIGURATION").

Pure: text in, (line number, line) pairs and diagnostics out; the config id and the
file's directory are handed in. It runs before the lexer, as keepalived's
``read_line`` does, so every expanded line keeps the number of the line it came from.

The rules, in the order keepalived applies them to a line:
- ``@ID rest`` keeps ``rest`` only when ID is the config id; ``@^ID rest`` only when
  it is not (the config id defaults to the first part of the node name); in the lines
  a parameter expands to, only an '@' in the first column counts (as in 2.2.7);
- ``$NAME=VALUE`` defines a parameter (a value ending in ``\\`` continues on the next
  line: a multiline definition);
- ``~SEQ(var, start, step, end)``, ``~SEQx(...)`` (hexadecimal) and
  ``~LST(var, v1, v2, ...)`` (or ``~LST({a, b}, {1, 2}, ...)``) repeat the rest of
  the line with ``$var`` set to each value;
- ``$NAME`` followed by white space or the end, and ``${NAME}`` anywhere, are replaced
  by the value, again and again; an undefined parameter stays as it is written.
Expansion is bounded (depth and lines), so a definition that refers to itself is a
diagnostic, not a hang.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from lablb.config.diagnostics import Diagnostic, Where, error, warning

MAX_DEPTH = 32  # nested expansions of one line
MAX_LINES = 200_000  # lines one file may expand to
MAX_REPEAT = 65_536  # values one ~SEQ/~LST may take

_DEFINITION = re.compile(r"^[ \t]*\$([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)(?=[ \t]|$)")
_CONDITIONAL = re.compile(r"^[ \t]*@(\^?)([^ \t]*)[ \t]*(.*)$")
_REPEAT = re.compile(r"^[ \t]*~(SEQx|SEQ|LST)\(")


class _Stop(Exception):
    """Expansion went past a bound; the rest of the file is not read."""


@dataclass
class Preprocessor:
    """State kept across one configuration and its includes: the defined parameters."""

    config_id: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    params: dict[str, list[str]] = field(default_factory=dict)
    _emitted: int = 0

    def lines(self, text: str, path: str) -> Iterator[tuple[int, str]]:
        """The lines of one file as keepalived reads them, each with its line number."""
        directory = path.rsplit("/", 1)[0] if "/" in path else "."
        self.params["_PWD"] = [directory]
        self.params["_INSTANCE"] = [self.config_id]
        self.params["_HASH"] = ["#"]
        self.params["_BANG"] = ["!"]
        physical = text.splitlines()
        i = 0
        try:
            while i < len(physical):
                lineno = i + 1
                line = physical[i]
                i += 1
                kept = self._conditional(line)
                if kept is None:
                    continue
                definition = _DEFINITION.match(kept)
                if definition and definition.group(2).rstrip().endswith("\\"):
                    # A multiline definition: the continuation lines are part of it.
                    body = [definition.group(2).rstrip()[:-1]]
                    while i < len(physical):
                        more = physical[i].rstrip()
                        i += 1
                        if more.endswith("\\"):
                            body.append(more[:-1])
                        else:
                            body.append(more)
                            break
                    self.params[definition.group(1)] = [b for b in body if b.strip()]
                    continue
                yield from self._expand(kept, Where(path, lineno, 1), 0)
        except _Stop:
            return

    # -- one line ----------------------------------------------------------------
    def _conditional(self, line: str, *, indented: bool = True) -> str | None:
        """The line for this config id, None when it is dropped. keepalived 2.2.7 reads
        a file's line as conditional after leading white space, but a line a parameter
        expanded to only when '@' is its first character (measured: an indented '@'
        line of a multiline definition is an unknown keyword to it)."""
        if not indented and not line.startswith("@"):
            return line
        match = _CONDITIONAL.match(line)
        if match is None:
            return line
        negate, name, rest = match.groups()
        return rest if (name == self.config_id) != bool(negate) else None

    def _expand(self, line: str, where: Where, depth: int) -> Iterator[tuple[int, str]]:
        if depth > MAX_DEPTH:
            self.diagnostics.append(
                error(
                    where,
                    "expansion-depth",
                    f"parameter expansion nested deeper than {MAX_DEPTH} (a definition "
                    "that refers to itself?)",
                    "keepalived would loop; the rest of the line is ignored",
                )
            )
            return
        kept = self._conditional(line, indented=False) if depth else line
        if kept is None:
            return
        definition = _DEFINITION.match(kept)
        if definition:
            self.params[definition.group(1)] = [definition.group(2)]
            return
        if _REPEAT.match(kept):
            yield from self._repeat(kept, where, depth)
            return
        replaced = self._substitute(kept, where)
        if replaced != kept:
            for part in replaced.split("\n"):
                yield from self._expand(part, where, depth + 1)
            return
        self._emitted += 1
        if self._emitted > MAX_LINES:
            self.diagnostics.append(
                error(
                    where,
                    "expansion-size",
                    f"the configuration expands to more than {MAX_LINES} lines",
                    "the rest is not read",
                    fatal=True,
                )
            )
            raise _Stop
        yield where.line, kept

    def _substitute(self, line: str, where: Where) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            if name not in self.params:
                if match.group(1):
                    self.diagnostics.append(
                        warning(
                            Where(where.file, where.line, match.start() + 1),
                            "undefined-parameter",
                            f"${{{name}}} is not defined; keepalived leaves it as written",
                            f"define it first: ${name}=VALUE",
                        )
                    )
                return match.group(0)
            return "\n".join(self.params[name])

        code, comment = _split_comment(line)
        return _REFERENCE.sub(value, code) + comment

    def _repeat(self, line: str, where: Where, depth: int) -> Iterator[tuple[int, str]]:
        parsed = _parse_repeat(line)
        if isinstance(parsed, str):
            self.diagnostics.append(
                error(
                    where, "bad-sequence", parsed, "~SEQ(var, start, step, end) or ~LST(var, a, b)"
                )
            )
            return
        names, rows, rest = parsed
        for row in rows:
            for name, val in zip(names, row, strict=True):
                self.params[name] = [val]
            yield from self._expand(rest, where, depth + 1)


def _split_comment(line: str) -> tuple[str, str]:
    """The line before its comment (``#`` or ``!`` outside quotes), and the comment."""
    quote = None
    for i, ch in enumerate(line):
        if quote is not None:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "#!":
            return line[:i], line[i:]
    return line, ""


def split_top(text: str) -> list[str]:
    """Split on commas outside ``{ }`` (``~LST`` values, csh brace alternatives)."""
    parts, level, last = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "{":
            level += 1
        elif ch == "}":
            level -= 1
        elif ch == "," and level == 0:
            parts.append(text[last:i])
            last = i + 1
    parts.append(text[last:])
    return parts


def _parse_repeat(line: str) -> tuple[list[str], list[list[str]], str] | str:
    """``~SEQ(...)`` or ``~LST(...)`` at the start of ``line``: (names, rows, rest), or
    the reason it cannot be read."""
    head = _REPEAT.match(line)
    assert head is not None
    kind = head.group(1)
    close = line.find(")", head.end())
    if close < 0:
        return f"~{kind}( is not closed on this line"
    args = [a.strip() for a in split_top(line[head.end() : close])]
    rest = line[close + 1 :]
    if kind == "LST":
        if len(args) < 2:
            return "~LST needs a variable and at least one value"
        names = [n.strip() for n in args[0].strip("{}").split(",")]
        rows = [[x.strip() for x in a.strip("{}").split(",")] for a in args[1:]]
        if any(len(r) != len(names) for r in rows):
            return f"~LST: each value needs {len(names)} parts, one per variable"
        return names, rows[:MAX_REPEAT], rest
    try:
        nums = [int(a, 0) for a in args[1:]]
    except ValueError:
        return f"~{kind}: '{', '.join(args[1:])}' are not integers"
    if len(nums) == 1:
        end = nums[0]
        start, step = (1, 1) if end > 0 else (-1, -1)
    elif len(nums) == 2:
        start, end = nums
        step = 1 if end >= start else -1
    elif len(nums) == 3:
        start, step, end = nums
    else:
        return f"~{kind} takes a variable and one to three numbers"
    if step == 0 or (end - start) * step < 0:
        return f"~{kind}: step {step} never goes from {start} to {end}"
    count = (end - start) // step + 1
    if count > MAX_REPEAT:
        return f"~{kind} would repeat {count} times (lablb reads at most {MAX_REPEAT})"
    fmt = "{:x}" if kind == "SEQx" else "{:d}"
    values = [[fmt.format(start + k * step)] for k in range(count)]
    return [args[0].strip()], values, rest


def conditional_ids(text: str) -> list[str]:
    """The config ids a file's conditional lines name (``@ID``, ``@^ID``), in first-seen
    order: the nodes one file is written for (keepalived -i ID picks one)."""
    seen: dict[str, None] = {}
    for line in text.splitlines():
        match = _CONDITIONAL.match(line)
        if match and match.group(2):
            seen.setdefault(match.group(2))
    return list(seen)
