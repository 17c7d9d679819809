"""How keepalived finds the program of a script line: its words (shell quoting, or plain
whitespace where the quoting is broken) and the program's path (a path, or a PATH
search). The config floor's, since a config set's scripts are judged by it (``sets``,
``lablb check``) as well as run (``lablb.vrrp.scripts``, the checkers' MISC_CHECK)."""

from __future__ import annotations

import os
import shlex
import shutil


def resolve(program: str) -> str | None:
    """Where a script's program is, as keepalived finds it: a path, or a PATH search."""
    if "/" in program:
        return program if os.access(program, os.X_OK) and os.path.isfile(program) else None
    return shutil.which(program)


def shlex_words(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()
