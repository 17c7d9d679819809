"""The daemons' one loop shape (``lablb.loop``): a signal ends a wait at once and is an
event the loop reads (stop, reload once), a readable socket is returned, a status file
is replaced whole."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lablb.loop import Loop, RunDelay, write_status


@pytest.fixture
def handlers() -> Iterator[None]:
    """The test process's own signal handlers, back after the test."""
    kinds = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD)
    saved = {k: signal.getsignal(k) for k in kinds}
    yield
    for k, h in saved.items():
        signal.signal(k, h)


def test_a_signal_ends_the_wait_at_once_and_is_read_once(handlers: None) -> None:
    with Loop() as loop:
        threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGHUP)).start()
        t0 = time.monotonic()
        assert loop.wait([], 5.0) == []
        assert time.monotonic() - t0 < 1.0
        assert loop.take_reload() and not loop.take_reload() and not loop.stopping
        os.kill(os.getpid(), signal.SIGTERM)
        assert loop.wait([], 0.0) == [] and loop.stopping


def test_a_readable_socket_is_returned_and_the_timeout_kept(handlers: None) -> None:
    a, b = socket.socketpair()
    with a, b, Loop() as loop:
        t0 = time.monotonic()
        assert loop.wait([a.fileno()], 0.05) == []
        assert time.monotonic() - t0 >= 0.045
        b.send(b"x")
        assert loop.wait([a.fileno()], 5.0) == [a.fileno()]
        assert loop.wait([a.fileno()], -1.0) == [a.fileno()]  # a past deadline: no wait


def test_a_status_file_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "forwarder.json"
    write_status(path, {"forwarding": True})
    write_status(path, {"forwarding": False})
    assert json.loads(path.read_text()) == {"forwarding": False}
    assert [p.name for p in tmp_path.iterdir()] == ["forwarder.json"]



def test_run_delay_is_the_second_schedstat_field_in_seconds(tmp_path: Path) -> None:
    stat = tmp_path / "schedstat"
    stat.write_text("987654321 2300000 41\n")  # on-CPU ns, runnable-waiting ns, slices
    assert RunDelay(str(stat)).read() == 0.0023
    assert RunDelay(str(tmp_path / "none")).read() is None  # no schedstats: no evidence
    live = RunDelay()
    first = live.read()
    time.sleep(0.01)
    second = live.read()
    assert first is not None and second is not None and 0.0 <= first <= second
