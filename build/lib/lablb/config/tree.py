"""The statement tree of a keepalived.conf, with its includes spliced in.

Pure: files are read through a ``Reader`` handed in (``lablb.config.files`` has the
one that touches the disk), so every rule here is testable in memory.

A statement is a keyword, its arguments and, when it opens one, a block of
statements. ``include`` is textual, as in keepalived: the included file's lines are
read in place of the include line, relative to the directory of the including file,
with globs and csh-style braces. An include cycle is an error (keepalived reads on
until it runs out of file descriptors, then reports duplicates).
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from dataclasses import dataclass, field
from typing import Protocol

from lablb.config.diagnostics import Diagnostic, Where, error, warning
from lablb.config.lexer import Token, tokenize_line
from lablb.config.missing import stops_without_value
from lablb.config.preprocess import Preprocessor, split_top
from lablb.config.template import Placeholder, placeholder

INCLUDE_KEYWORDS = ("include", "includer", "includem", "includew", "includeb", "includea")
MUST_MATCH = ("includem", "includea", "includew")  # a missing file is an error (exit 6)
MAX_INCLUDE_DEPTH = 32
# Bounds on what one config can make the reader do (keepalived has none, and an include
# line of twenty brace pairs expands to a million names): names one include line may
# expand to, and files read in all (a file included twice is read twice, as keepalived
# does, so twenty files that each include the next one twice are a million reads).
MAX_INCLUDE_NAMES = 4096
MAX_FILES_READ = 4096


class Reader(Protocol):
    """Where configuration text comes from."""

    def read(self, path: str) -> str:
        """The text of ``path``; raise ``OSError`` when it cannot be read."""
        ...

    def glob(self, pattern: str) -> list[str]:
        """Paths matching a glob pattern (no braces), sorted."""
        ...

    def realpath(self, path: str) -> str:
        """A canonical name, to recognise an include cycle."""
        ...


@dataclass(frozen=True)
class Statement:
    keyword: Token
    args: tuple[Token, ...]
    block: tuple[Statement, ...] | None = None

    @property
    def where(self) -> Where:
        return self.keyword.where

    @property
    def name(self) -> str:
        return self.keyword.text


@dataclass
class _Open:
    """A block being read: its opening statement's tokens and what it holds so far."""

    head: list[Token]
    brace: Token
    body: list[Statement] = field(default_factory=list)


class TooMany(ValueError):
    """A brace pattern that expands to more than ``MAX_INCLUDE_NAMES`` names."""


def expand_braces(pattern: str, limit: int = MAX_INCLUDE_NAMES) -> list[str]:
    """csh-style brace expansion: ``a{b,c}d`` -> ``abd``, ``acd`` (nested allowed);
    ``TooMany`` past ``limit`` names, before building them."""
    if _count_braces(pattern, limit) > limit:
        raise TooMany(pattern)
    return _expand(pattern)


def _first_group(pattern: str) -> tuple[str, list[str], str] | None:
    """The first top-level ``{a,b,...}`` with a comma in it: (before, choices, after)."""
    depth, start = 0, -1
    for i, ch in enumerate(pattern):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            parts = split_top(pattern[start + 1 : i]) if depth == 0 else []
            if len(parts) > 1:
                return pattern[:start], parts, pattern[i + 1 :]
    return None


def _count_braces(pattern: str, limit: int) -> int:
    """How many names ``pattern`` expands to (stops counting past ``limit``)."""
    group = _first_group(pattern)
    if group is None:
        return 1
    head, parts, tail = group
    total = 0
    for p in parts:
        total += _count_braces(head + p + tail, limit)
        if total > limit:
            break
    return total


def _expand(pattern: str) -> list[str]:
    group = _first_group(pattern)
    if group is None:
        return [pattern]
    head, parts, tail = group
    return [x for p in parts for x in _expand(head + p + tail)]


_INCLUDE_LINE = re.compile(
    r"^([ \t]*)(" + "|".join(INCLUDE_KEYWORDS) + r")(?:[ \t]+([^#!]*))?[ \t]*(?:[#!].*)?$"
)


def _include_tokens(match: re.Match[str], path: str, lineno: int) -> list[Token]:
    col = len(match.group(1)) + 1
    tokens = [Token(match.group(2), Where(path, lineno, col))]
    rest = match.group(3) or ""
    offset = match.start(3) if match.group(3) is not None else 0
    for word in re.finditer(r"[^ \t]+", rest):
        tokens.append(
            Token(word.group(0).strip("\"'"), Where(path, lineno, offset + word.start() + 1))
        )
    return tokens


