"""The machine a benchmark ran on, so a number is never read without it. Edge."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path


def _first(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _version(argv: list[str]) -> str | None:
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return None
    text = (res.stdout or res.stderr).strip().splitlines()
    return text[0] if text else None


def _os_release() -> str | None:
    try:
        lines = Path("/etc/os-release").read_text().splitlines()
    except OSError:
        return None
    pretty = next((x for x in lines if x.startswith("PRETTY_NAME=")), None)
    return pretty.split("=", 1)[1].strip('"') if pretty else None


def describe() -> dict[str, object]:
    mem = _first("/proc/meminfo", "MemTotal")
    return {
        "cpu": _first("/proc/cpuinfo", "model name"),
        "cpus": os.cpu_count(),
        "memory": mem,
        "kernel": platform.release(),
        "os": _os_release(),
        "python": platform.python_version(),
        "keepalived": _version(["keepalived", "--version"]),
        "nginx": _version(["nginx", "-v"]),
    }
