"""A lab held open across steps that are not one ``with`` block: a notebook's cells.

``LiveLab.up("seed")`` brings a topology up with its web nodes, mail sink and balancers
on a copy of a config set (``configs``: edit it and ``reload``), starts the server LAN's
capture, and returns once the preferred balancer is master and the service answers
(as ``lablb up`` does). ``use_configs`` restarts the balancers on another set; ``run``
runs a scenario's trials on the lab as it is, judged and summed up as ``lablb run``
does. ``down()`` tears it all down, as leaving ``with Lab(...)`` does, and so does the
interpreter's exit (a notebook kernel shut down with its lab still up). One lab at a
time: ``up`` while another lab runs is a LabError. Above both the lab layer and the
runner (``lablb.scenario``), whose trials it runs: its imports run down.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from lablb.config.sets import lab_scripts
from lablb.lab.balancer import check_config, stop_all
from lablb.lab.capture import Capture
from lablb.lab.cluster import Cluster, start_cluster
from lablb.lab.faults import Fault, Faults
from lablb.lab.kernel import Instant
from lablb.lab.net import Lab, LabSpec
from lablb.lab.registry import TopoEntry, get
from lablb.measure.pcap import Frame
from lablb.measure.result import RunResult
from lablb.runner import new_result, run_on
from lablb.scenario import Context, check_params, get_scenario

LIVE_DIR_ENV = "LABLB_LIVE_DIR"


@dataclass
class LiveLab:
    lab: Lab
    entry: TopoEntry
    cluster: Cluster
    capture: Capture
    engine: str
    faults: Faults = field(default_factory=Faults)
    last_run: Path | None = None  # the folder of the last ``run`` (its result.json, ...)
    _runs: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def up(
        cls,
        topology: str | TopoEntry = "seed",
        configs: str | Path | None = None,
        engine: str = "lablb",
        video_mb: int | None = None,
        workdir: Path | None = None,
        topo_params: dict[str, Any] | None = None,
        wait_service: bool = True,
    ) -> LiveLab:
        """The lab up and serving. ``configs``: a folder or a set's name (default: the
        topology's own); ``engine`` as ``lablb up --engine``; ``video_mb``: the web
        nodes serve an MP4 of that size; ``workdir``: where pid files, logs and the
        capture (``capture.pcap``) go, kept afterwards (default: a new folder under
        ``$LABLB_LIVE_DIR``, kept, if that is set, as the notebook tests set it to keep a
        failed notebook's logs; else a temporary folder, removed)."""
        if workdir is None and os.environ.get(LIVE_DIR_ENV):
            parent = Path(os.environ[LIVE_DIR_ENV])
            parent.mkdir(parents=True, exist_ok=True)
            workdir = Path(tempfile.mkdtemp(prefix="live-", dir=parent))
        entry = topology if isinstance(topology, TopoEntry) else get(topology)
        source = entry.config_dir(None if configs is None else str(configs)).resolve()
        # A kernel's interrupt (SIGINT) stops the running cell and leaves the lab up.
        spec = LabSpec(entry, dict(topo_params or {}))
        lab = Lab(spec, workdir=workdir, signals=(signal.SIGTERM,))
        lab.__enter__()
        try:
            copy = lab.workdir / "configs"
            shutil.copytree(source, copy)
            ran, _ = lab_scripts(copy, lab.workdir)  # as ``lablb run`` runs the set
            capture = Capture(lab, lab.workdir / "capture.pcap").start()
            cluster = start_cluster(lab, entry, ran, engine, video_mb, wait_service)
        except BaseException:
            lab.__exit__(None, None, None)
            raise
        live = cls(lab, entry, cluster, capture, engine)
        atexit.register(live.down)
        return live

    def down(self) -> None:
        """Undo what faults are still injected, stop every daemon, remove the lab."""
        if self.lab.net is None:
            return
        try:
            self.faults.undo_all()
        finally:
            self.lab.__exit__(None, None, None)
            atexit.unregister(self.down)

    def __enter__(self) -> LiveLab:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.down()

    # -- what a lesson does with it --------------------------------------------------
    @property
    def configs(self) -> Path:
        """The config set the balancers run now (at first, the lab's own copy of the
        one ``up`` was given: edit it, then ``reload``)."""
        return self.cluster.configs

    def reload(self, node: str) -> Instant:
        """SIGHUP to the node's daemons (``kill -HUP``): they re-read their file."""
        self.cluster.forget_configs()
        return self.cluster.nodes[node].reload()

    def use_configs(self, configs: str | Path, wait: bool = True) -> None:
        """Restart every balancer on another config set (a folder, or a set's name), each
        file checked first (a ConfigError leaves the running daemons as they are); with
        ``wait``, until the preferred balancer is master and the service answers."""
        source = self.entry.config_dir(str(configs)).resolve()
        nodes = self.cluster.nodes
        files = {host: check_config(source, host, node.engine) for host, node in nodes.items()}
        stop_all(list(nodes.values()))
        self.cluster.configs = source
        self.cluster.forget_configs()
        for host, node in nodes.items():
            node.config = files[host]
            node.start()
        if wait:
            self.cluster.wait_serving()

    def run(
        self,
        scenario: str,
        trials: int = 1,
        progress: Callable[[str], None] | None = None,
        **params: object,
    ) -> RunResult:
        """``trials`` trials of a scenario on this lab (``failover``, ``healthcheck``,
        ...; ``params`` typed, checked as ``--param`` is), judged against the bounds the
        configs imply by the runner ``lablb run`` uses: its ``RunResult``, also saved as
        ``result.json`` in a folder of the lab's work directory (``.path``). A scenario
        that derives its own configs (``healthcheck checks=fast``) leaves the balancers
        running them."""
        sc = get_scenario(scenario)
        values = check_params(sc, params)
        sc.check(values, {h.name: getattr(h, "role", "") for h in self.lab.hosts})
        out = self.lab.workdir / f"{scenario}-{next(self._runs)}"
        out.mkdir(parents=True)
        conf_dir = sc.configure(self.configs, values, out)
        if conf_dir.resolve() != self.configs.resolve():
            self.use_configs(conf_dir)
        result = new_result(sc, values, self.entry.name, self.engine, 1, conf_dir)
        ctx = Context(self.cluster, self.capture, self.faults, values, out,
                      progress or (lambda _line: None))  # fmt: skip
        self.last_run = out
        return run_on(sc, ctx, trials, result)

    def fault(self, name: str, node: str, interface: str | None = None) -> Fault:
        """A fault on a balancer (``crash``, ``graceful``, ``ifdown``, ``isolate``,
        ``freeze``), kept so that ``down`` undoes it if the caller did not."""
        return self.faults.new(name, self.cluster.nodes[node], interface)

    def frames(self, since: float, until: float | None = None) -> list[Frame]:
        """The server LAN's captured frames (adverts, ARP, the probes' packets) stamped
        in [since, until] (until: now), CLOCK_REALTIME seconds like ``time.time()``."""
        return self.capture.frames(since, time.time() if until is None else until)

    @property
    def pcap(self) -> Path:
        """The capture file (tcpdump, nanosecond stamps), for scapy or Wireshark."""
        return self.capture.path
