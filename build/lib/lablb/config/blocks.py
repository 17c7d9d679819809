"""The table-driven block reader the keepalived.conf parsers share.

Pure. A block is described by a ``BlockSpec``: its keywords, each with the attribute it
sets and the reader of its value (``lablb.config.values``); its legacy aliases
(``lb_algo`` -> ``lvs_sched``...); and the keywords keepalived knows but lablb does
not model, each with an optional ``check`` that validates it the way keepalived does
(so a bad address inside ``virtual_rules`` is still an error). A keyword that is in
none of these is an error with a did-you-mean hint. A user's mistake never raises.

Every spec registers itself, so an unknown keyword's hint can say which block it
belongs in.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lablb.config import model as m
from lablb.config import values as v
from lablb.config.diagnostics import Diagnostic, Where, error, warning
from lablb.config.missing import missing_value, stops_without_value
from lablb.config.render import Unrenderable, statement_lines
from lablb.config.tree import Statement

Check = Callable[[Statement, list[Diagnostic]], None]
REGISTRY: list[BlockSpec] = []


@dataclass(frozen=True)
class Field:
    attr: str
    read: v.Reader
    block: bool = False
    repeat: bool = False


# Block keywords whose handler insists on its '{' (keepalived: "Missing '{' at beginning
# of configuration block", exit 5); any other block keyword without one is read as empty.
BLOCK_REQUIRED = frozenset({"authentication"})


@dataclass(frozen=True)
class BlockSpec:
    name: str
    fields: dict[str, Field]
    aliases: dict[str, str] = field(default_factory=dict)
    unsupported: frozenset[str] = frozenset()
    checks: dict[str, Check] = field(default_factory=dict)
    # aliases keepalived still honours but reports as an error (exit 5), e.g. HTTP_GET's
    # "nb_get_retry is deprecated - please use 'retry'"
    deprecated: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        REGISTRY.append(self)

    def known(self) -> list[str]:
        return [*self.fields, *self.aliases, *self.unsupported]


@dataclass
class Read:
    """What a block said: attribute values, kept keywords, where it began and where
    each keyword was written (for diagnostics about a keyword, at its own line)."""

    values: dict[str, Any]
    unsupported: list[m.Unsupported]
    where: Where
    lines: dict[str, Where] = field(default_factory=dict)

    def at(self, keyword: str) -> Where:
        return self.lines.get(keyword, self.where)


def f(attr: str, read: v.Reader, *, block: bool = False, repeat: bool = False) -> Field:
    return Field(attr, read, block, repeat)


def same(names: Mapping[str, v.Reader]) -> dict[str, Field]:
    return {k: f(k, r) for k, r in names.items()}


def read_block(
    stmts: tuple[Statement, ...], spec: BlockSpec, diags: list[Diagnostic], where: Where
) -> Read:
    read = Read({}, [], where)
    seen: dict[str, Where] = {}
    for st in stmts:
        name = st.name
        # keepalived stops at such a keyword without its value, block or no block
        # ("virtual_server {", an unrendered "interface {{ iface }}")
        if not st.args and stops_without_value(spec.name, name):
            diags.append(missing_value(st.keyword.where, name))
            continue
        if name in spec.aliases:
            modern = spec.aliases[name]
            if name in spec.deprecated:
                said = f"{name} is deprecated: keepalived reads it as {modern} and reports "
                said += f"an error ('please use {modern}')"
                diags.append(error(st.where, "deprecated-keyword", said, f"write {modern}"))
            else:
                said = f"{name} is the legacy name of {modern}"
                hint = f"write {modern}; keepalived reads both the same way"
                diags.append(warning(st.where, "legacy-keyword", said, hint))
            name = modern
        read.lines.setdefault(name, st.where)
        fld = spec.fields.get(name)
        if fld is None:
            if name in spec.unsupported:
                check = spec.checks.get(name)
                if check is not None:
                    try:
                        check(st, diags)
                    except v.Bad as b:
                        diags.append(b.diagnostic)
                read.unsupported.append(unsupported_of(st))
            else:
                diags.append(unknown(st, spec))
            continue
        if fld.block != (st.block is not None):
            if st.block is None and name not in BLOCK_REQUIRED:
                # keepalived 2.2.7 reads such a keyword as an empty block and goes on
                diags.append(
                    warning(
                        st.where,
                        "missing-block",
                        f"{name} needs a {{ }} block; keepalived reads it as empty",
                        f"see keepalived.conf(5), {spec.name}",
                    )
                )
                continue
            diags.append(
                error(
                    st.where,
                    "unexpected-block" if st.block is not None else "missing-block",
                    f"{name} {'takes no' if not fld.block else 'needs a'} {{ }} block",
                    f"see keepalived.conf(5), {spec.name}",
                )
            )
            continue
        if not fld.repeat and fld.attr in seen:
            diags.append(
                warning(
                    st.where,
                    "duplicate-keyword",
                    f"{name} is set again (first at line {seen[fld.attr].line}); the last one wins",
                    "keep one",
                )
            )
        seen[fld.attr] = st.where
        read.lines[name] = st.where
        try:
            value = fld.read(st, diags)
        except v.Bad as b:
            diags.append(b.diagnostic)
            continue
        if fld.repeat:
            read.values.setdefault(fld.attr, []).append(value)
        else:
            read.values[fld.attr] = value
    return read


def kept(spec: BlockSpec, *, args: bool = False) -> Check:
    """A check for a block lablb keeps without modelling: its keywords are read (and
    reported) by ``spec``; the values are dropped."""

    def check(st: Statement, diags: list[Diagnostic]) -> None:
        if st.block is None:
            diags.append(error(st.where, "missing-block", f"{st.name} needs a {{ }} block"))
            return
        if not args:
            v.no_args(st, diags)
        read_block(st.block, spec, diags, st.where)

    return check


def each_line(check: Check) -> Check:
    """A check for a block that is a list of lines, each read by ``check``."""

    def run(st: Statement, diags: list[Diagnostic]) -> None:
        if st.block is None:
            diags.append(error(st.where, "missing-block", f"{st.name} needs a {{ }} block"))
            return
        for item in st.block:
            try:
                check(item, diags)
            except v.Bad as b:
                diags.append(b.diagnostic)

    return run


def value_of(read: v.Reader) -> Check:
    """A check that reads a keyword's value and drops it."""

    def check(st: Statement, diags: list[Diagnostic]) -> None:
        read(st, diags)

    return check


def unsupported_of(st: Statement) -> m.Unsupported:
    """A statement lablb keeps without modelling it, its block as text (for the renderer)."""
    block = None
    if st.block is not None:
        try:
            block = tuple(statement_lines(st.block))
        except Unrenderable:
            # A token keepalived's reader could not read back (both quote kinds, a
            # backslash): kept as read, for diagnostics; the renderer cannot write it.
            block = tuple(" ".join(t.text for t in (s.keyword, *s.args)) for s in st.block)
    return m.Unsupported(st.name, tuple(t.text for t in st.args), st.where, block, st.block or ())


def unknown(st: Statement, spec: BlockSpec) -> Diagnostic:
    owners = sorted(
        {s.name for s in REGISTRY if s is not spec and st.name in (*s.fields, *s.aliases)}
    )
    close = difflib.get_close_matches(st.name, spec.known(), n=1, cutoff=0.75)
    if close:
        hint = f"did you mean {close[0]}?"
    elif owners:
        hint = f"{st.name} belongs in {' or '.join(owners)}, not in {spec.name}"
    else:
        hint = f"see keepalived.conf(5) for what {spec.name} takes"
    return error(st.where, "unknown-keyword", f"unknown keyword '{st.name}' in {spec.name}", hint)
