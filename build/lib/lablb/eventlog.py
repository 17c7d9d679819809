"""The daemons' JSON event log (the writing side; ``lablb.logs`` reads it) and the
command line the forwarder and checker processes share. Edge.

Every event is one JSON line with ``ts`` (CLOCK_MONOTONIC, the same clock for every
network namespace on the host), ``wall`` (CLOCK_REALTIME), ``event`` and ``pid``. Kept
apart from the VRRP daemon so that the forwarder and checkers, which start beside it,
do not import (and pay for) VRRP's modules.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from lablb.errors import LablbError

CHILD_NICE = 5  # forwarder and checkers yield to VRRP (see child_main)


class EventLog:
    """One JSON object per line, flushed at once so a reader sees events as they occur."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def __call__(self, event: str, **fields: object) -> None:
        record: dict[str, object] = {
            "ts": round(time.monotonic(), 6),
            "wall": round(time.time(), 6),
            "event": event,
            "pid": os.getpid(),
        }
        record.update(fields)
        self.stream.write(json.dumps(record, default=str) + "\n")
        self.stream.flush()


def child_main(
    prog: str, run: Callable[[str, Path, EventLog, float | None], int], argv: Sequence[str] | None
) -> int:
    """The command line shared by the forwarder and checker processes:
    ``-f CONFIG --run-dir DIR [--log FILE] [--run-for S]``.

    They run at ``CHILD_NICE``: the address change that makes a node master also wakes
    its forwarder, and a freshly woken task of equal weight preempts the one that woke
    it; at a lower weight it waits until VRRP has sent its GARPs. (keepalived's IPVS is
    the kernel's, which never competes with the VRRP process this way.)"""
    with contextlib.suppress(OSError):
        os.nice(CHILD_NICE)
    p = argparse.ArgumentParser(prog=prog)
    p.add_argument("-f", dest="config", required=True)
    p.add_argument("--run-dir", required=True)
    p.add_argument("--log")
    p.add_argument("--run-for", type=float)
    args = p.parse_args(argv)
    stream = open(args.log, "a", encoding="utf-8") if args.log else sys.stderr  # noqa: SIM115
    log = EventLog(stream)
    try:
        return run(args.config, Path(args.run_dir), log, args.run_for)
    except LablbError as exc:
        log("error", error=str(exc))
        print(f"{prog}: {exc}", file=sys.stderr)
        return exc.exit_code
