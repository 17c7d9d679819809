"""keepalived's scheduling keywords for the VRRP process (``lablb.vrrp.sched``): parsed
into the model, rendered back, and applied to a real process (a forked child, so this
test process keeps its own policy)."""

from __future__ import annotations

import os
import resource
from collections.abc import Callable
from pathlib import Path

import pytest

from lablb.config.load import load
from lablb.config.render import render
from lablb.errors import ConfigError
from lablb.vrrp import sched

INSTANCE = """
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        10.0.0.1/24
    }
}
"""


def conf(tmp_path: Path, global_defs: str) -> Path:
    path = tmp_path / "keepalived.conf"
    path.write_text(f"global_defs {{\n    {global_defs}\n}}\n{INSTANCE}", encoding="utf-8")
    return path


def test_keywords_are_read_defaulted_and_rendered(tmp_path: Path) -> None:
    g = load(str(conf(tmp_path, "vrrp_rt_priority 5\n    vrrp_rlimit_rttime 20000"))).global_defs
    assert (g.vrrp_rt_priority, g.vrrp_rlimit_rttime, g.vrrp_priority) == (5, 20000, 0)
    assert sched.Policy.of(g) == sched.Policy(5, 20000, 0)
    plain = load(str(conf(tmp_path, "router_id x"))).global_defs
    assert sched.Policy.of(plain) == sched.Policy(0, 10000, 0)  # keepalived's defaults
    text = render(load(str(conf(tmp_path, "vrrp_rt_priority 5\n    vrrp_priority -5"))))
    assert "vrrp_rt_priority 5" in text and "vrrp_priority -5" in text
    assert "vrrp_rlimit_rttime" not in text  # the default is not written


# keepalived 2.2.7 -t: each of these is an error (exit 5); 1 and 99 are accepted.
@pytest.mark.parametrize(
    "line",
    ["vrrp_rt_priority 0", "vrrp_rt_priority 100", "vrrp_rt_priority 2.5",
     "vrrp_rlimit_rttime 0", "vrrp_rlimit_rttime -1", "vrrp_priority 20"],
)  # fmt: skip
def test_out_of_range_values_are_errors(tmp_path: Path, line: str) -> None:
    with pytest.raises(ConfigError):
        load(str(conf(tmp_path, line)))


def in_child(body: Callable[[], str]) -> str:
    """Run ``body`` in a forked child (so this process keeps its policy); its answer."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        try:
            answer = body()
        except Exception as exc:  # reported to the parent
            answer = f"error {exc}"
        os.write(w, answer.encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    os.waitpid(pid, 0)
    return out


def state() -> str:
    policy, param = os.sched_getscheduler(0), os.sched_getparam(0).sched_priority
    return f"{policy} {param} {resource.getrlimit(resource.RLIMIT_RTTIME)}"


def ignore(_event: str, **_fields: object) -> None:
    pass


def rr_then(after: Callable[[], None]) -> Callable[[], str]:
    def body() -> str:
        sched.apply(sched.Policy(5, 10000, 0), ignore)
        after()
        return state()

    return body


def niced() -> str:
    sched.apply(sched.Policy(0, 10000, 7), ignore)
    return str(os.getpriority(os.PRIO_PROCESS, 0))


@pytest.mark.skipif(os.geteuid() != 0, reason="real-time scheduling needs root")
def test_apply_takes_round_robin_with_keepalived_limits_and_drop_undoes_it() -> None:
    rr = os.SCHED_RR | os.SCHED_RESET_ON_FORK
    # soft limit half the hard one: keepalived warns (SIGXCPU) at half, kills at all
    assert in_child(rr_then(lambda: None)) == f"{rr} 5 (5000, 10000)"
    assert in_child(rr_then(sched.drop)) == f"{os.SCHED_OTHER} 0 (5000, 10000)"
    assert in_child(niced) == "7"


def test_forked_child_reports_its_status_and_takes_signals() -> None:
    """``lablb daemon`` forks its VRRP child (``lablb.daemon.Forked``): the supervisor
    sees its exit status, an uncaught error as status 1, and a signal as -N, as with
    ``subprocess.Popen``."""
    import signal
    import time

    from lablb.daemon import Forked

    def poll_until_done(child: Forked) -> int | None:
        deadline = time.monotonic() + 5
        while child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        return child.returncode

    assert poll_until_done(Forked(lambda: 3, "t-exit")) == 3

    def boom() -> int:
        raise RuntimeError("boom")

    assert poll_until_done(Forked(boom, "t-boom")) == 1
    sleeper = Forked(lambda: time.sleep(30) or 0, "t-sleep")
    assert sleeper.poll() is None
    sleeper.terminate()
    assert sleeper.wait() == -signal.SIGTERM
    sleeper.kill()  # already reaped: a no-op, never a signal to a recycled pid


def test_a_timesharing_daemon_asks_for_the_short_slice_and_keeps_its_nice() -> None:
    """The slice the kernel reads back (sched_getattr) is the one asked for, the policy
    stays timesharing and the nice value the config's."""
    import ctypes

    def body() -> str:
        logged: list[dict[str, object]] = []
        sched.apply(sched.Policy(0, 10000, 3), lambda _e, **f: logged.append(f))
        buf = ctypes.create_string_buffer(sched.SCHED_ATTR.size)
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.syscall(sched.SCHED_SETATTR["x86_64"] + 1, 0, buf, buf._length_, 0) == 0
        fields = sched.SCHED_ATTR.unpack(buf.raw)
        return f"{fields[1]} {fields[3]} {fields[5]} {logged[-1].get('slice_us')}"

    if os.uname().machine != "x86_64":
        pytest.skip("sched_getattr's number is x86_64's here")
    assert in_child(body) == f"{os.SCHED_OTHER} 3 {sched.SHORT_SLICE_NS} 100"