class _Builder:
    def __init__(self, reader: Reader, config_id: str) -> None:
        self.reader = reader
        self.pre = Preprocessor(config_id)
        self.diags: list[Diagnostic] = []
        self.template: Diagnostic | None = None  # one line says it: the first placeholder
        self.files: list[str] = []
        self.too_many_reads = False
        self.top: list[Statement] = []
        self.stack: list[_Open] = []
        self.pending: list[Token] = []
        self.last_line_statement: Statement | None = None

    # -- blocks ---------------------------------------------------------------
    def _body(self) -> list[Statement]:
        return self.stack[-1].body if self.stack else self.top

    def _end_statement(self) -> None:
        if not self.pending:
            return
        stmt = Statement(self.pending[0], tuple(self.pending[1:]))
        self._body().append(stmt)
        self.last_line_statement = stmt
        self.pending = []

    def _open(self, brace: Token) -> None:
        if self.pending:
            self.stack.append(_Open(self.pending, brace))
            self.pending = []
            return
        # "keyword\n{": keepalived accepts the brace on the next line.
        body = self._body()
        prev = self.last_line_statement
        if prev is not None and body and body[-1] is prev and prev.block is None:
            body.pop()
            self.stack.append(_Open([prev.keyword, *prev.args], brace))
            return
        self.diags.append(
            error(
                brace.where,
                "unexpected-brace",
                "'{' opens a block with no keyword",
                "put the block's keyword before the '{'",
            )
        )
        self.stack.append(_Open([Token("", brace.where)], brace))

    def _close(self, brace: Token) -> None:
        self._end_statement()
        if not self.stack:
            self.diags.append(
                error(
                    brace.where,
                    "unexpected-brace",
                    "'}' closes no open block",
                    "remove it, or look for a '{' missing above",
                )
            )
            return
        opened = self.stack.pop()
        stmt = Statement(opened.head[0], tuple(opened.head[1:]), tuple(opened.body))
        if stmt.keyword.text:
            self._body().append(stmt)
        self.last_line_statement = None

    # -- files ----------------------------------------------------------------
    def feed_file(self, path: str, chain: tuple[str, ...], where: Where | None) -> None:
        real = self.reader.realpath(path)
        if real in chain:
            cycle = " -> ".join([*chain, real])
            self.diags.append(
                error(
                    where or Where(path, 0, 0),
                    "include-cycle",
                    f"include cycle: {cycle}",
                    "an included file must not include itself, directly or through others",
                )
            )
            return
        if len(self.files) >= MAX_FILES_READ:
            if not self.too_many_reads:
                self.too_many_reads = True
                self.diags.append(
                    error(
                        where or Where(path, 0, 0),
                        "include-limit",
                        f"more than {MAX_FILES_READ} files read through includes",
                        "a file included many times over (each include reads it again)",
                        fatal=True,
                    )
                )
            return
        if len(chain) >= MAX_INCLUDE_DEPTH:
            self.diags.append(
                error(
                    where or Where(path, 0, 0),
                    "include-depth",
                    f"includes nested deeper than {MAX_INCLUDE_DEPTH}",
                )
            )
            return
        try:
            text = self.reader.read(path)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            self.diags.append(
                error(
                    where or Where(path, 0, 0),
                    "unreadable",
                    f"cannot read {path}: {reason}",
                    "check the path and its permissions",
                    fatal=True,
                )
            )
            return
        self.files.append(path)
        odd: list[Diagnostic] = []
        for lineno, line in self.pre.lines(text, path):
            include = _INCLUDE_LINE.match(line)
            if include:
                # Read raw, as keepalived does, so that "{a,b}" stays one brace pattern.
                self._end_statement()
                self._include(path, _include_tokens(include, path, lineno), (*chain, real))
                continue
            self._placeholder(line, path, lineno)
            tokens, diags = tokenize_line(line, path, lineno)
            for d in diags:
                (odd if d.code in ("nbsp", "odd-space") else self.diags).append(d)
            for tok in tokens:
                if tok.is_open:
                    self._open(tok)
                elif tok.is_close:
                    self._close(tok)
                else:
                    self.pending.append(tok)
            self._end_statement()
        if odd:
            # One line per file is enough to say it; the count says how widespread.
            first = odd[0]
            more = f" ({len(odd) - 1} more lines in this file)" if len(odd) > 1 else ""
            self.diags.append(
                Diagnostic(
                    first.where, first.severity, first.code, first.message + more, first.hint
                )
            )

    def _placeholder(self, line: str, path: str, lineno: int) -> None:
        """A template's placeholder on this line: the first one is the one said;
        keepalived stops (exit 2) at the first that takes a stopping keyword's value,
        wherever it is."""
        if self.template is not None and self.template.stops:
            return
        found = placeholder(line)
        if found is None:
            return
        said = self._template(line, found, Where(path, lineno, found.col))
        if self.template is None:
            self.template = said
            self.diags.append(said)
        elif said.stops:
            i = self.diags.index(self.template)
            self.template = self.diags[i] = dataclasses.replace(
                self.template,
                stops=True,
                message=self.template.message
                + f"; keepalived stops reading at line {lineno} (exit 2)",
            )

    def _template(self, line: str, found: Placeholder, where: Where) -> Diagnostic:
        """The one diagnostic of a template. Where the placeholder is a keyword's only
        value and keepalived reads it as nothing (Jinja's '{' opens a block, a sed-style
        #X# is a comment), keepalived stops there if that keyword needs its value."""
        words = line[: found.col - 1].split()
        block = self.stack[-1].head[0].text if self.stack else "the top level"
        vanishes = found.style in ("Jinja/Go", "sed/Docker")
        stops = vanishes and len(words) == 1 and stops_without_value(block, words[0])
        return error(
            where,
            "template",
            f"an unrendered template: {found.text} ({found.style} style) stands where a "
            "value belongs" + ("; keepalived stops reading here (exit 2)" if stops else ""),
            "render the template first (Ansible, Jinja, envsubst, sed) and give lablb the "
            "result",
            stops=stops,
        )

    def _include(self, path: str, tokens: list[Token], chain: tuple[str, ...]) -> None:
        kw = tokens[0]
        if len(tokens) < 2:
            self.diags.append(error(kw.where, "missing-argument", f"{kw.text} needs a file name"))
            return
        base = posixpath.dirname(path)
        matches: list[str] = []
        for tok in tokens[1:]:
            try:
                patterns = expand_braces(tok.text)
            except TooMany:
                self.diags.append(
                    error(
                        tok.where,
                        "include-limit",
                        f"{kw.text} {tok.text} expands to more than {MAX_INCLUDE_NAMES} names",
                        "fewer brace groups",
                        fatal=True,
                    )
                )
                continue
            for pattern in patterns:
                full = pattern if posixpath.isabs(pattern) else posixpath.join(base, pattern)
                # A plain name is a pattern that matches itself when the file is there.
                matches.extend(self.reader.glob(full))
        if not matches:
            # keepalived 2.2.7 logs "Config files missing" and reads on; for includem,
            # includea and includew (must match) it then exits 6, the class it gives a
            # script-security violation (measured: tests/corpus, include-*-missing).
            must = kw.text in MUST_MATCH
            diag = (
                error(
                    kw.where,
                    "include-missing",
                    f"{kw.text} {tokens[1].text} matches no file (keepalived -t exits 6)",
                    f"paths are relative to {base or '.'}",
                    security=True,
                )
                if must
                else warning(
                    kw.where,
                    "include-missing",
                    f"{kw.text} {tokens[1].text} matches no file; keepalived reads on",
                    f"paths are relative to {base or '.'}",
                )
            )
            self.diags.append(diag)
        for match in matches:
            self.feed_file(match, chain, kw.where)

    def finish(self) -> None:
        self._end_statement()
        while self.stack:
            opened = self.stack.pop()
            head = " ".join(t.text for t in opened.head)
            self.diags.append(
                error(
                    opened.brace.where,
                    "missing-brace",
                    f"block '{head}' opened here is never closed",
                    "add the missing '}' (keepalived reads the rest of the file "
                    "as part of this block)",
                )
            )
            stmt = Statement(opened.head[0], tuple(opened.head[1:]), tuple(opened.body))
            self._body().append(stmt)


@dataclass(frozen=True)
class Tree:
    statements: tuple[Statement, ...]
    files: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...]


def read_tree(path: str, reader: Reader, config_id: str = "") -> Tree:
    """Read ``path`` and everything it includes into one statement tree; lines are
    kept or dropped for ``config_id`` as keepalived's ``-i`` would."""
    builder = _Builder(reader, config_id)
    builder.feed_file(path, (), None)
    builder.finish()
    diags = builder.diags + builder.pre.diagnostics
    return Tree(tuple(builder.top), tuple(builder.files), tuple(diags))
