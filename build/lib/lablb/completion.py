"""Shell completion for the lablb command line, written from its own parser: commands,
their options, scenario and topology names, files and folders where an option takes
them. Pure: a parser and the names in, the script's text out (``lablb completion
bash``); nothing to keep in step by hand but the name lists, read when it is written.
"""

from __future__ import annotations

import argparse
import shlex

FILE_OPTIONS = ("--config", "--peer", "--baseline", "--junit", "--png", "--file", "-f")
DIR_OPTIONS = ("--configs", "--out", "--root", "--run-dir", "--docroot", "--dir")


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps no public view of these
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> list[str]:
    """Its long options, and the choices of its positional arguments (``bash``)."""
    words = {
        s for a in parser._actions for s in a.option_strings if s.startswith("--") or s == "-f"
    }
    for a in parser._actions:
        if not a.option_strings and a.choices and not isinstance(a, argparse._SubParsersAction):
            words.update(str(c) for c in a.choices)
    return sorted(words)


def bash_script(
    parser: argparse.ArgumentParser, scenarios: list[str], topologies: list[str], engines: list[str]
) -> str:
    """A bash completion script for ``parser`` (``complete -F _lablb lablb``)."""
    commands = _subcommands(parser)
    cases = []
    for name, sub in sorted(commands.items()):
        nested = _subcommands(sub)
        if nested:
            inner = "\n".join(
                f"                {n}) words={shlex.quote(' '.join(_options(p)))};;"
                for n, p in sorted(nested.items())
            )
            first = " ".join(sorted(nested))
            cases.append(
                f"        {name})\n"
                f'            if [ "$COMP_CWORD" -eq 2 ]; then words={shlex.quote(first)}; else\n'
                f'            case "${{COMP_WORDS[2]}}" in\n{inner}\n            esac; fi;;'
            )
            continue
        words = _options(sub)
        if name in ("run", "list"):
            words = [*scenarios, *words]
        cases.append(f"        {name}) words={shlex.quote(' '.join(words))};;")
    top = " ".join([*sorted(commands), *_options(parser)])
    return f"""# bash completion for lablb: lablb completion bash > /etc/bash_completion.d/lablb
_lablb() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}" words=""
    case "$prev" in
        --topo) COMPREPLY=($(compgen -W {shlex.quote(" ".join(topologies))} -- "$cur")); return;;
        --engine) COMPREPLY=($(compgen -W {shlex.quote(" ".join(engines))} -- "$cur")); return;;
        {"|".join(FILE_OPTIONS)}) COMPREPLY=($(compgen -f -- "$cur")); return;;
        {"|".join(DIR_OPTIONS)}) COMPREPLY=($(compgen -d -- "$cur")); return;;
    esac
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W {shlex.quote(top)} -- "$cur")); return
    fi
    case "${{COMP_WORDS[1]}}" in
{chr(10).join(cases)}
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}}
complete -F _lablb lablb
"""
