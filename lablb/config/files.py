"""Readers of configuration text: the disk (the one I/O edge of the parser) and memory.

``FileReader`` is what the CLI and the daemons use; ``MemoryReader`` serves tests and
notebooks, which describe whole include trees as a dict.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import posixpath


class FileReader:
    def read(self, path: str) -> str:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def glob(self, pattern: str) -> list[str]:
        return sorted(glob.glob(pattern))

    def realpath(self, path: str) -> str:
        return os.path.realpath(path)


class MemoryReader:
    def __init__(self, files: dict[str, str]) -> None:
        self.files = {posixpath.normpath(k): v for k, v in files.items()}

    def read(self, path: str) -> str:
        try:
            return self.files[posixpath.normpath(path)]
        except KeyError:
            raise FileNotFoundError(2, "No such file or directory", path) from None

    def glob(self, pattern: str) -> list[str]:
        pattern = posixpath.normpath(pattern)
        return sorted(p for p in self.files if fnmatch.fnmatchcase(p, pattern))

    def realpath(self, path: str) -> str:
        return posixpath.normpath(path)
