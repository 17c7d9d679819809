"""``lablb check``: parse and lint configs, alone and as one cluster.

Reads files (through ``FileReader``) and nothing else; printing is the CLI's job.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from lablb.config.diagnostics import Diagnostic, exit_status, strict
from lablb.config.files import FileReader
from lablb.config.lint import lint_cluster, lint_config, lint_docroot
from lablb.config.load import parse
from lablb.config.model import KeepalivedConfig


@dataclass(frozen=True)
class CheckResult:
    configs: tuple[KeepalivedConfig, ...]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def status(self) -> int:
        return exit_status(self.diagnostics)


def docroot_reader(docroot: str) -> Callable[[str], bytes | None]:
    def read(path: str) -> bytes | None:
        full = os.path.normpath(os.path.join(docroot, path.lstrip("/")))
        if not full.startswith(os.path.normpath(docroot)) or not os.path.isfile(full):
            return None
        with open(full, "rb") as fh:
            return fh.read()

    return read


def check(
    paths: list[str], *, strict_mode: bool = False, docroot: str | None = None
) -> CheckResult:
    reader = FileReader()
    diags: list[Diagnostic] = []
    configs: list[KeepalivedConfig] = []
    for path in paths:
        parsed = parse(path, reader)
        diags.extend(parsed.diagnostics)
        if any(d.fatal for d in parsed.diagnostics):
            continue
        configs.append(parsed.config)
        diags.extend(lint_config(parsed.config))
        if docroot is not None:
            diags.extend(lint_docroot(parsed.config, docroot_reader(docroot)))
    diags.extend(lint_cluster(configs))
    return CheckResult(tuple(configs), tuple(strict(diags) if strict_mode else diags))
