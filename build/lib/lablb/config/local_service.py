"""The service a VRRP-only config's VIP fronts, read from the ``vrrp_script`` that
watches it, and the checks the lab runs in place of those it cannot run as written.
Pure: a ``KeepalivedConfig`` in, a ``Watched`` (or a changed config) out.

The most common keepalived deployment has no ``virtual_server``: the VIP sits in front
of a service on the balancers themselves (HAProxy, nginx, MySQL, the Kubernetes API),
and a tracked script moves the VIP when that service dies. What the script looks for
is in its command line, as a person reads it:

==============================================  =====================================
command                                          watched
==============================================  =====================================
``killall -0 haproxy``, ``pidof nginx``,         the process (by name); its port from
``pgrep -x mysqld``                              ``SERVICE_PORTS``
``curl -f http://localhost:6443/healthz``,       the port (and the process, if the
``nc -z 127.0.0.1 3306``, bash's ``/dev/tcp``    port names one)
==============================================  =====================================

A command run through ``sh -c``/``bash -c`` is read inside. Anything else (``systemctl``,
a script file that is there) names nothing the lab can stand in for: ``None``.

The lab runs the script as written where that means the same thing as on a real node: a
check of a local port does (each lab host has its own network namespace). Two cases do
not (``stand_in_scripts``): a search for a process by name (the lab's hosts share one
process table, so lb01's ``killall -0 haproxy`` would find lb02's), and a program that
is not on this machine (``/etc/keepalived/check_apiserver.sh``, kept beside the
production file). Both become a TCP connect to the service on the node's loopback
(``LAB_CHECK``), the service named by the search or by the script's names; a missing
script that names none is disabled, as keepalived disables it. Each change is said.

The weight arithmetic is keepalived's (keepalived.conf(5), ``track_script``): the
entry's own ``weight`` overrides the script's; 0 means a failing script puts the
instance in FAULT; a positive weight is added while the script succeeds, a negative
one while it fails; the effective priority stays in 1..254.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from lablb.config import model as m

# The ports the usual VIP-fronted services listen on, for a check that names only the
# process. A process not listed gets the HTTP port, the usual case.
SERVICE_PORTS = {
    "haproxy": 80,
    "nginx": 80,
    "apache2": 80,
    "httpd": 80,
    "envoy": 80,
    "traefik": 80,
    "mysqld": 3306,
    "mariadbd": 3306,
    "postgres": 5432,
    "redis-server": 6379,
    "kube-apiserver": 6443,
    "named": 53,
}
DEFAULT_PORT = 80
PROCESS_OF_PORT = {
    3306: "mysqld",
    5432: "postgres",
    6379: "redis-server",
    6443: "kube-apiserver",
}
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]", "0.0.0.0"}
FINDERS = {"killall", "pidof", "pgrep"}
COMM_LEN = 15  # the kernel keeps a process's name (comm) to 15 characters


@dataclass(frozen=True)
class Watched:
    """What one tracked ``vrrp_script`` watches on its own node: a process listening on
    a TCP port, and how the command said so."""

    script: str  # the vrrp_script's name
    process: str  # the process name the check looks for (the lab names its stand-in so)
    port: int
    how: str  # e.g. "killall -0 haproxy: the process haproxy"
    tls: bool = False  # the check speaks HTTPS to it (curl https://localhost:6443/...)


def speaks_tls(command: str) -> bool:
    """Does a check ask its local service for HTTPS (``curl -k https://localhost/``)?"""
    argv, _ = _inner(_argv(command))
    return bool(argv) and argv[0].rsplit("/", 1)[-1] in ("curl", "wget") and any(
        w.startswith("https://") for w in argv[1:]
    )


def _argv(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:
        return []


def _inner(argv: list[str]) -> tuple[list[str], str | None]:
    """A ``sh -c``/``bash -c`` command's own words, and its $0."""
    if len(argv) >= 3 and argv[0].rsplit("/", 1)[-1] in ("sh", "bash") and argv[1] == "-c":
        return _argv(argv[2]), (argv[3] if len(argv) > 3 else None)
    return argv, None


def _words(argv: list[str]) -> list[str]:
    """The arguments that are not options (``-0``, ``-x``, ``-s 0``)."""
    out, skip = [], False
    for word in argv[1:]:
        if skip:
            skip = False
        elif word in ("-s", "--signal"):
            skip = True
        elif not word.startswith("-"):
            out.append(word)
    return out


def read_check(command: str) -> tuple[str | None, int | None]:
    """(process, port) a check command looks for; either may be None."""
    argv, name = _inner(_argv(command))
    if not argv:
        return None, None
    for word in argv:  # bash's /dev/tcp/HOST/PORT (the lab's own check among them)
        parts = word.split("<>")[-1].split("<")[-1].split("/")
        if len(parts) == 5 and parts[1:3] == ["dev", "tcp"] and parts[3] in LOCAL_HOSTS:
            return name, int(parts[4]) if parts[4].isdigit() else None
    program = argv[0].rsplit("/", 1)[-1]
    words = _words(argv)
    if program in FINDERS and words:
        return words[-1][:COMM_LEN], None
    if program in ("curl", "wget"):
        for word in words:
            url = urlsplit(word if "://" in word else f"http://{word}")
            if url.hostname and url.hostname in {h.strip("[]") for h in LOCAL_HOSTS}:
                try:
                    port = url.port or (443 if url.scheme == "https" else 80)
                except ValueError:
                    return None, None
                return None, port
    if program in ("nc", "ncat") and len(words) >= 2 and words[-2] in LOCAL_HOSTS:
        return None, int(words[-1]) if words[-1].isdigit() else None
    return None, None


def watched_service(config: m.KeepalivedConfig, instance: m.VrrpInstance) -> Watched | None:
    """The local service ``instance``'s first tracked script that names one watches."""
    scripts = {s.name: s for s in config.vrrp_scripts}
    for tracked in instance.track_script:
        vs = scripts.get(tracked.name)
        if vs is None or vs.script is None:
            continue
        process, port = read_check(vs.script.command)
        if process is None and port is None:
            continue
        if process is None:
            assert port is not None
            process = PROCESS_OF_PORT.get(port, "service")
            how = f"{vs.script.command}: port {port}"
        elif port is not None:
            how = f"{vs.script.command}: {process} on port {port}"
        else:
            how = f"{vs.script.command}: the process {process}"
        if port is None:
            port = SERVICE_PORTS.get(process, DEFAULT_PORT)
            how += f" (port {port}, {'its usual' if process in SERVICE_PORTS else 'HTTP'})"
        return Watched(vs.name, process, port, how, speaks_tls(vs.script.command))
    return None


@dataclass(frozen=True)
class TrackedWeight:
    """How a tracked script moves an instance: ``weight`` 0 is FAULT on failure.
    ``reverse`` (2.x: the script's sense inverted) is kept so a caller can refuse it."""

    script: m.VrrpScript
    weight: int
    reverse: bool

    def priority(self, base: int, up: bool) -> int:
        """The effective priority with this script alone up or down (keepalived's rule;
        255, the address owner's, is never moved)."""
        if base == 255 or self.weight == 0:
            return base
        applies = up if self.weight > 0 else not up
        return max(1, min(254, base + (self.weight if applies else 0)))


def tracked_weight(
    config: m.KeepalivedConfig, instance: m.VrrpInstance, name: str
) -> TrackedWeight:
    """The weight ``instance`` gives script ``name`` (KeyError if it does not track it)."""
    scripts = {s.name: s for s in config.vrrp_scripts}
    tracked = next(t for t in instance.track_script if t.name == name)
    weight = tracked.weight if tracked.weight is not None else scripts[name].weight
    return TrackedWeight(scripts[name], weight, tracked.reverse)


# Words in a script's name or file that name a service (``check_apiserver.sh``,
# ``chk_mysql``), beyond the process names themselves.
ALIASES = {
    "apiserver": "kube-apiserver",
    "k8s": "kube-apiserver",
    "kubernetes": "kube-apiserver",
    "mysql": "mysqld",
    "mariadb": "mariadbd",
    "redis": "redis-server",
    "pgsql": "postgres",
    "postgresql": "postgres",
    "apache": "apache2",
}
# The lab's check of a node's own service: a TCP connect to it on the node's loopback.
# Each lab host has its own network namespace, so it reaches that node's service only;
# $0 names the service (for people, and for ``read_check``).
LAB_CHECK = "/bin/bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}' {process}"


def implied_process(*names: str) -> str | None:
    """The service a script's own names imply (its file's, its block's), if any."""
    for name in names:
        for word in re.split(r"[^a-z0-9]+", name.rsplit("/", 1)[-1].lower()):
            if word in SERVICE_PORTS:
                return word
            if word in ALIASES:
                return ALIASES[word]
    return None


@dataclass(frozen=True)
class StandIn:
    """A tracked script the lab does not run as written, and what it runs instead."""

    script: str
    written: str  # the command as written
    command: str | None  # what runs in its place; None: disabled, as keepalived does
    why: str

    def __str__(self) -> str:
        if self.command is None:
            return f"vrrp_script {self.script}: {self.why}: disabled, as keepalived disables it"
        return f'vrrp_script {self.script}: {self.why}: the lab runs "{self.command}" instead'


def lab_check(process: str, port: int | None = None) -> str:
    return LAB_CHECK.format(port=port or SERVICE_PORTS.get(process, DEFAULT_PORT), process=process)


def stand_in_scripts(
    config: m.KeepalivedConfig, found: Callable[[str], bool]
) -> tuple[m.KeepalivedConfig, list[StandIn]]:
    """The config as the lab runs it, and what it changed: each tracked script that
    looks for a process by name (killall, pidof, pgrep) checks the node's own service
    instead (Mininet's hosts share one process table: lb01's ``killall -0 haproxy``
    would find lb02's haproxy), and each whose program ``found`` does not find (a script
    kept beside the production file, not given) checks the service its name implies,
    or is disabled, as keepalived disables it, when it implies none."""
    tracked = {t.name for i in config.vrrp_instances for t in i.track_script}
    done, scripts = [], []
    for vs in config.vrrp_scripts:
        if vs.name not in tracked or vs.script is None:
            scripts.append(vs)
            continue
        words = _argv(vs.script.command)
        command: str | None = None
        if not words or not found(words[0]):
            program = words[0] if words else vs.script.command
            process = implied_process(program, vs.name)
            why = f"{program} is not on this machine"
            if process is not None:
                command, why = lab_check(process), f"{why}; its name implies {process}"
        elif (_inner(words)[0] or [""])[0].rsplit("/", 1)[-1] in FINDERS:
            process, _ = read_check(vs.script.command)
            if process is None:
                scripts.append(vs)
                continue
            command = lab_check(process)
            why = ("it looks for a process by name, and the lab's hosts share one process "
                   "table (another node's would be found)")  # fmt: skip
        else:
            scripts.append(vs)
            continue
        done.append(StandIn(vs.name, vs.script.command, command, why))
        script = vs.script if command is None else dataclasses.replace(vs.script, command=command)
        scripts.append(dataclasses.replace(vs, script=script))
    return dataclasses.replace(config, vrrp_scripts=tuple(scripts)), done
