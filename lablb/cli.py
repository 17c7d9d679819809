"""The ``lablb`` command line. Thin: it parses arguments, calls the library, prints.

A ``LablbError`` becomes one line on stderr and a non-zero exit; a traceback only with
``--debug``. Nothing a user typed wrong ever yields a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lablb.errors import LablbError, UsageError

if TYPE_CHECKING:
    from lablb.measure.result import RunResult

    # The subcommands' adder, as argparse types it.
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]

PING_TARGETS_ROLES = ("router", "web")


def _cmd_check(args: argparse.Namespace) -> int:
    from lablb.check import check
    from lablb.config.codes import VERDICTS, explain

    if args.explain is not None:
        print(explain(args.explain))
        return 0
    if not args.files:
        raise UsageError("lablb check: name one or more files (or --explain CODE)")
    if args.docroot is not None and not Path(args.docroot).is_dir():
        raise UsageError(f"check: --docroot {args.docroot}: no such folder")
    result = check(
        args.files,
        strict_mode=args.strict,
        docroot=args.docroot,
        config_id=args.config_id,
        offline=args.offline,
    )
    if args.json:
        doc = {
            "verdict": VERDICTS[result.status],
            "exit": result.status,  # keepalived -t's for the same files
            "files": args.files,
            "diagnostics": [d.as_json() for d in result.diagnostics],
        }
        print(json.dumps(doc, indent=2))
        return result.status
    for d in result.diagnostics:
        print(d.format())
    errors = sum(1 for d in result.diagnostics if d.severity == "error")
    warnings = len(result.diagnostics) - errors
    print(
        f"{len(args.files)} file(s): {errors} error(s), {warnings} warning(s): "
        f"{VERDICTS[result.status]} (exit {result.status}, as keepalived -t)",
        file=sys.stderr,
    )
    return result.status


def _cmd_topo_list(_args: argparse.Namespace) -> int:
    from lablb.lab.registry import all_topologies

    for name, entry in sorted(all_topologies().items()):
        print(f"{name:<12} {entry.summary}  ({entry.source.name})")
    return 0


def _add_pair_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        metavar="FILE",
        help="one keepalived.conf (the master's): its peer is derived as a deployment "
        "derives it (BACKUP, next lower priority, unicast addresses swapped)",
    )
    p.add_argument("--peer", metavar="FILE", help="with --config: the peer's own file instead")
    p.add_argument(
        "--root",
        metavar="DIR",
        help="with --config: where /etc/keepalived is, for the file's absolute includes "
        "(default: the file's own folder; never this machine's /etc/keepalived)",
    )


def _root(args: argparse.Namespace) -> Path | None:
    root = getattr(args, "root", None)
    return Path(root) if root else None


def _pair(args: argparse.Namespace) -> tuple[Path, Path | None] | None:
    """(--config, --peer) as paths, or None; refused with --configs or alone --peer."""
    if args.peer and not args.config:
        raise UsageError("--peer goes with --config FILE")
    if getattr(args, "root", None) and not args.config:
        raise UsageError("--root goes with --config FILE")
    if not args.config:
        return None
    if getattr(args, "configs", None) or getattr(args, "dir", None):
        raise UsageError("--config FILE or a config set folder, not both")
    return Path(args.config), Path(args.peer) if args.peer else None


def _pair_set(args: argparse.Namespace, dest: Path) -> Path | None:
    """The config set for --config/--peer, written into ``dest`` and said; None without."""
    pair = _pair(args)
    if pair is None:
        return None
    from lablb.config.pair import write_pair

    folder, said = write_pair(pair[0], pair[1], dest, _root(args))
    print(f"{pair[0]}: lb01; its peer lb02:")
    for line in said:
        print(f"  - {line}")
    return folder


def _cmd_topo_show(args: argparse.Namespace) -> int:
    from lablb.lab import graph
    from lablb.lab.registry import get

    if args.placement and not args.servers:
        raise UsageError("--placement places hosts on --servers: give those too")
    entry = get(args.name)
    topo = entry.cls()
    views = graph.describe(topo)
    print(graph.render_text(entry.name, views, topo.switches(sort=True)))
    if entry.balancers:
        print(f"\nbalancers: {', '.join(entry.balancers)}; configs: {entry.config_dir()}")
    if args.servers:
        from pathlib import Path

        from lablb.lab import spread as sp

        placement = sp.read_placement(Path(args.placement)) if args.placement else None
        servers = sp.parse_servers(args.servers)
        print("\n" + sp.render_spread(sp.spread(views, servers, placement)))
    if args.png:
        _draw(graph, entry.name, topo, args.png)
        print(f"picture: {args.png}")
    return 0


def _draw(graph: Any, name: str, topo: object, png: str) -> None:
    try:
        graph.draw_png(name, topo, png)
    except OSError as exc:
        raise UsageError(f"cannot write the picture {png}: {exc.strerror or exc}") from None


def _cmd_topo_derive(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lablb.lab import graph
    from lablb.lab.derived import derived_entry

    pair_dir = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="lablb-pair-"))
    given = _pair_set(args, pair_dir)
    if given is None and args.dir is None:
        raise UsageError("topo derive: a config set folder, or --config FILE")
    configs = given or Path(args.dir)
    if not configs.is_dir():
        raise UsageError(f"topo derive: {args.dir} is not a folder of keepalived.conf files")
    entry = derived_entry(configs)
    topo = entry.cls()
    print(graph.render_text(entry.name, graph.describe(topo), topo.switches(sort=True)))
    for note in entry.cls.plan.notes:
        print(f"  - {note}")
    name = Path(args.config).stem if given is not None else configs.resolve().name
    png = args.png or f"{name}-topology.png"
    _draw(graph, entry.name, topo, png)
    print(f"picture: {png}")
    if given is not None:
        if args.out:
            print(f"config set: {given} (lablb run SCENARIO --configs {given})")
        else:
            shutil.rmtree(pair_dir, ignore_errors=True)
    return 0


def _cmd_topo_make(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lablb.config import generate
    from lablb.config.load import load
    from lablb.config.render import render
    from lablb.lab.registry import get

    template = get("seed").config_dir(args.template)
    pair = {p.stem: load(str(p)) for p in sorted(template.glob("*.conf"))}
    make = {
        "webfarm": generate.webfarm,
        "multi-pair": generate.multi_pair,
        "unicast": generate.unicast,
        "active-active": generate.active_active,
    }[args.kind]
    try:
        configs = make(pair, args.n)
    except ValueError as exc:
        raise UsageError(f"topo make: {exc}") from None
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    existing = sorted(n for n in configs if (out / f"{n}.conf").exists())
    if existing and not args.force:
        raise UsageError(
            f"topo make: {out} already has {', '.join(f'{n}.conf' for n in existing)}; "
            "--force writes over them"
        )
    for name, config in configs.items():
        header = f"{args.kind} {args.n}, from {template.name}/ (lablb topo make)"
        (out / f"{name}.conf").write_text(render(config, header=header))
    print(f"{out}: {', '.join(sorted(configs))}; run with lablb run SCENARIO --configs {out}")
    return 0


def _ping_all(lab: object) -> int:
    from lablb.lab.graph import describe
    from lablb.lab.net import Lab
    from lablb.measure.ping import parse_ping

    assert isinstance(lab, Lab)
    views = describe(lab.spec.topology.cls(**lab.spec.params))
    clients = [v for v in views if v.role == "client"][:1]
    targets = [
        (v.name, a.split("/")[0])
        for v in views
        if v.role in PING_TARGETS_ROLES
        for a in v.addresses[:1]
    ]
    failures = 0
    for client in clients:
        for name, addr in targets:
            res = parse_ping(
                lab.run(
                    client.name, ["ping", "-c", "3", "-i", "0.2", "-W", "1", addr], timeout=10
                ).stdout
            )
            mark = "ok  " if res.ok else "FAIL"
            rtt = f"{res.rtt_avg_ms:.3f} ms" if res.rtt_avg_ms is not None else "-"
            print(
                f"  {mark} {client.name} -> {name} ({addr}): {res.received}/"
                f"{res.transmitted} replies, avg rtt {rtt}"
            )
            failures += 0 if res.ok else 1
    return failures


def _cmd_up(args: argparse.Namespace) -> int:
    _dataplane(args)
    pair_dir = Path(tempfile.mkdtemp(prefix="lablb-pair-"))
    try:
        given = _pair_set(args, pair_dir)
        if given is not None:
            args.configs = str(given)
        return _up(args)
    finally:
        shutil.rmtree(pair_dir, ignore_errors=True)


def _up(args: argparse.Namespace) -> int:
    from lablb.lab.net import Lab, LabSpec
    from lablb.lab.registry import get

    entry = get(args.name or "seed")
    if args.name is None and args.configs is not None:
        from lablb.lab.derived import derived_entry, misfit

        if misfit(entry, Path(args.configs)) is not None:
            entry = derived_entry(Path(args.configs))  # the lab the configs imply
    args.name = entry.name
    spec = LabSpec(entry)
    with Lab(spec, verbose=args.verbose) as lab:
        print(f"lab {args.name} is up:")
        for host in lab.hosts:
            print(f"  {host.name:<6} pid {host.pid:<7} ip netns exec lablb-{host.name} bash")
        roles = {h.name: getattr(h, "role", "") for h in lab.hosts}
        webs = sorted(n for n, r in roles.items() if r == "web")
        if webs and entry.docroot() is not None and args.engine != "none":
            from lablb.lab.web import MailSink, start_decapsulators, start_web

            start_web(lab, webs, entry.docroot() or Path(), args.video or None)
            print(
                f"  nginx on {', '.join(webs)}"
                + (f", /video/ {args.video} MB" if args.video else "")
            )
            for name in start_decapsulators(lab):
                print(f"  {name:<6} unwraps LVS-TUN's IPIP into tunl0")
            for name in (n for n, r in roles.items() if r == "mail"):
                MailSink(lab, name)
                print(f"  {name:<6} SMTP sink, mail in {lab.workdir / name / 'mail'}")
        if args.engine != "none" and entry.balancers:
            from lablb.config.load import load_lenient
            from lablb.config.sets import lab_scripts
            from lablb.lab.balancer import engines_for, start_vrrp
            from lablb.lab.local import fronted, start_local_services

            configs, stood = lab_scripts(entry.config_dir(args.configs).resolve(), lab.workdir)
            for line in stood:
                print(f"  stand-in: {line}")
            watched = fronted(load_lenient(str(configs / f"{entry.balancers[0]}.conf")))
            if watched is not None:  # VRRP only: the service the VIP fronts, on each balancer
                start_local_services(lab, entry.balancers, watched)
                print(f"  {watched.process} (the lab's stand-in) on TCP {watched.port} on "
                      f"{', '.join(entry.balancers)}")  # fmt: skip
            nodes = start_vrrp(lab, configs, engines_for(args.engine, entry.balancers))
            for name, node in nodes.items():
                print(f"  {name:<6} VRRP: {node.engine} -f {node.config}  (log {node.log})")
        status = 0
        if args.ping:
            print("ping from a client:")
            status = 1 if _ping_all(lab) else 0
        if args.duration is None:
            print("Ctrl-C to tear it down")
            while True:
                signal.pause()
        elif args.duration > 0:
            time.sleep(args.duration)
    print(f"lab {args.name} torn down")
    return status


def _cmd_completion(_args: argparse.Namespace) -> int:
    from lablb.completion import bash_script
    from lablb.lab.engines import ENGINES
    from lablb.lab.registry import all_topologies
    from lablb.scenario import all_scenarios

    engines = [*ENGINES, "mixed"]
    print(bash_script(build_parser(), sorted(all_scenarios()), sorted(all_topologies()), engines))
    return 0


def _cmd_clean(_args: argparse.Namespace) -> int:
    from lablb.lab.clean import clean
    from lablb.lab.net import preflight

    preflight()
    done = clean()
    for line in done:
        print(line)
    print("clean: nothing left" if not done else f"clean: {len(done)} action(s)")
    return 0


def _cmd_daemon(args: argparse.Namespace) -> int:
    from lablb.daemon import Options, run

    only = "vrrp" if args.vrrp else "check" if args.check else None
    _dataplane(args)
    return run(
        Options(
            args.config, args.pidfile, args.vrrp_pidfile, args.log, args.run_for, args.run_dir, only
        )
    )


def _cmd_genhash(args: argparse.Namespace) -> int:
    from lablb.checker.probes import md5_hex

    if args.file:
        import stat
        from pathlib import Path

        try:
            # a regular file only: a FIFO would block, /dev/zero never end
            if not stat.S_ISREG(Path(args.file).stat().st_mode):
                raise UsageError(f"genhash: {args.file}: not a regular file")
            body = Path(args.file).read_bytes()
        except OSError as exc:
            raise UsageError(f"genhash: {args.file}: {exc.strerror or exc}") from None
    else:
        import urllib.error
        import urllib.request

        if not args.url.startswith(("http://", "https://")):
            raise UsageError(f"genhash: {args.url!r} is not an http:// or https:// URL")
        try:
            with urllib.request.urlopen(args.url, timeout=args.timeout) as resp:
                body = resp.read()
        except ValueError as exc:  # urllib's word for a malformed URL
            raise UsageError(f"genhash: {args.url!r}: {exc}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise LablbError(f"genhash: {args.url}: {exc}") from None
    print(md5_hex(body))
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lablb.lab.clean import live_labs
    from lablb.status import read_node, render

    dirs = [Path(d) for d in args.run_dir or []]
    for d in dirs:
        if not d.is_dir():
            raise UsageError(f"status: --run-dir {d}: no such folder")
    if not dirs:
        for lab in live_labs():
            workdir = Path(str(lab.get("workdir", "")))
            dirs += sorted(
                p
                for p in workdir.glob("*")
                if (p / "forwarder.json").exists()
                or (p / "lablb.log").exists()
                or (p / "keepalived.log").exists()
            )
    if not dirs:
        raise LablbError("status: no running lab, and no --run-dir given")
    print(render([read_node(d) for d in dirs]))
    return 0


def _cmd_list(_args: argparse.Namespace) -> int:
    from lablb.scenario import all_scenarios

    for name, sc in sorted(all_scenarios().items()):
        first = sc.timeline.splitlines()[0] if sc.timeline else ""
        print(f"{name:<12} {first.partition(': ')[2] or first}")
        for key, p in sc.params.items():
            print(f"    {f'{key}={p.default!s}':<30} {p.help} [{p.describe()}]")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lablb.lab.net import preflight
    from lablb.report import load_result, plots, summary, verdict_lines
    from lablb.runner import run

    _dataplane(args)
    preflight()
    quiet = args.json

    def progress(line: str) -> None:
        if not quiet:
            print(f"  .. {line}", file=sys.stderr, flush=True)

    if args.fault:
        args.param = [*args.param, f"fault={args.fault}"]
    # A baseline that cannot be read is bad input: said now, not after the whole run.
    baseline = load_result(Path(args.baseline)) if args.baseline else None
    result = run(
        args.name,
        args.topo,
        args.configs,
        args.engine,
        args.repeat,
        Path(args.out),
        args.param,
        progress,
        pair=_pair(args),
        root=_root(args),
    )
    run_dir = result.path
    assert run_dir is not None  # a run's result always has its folder
    made = plots(run_dir, result)
    if args.junit:
        from lablb.junit import junit_xml

        try:
            Path(args.junit).write_text(junit_xml(result))
        except OSError as exc:
            raise UsageError(f"--junit {args.junit}: {exc.strerror or exc}") from None
    status = 0 if result.passed else 1
    if baseline is not None:
        from lablb.measure.compare import compare

        _comparable(baseline, result, args.force)
        findings = compare(baseline, result)
        result.baseline_findings = [str(f) for f in findings]
        status = status or (5 if findings else 0)
    where = (
        f"results: {run_dir}/ (result.json, capture.pcap, "
        f"{', '.join(p.name for p in made)}, lab/ logs)"
    )
    regressions = [f"  regression: {f}" for f in result.baseline_findings]
    if args.json:
        # stdout is the JSON; what failed still reaches the person watching, last.
        print(json.dumps(result.to_json(), indent=2, default=str))
        print("\n".join([where, *regressions, *verdict_lines(result)]), file=sys.stderr)
    else:
        print("\n".join([summary(result, verdict=False), where, *regressions, "",
                         *verdict_lines(result)]))  # fmt: skip
    return status


def _comparable(baseline: RunResult, result: RunResult, force: bool) -> None:
    from lablb.errors import IncomparableError
    from lablb.measure.compare import incomparable

    why = incomparable(baseline, result)
    if why and not force:
        raise IncomparableError(
            "will not compare runs that differ: " + "; ".join(why) + " (--force to compare anyway)"
        )
    for w in why:
        print(f"compare: forced, although {w}", file=sys.stderr)


def _cmd_report(args: argparse.Namespace) -> int:
    """Re-print a run, its verdict recomputed from its trials and bounds (not read)."""
    from pathlib import Path

    from lablb.measure.result import RunResult
    from lablb.report import load_result, plots, summary

    stored = load_result(Path(args.dir))
    result = RunResult.from_json(stored.to_json(), stored.path).finish()
    print(summary(result))
    if stored.verdict != result.verdict:
        print(
            f"report: the stored verdict is {stored.verdict!r}, but its trials and "
            f"bounds give {result.verdict!r}"
        )
    if Path(args.dir).is_dir():
        try:
            made = plots(Path(args.dir), result)
        except OSError as exc:
            raise UsageError(
                f"report: cannot write the plots in {args.dir}: {exc.strerror or exc}"
            ) from None
        print("plots: " + ", ".join(str(p) for p in made))
    return 0 if result.passed else 1


def _cmd_notebooks(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lablb.notebooks import execute, notebooks

    paths = notebooks(args.names)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for i, path in enumerate(paths, 1):
        print(f"[{i}/{len(paths)}] {path.stem} ...", flush=True)
        run = execute(path, out)
        if run.error is None:
            print(f"  ran in {run.seconds:.0f} s -> {run.html} ({len(run.figures)} figures)")
        else:
            failed += 1
            last = run.error.strip().splitlines()[-1] if run.error.strip() else "?"
            print(f"  FAILED after {run.seconds:.0f} s: {last} (see {run.html})")
    return 1 if failed else 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lablb.measure.compare import compare
    from lablb.report import load_result

    baseline, result = load_result(Path(args.baseline)), load_result(Path(args.result))
    _comparable(baseline, result, args.force)
    findings = compare(baseline, result)
    for f in findings:
        print(f"regression: {f}")
    print("compare: " + ("no regression" if not findings else f"{len(findings)} finding(s)"))
    return 5 if findings else 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lablb")
    except PackageNotFoundError:
        return "(not installed)"


def _positive_seconds(text: str) -> float:
    """An argparse type: a finite number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not above 0 seconds")
    return value


def _add_check(sub: Commands) -> None:
    """``check``: keepalived.conf files validated as keepalived -t would."""
    p = sub.add_parser("check", help="validate keepalived.conf files (several: as one cluster)")
    p.add_argument("files", nargs="*", metavar="FILE")
    p.add_argument("--json", action="store_true", help="diagnostics as a JSON list")
    p.add_argument("--strict", action="store_true", help="warnings are errors")
    p.add_argument(
        "--config-id",
        metavar="ID",
        help="read @ID conditional lines as keepalived -i ID would (default: the node name)",
    )
    p.add_argument(
        "--offline",
        action="store_true",
        help="skip what depends on this host (interfaces, script programs, users): "
        "for a file meant for another box",
    )
    p.add_argument(
        "--explain", metavar="CODE", help="what a diagnostic code means, with an example"
    )
    p.add_argument(
        "--docroot", metavar="DIR", help="check HTTP_GET digests against the pages under DIR"
    )
    p.set_defaults(func=_cmd_check)


def _add_topo(sub: Commands) -> None:
    """``topo list|show|derive|make``."""
    topo = sub.add_parser("topo", help="list and show topologies").add_subparsers(
        dest="topo_command", required=True, metavar="list|show"
    )
    p = topo.add_parser("list", help="the topologies lablb knows")
    p.set_defaults(func=_cmd_topo_list)
    p = topo.add_parser("show", help="hosts, roles and addresses of a topology")
    p.add_argument("name")
    p.add_argument("--png", metavar="FILE", help="also draw it to a PNG file")
    p.add_argument("--servers", metavar="H1,H2,...",
                   help="plan it spread over these servers: where each host runs, and the "
                   "VXLAN segments between them (the plan only: labs run on one server)")
    p.add_argument("--placement", metavar="FILE",
                   help="with --servers: 'ROLE-OR-HOST SERVER' lines overriding the default split")
    p.set_defaults(func=_cmd_topo_show)
    p = topo.add_parser(
        "derive", help="the topology a config set implies (what lablb run --configs DIR uses)"
    )
    p.add_argument("dir", metavar="DIR", nargs="?")
    _add_pair_args(p)
    p.add_argument("--out", metavar="DIR", help="with --config: keep the pair's config set here")
    p.add_argument("--png", metavar="FILE", help="draw it here (default: DIR-topology.png)")
    p.set_defaults(func=_cmd_topo_derive)
    p = topo.add_parser(
        "make",
        help="write a config set: webfarm N (web nodes), multi-pair N (pairs), "
        "unicast 2, active-active 2",
    )
    p.add_argument("kind", choices=("webfarm", "multi-pair", "unicast", "active-active"))
    p.add_argument("n", type=int, metavar="N")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--template", default="seed-v3-100ms", help="the pair it starts from")
    p.add_argument("--force", action="store_true", help="write over files already there")
    p.set_defaults(func=_cmd_topo_make)


def _add_dataplane(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dataplane",
        choices=("kernel", "python"),
        help="how lablb's forwarder moves a DR service's established connections: in the "
        "kernel (tc-BPF, the default where it loads) or in Python (AF_PACKET)",
    )


def _dataplane(args: argparse.Namespace) -> None:
    """The forwarders this command starts inherit the choice (``LABLB_DATAPLANE``); a
    kernel data plane that cannot load is said once, here."""
    from lablb.ipvs.kernel import DATAPLANE_ENV, object_state

    if args.dataplane:
        os.environ[DATAPLANE_ENV] = args.dataplane
    if os.environ.get(DATAPLANE_ENV, "kernel") == "kernel":
        why = object_state()
        if why is not None:
            print(f"lablb: DR services forward in Python: {why}", file=sys.stderr)


def _add_up(sub: Commands) -> None:
    """``up``: a lab held up until Ctrl-C."""
    p = sub.add_parser("up", help="bring a lab up and keep it until Ctrl-C")
    p.add_argument("name", nargs="?", help="topology (default: seed, or the one --configs implies)")
    p.add_argument(
        "--ping", action="store_true", help="ping the router and web nodes from a client"
    )
    p.add_argument(
        "--for",
        dest="duration",
        type=float,
        metavar="SECONDS",
        help="tear down after SECONDS (0: at once) instead of waiting for Ctrl-C",
    )
    p.add_argument("--verbose", action="store_true", help="show Mininet's own log")
    p.add_argument(
        "--engine",
        default="lablb",
        metavar="ENGINE",
        help="VRRP on the balancers: lablb, keepalived, mixed (lablb on the first), "
        "NODE=ENGINE,... or none (default: lablb)",
    )
    p.add_argument("--configs", metavar="DIR", help="keepalived.conf per balancer (DIR/NODE.conf)")
    _add_pair_args(p)
    _add_dataplane(p)
    p.add_argument(
        "--video",
        type=int,
        default=0,
        metavar="MB",
        help="serve an MP4 of about MB megabytes as /video/ (made once, cached)",
    )
    p.set_defaults(func=_cmd_up)


def _add_daemon(sub: Commands) -> None:
    """``daemon``: VRRP, forwarder and checkers from one file, as keepalived -n."""
    p = sub.add_parser(
        "daemon",
        help="run VRRP from a keepalived.conf in the foreground (like keepalived -n -f)",
    )
    p.add_argument("-f", "--use-file", dest="config", required=True, metavar="CONFIG")
    p.add_argument("-p", "--pid", dest="pidfile", metavar="PIDFILE", help="parent pid file")
    p.add_argument(
        "-r", "--vrrp_pid", dest="vrrp_pidfile", metavar="FILE", help="VRRP process pid file"
    )
    p.add_argument("--log", metavar="FILE", help="JSON event lines (default: stderr)")
    p.add_argument("--run-for", type=float, metavar="SECONDS", help="stop gracefully after SECONDS")
    p.add_argument(
        "--run-dir",
        metavar="DIR",
        help="status files and sockets (default: the pid file's directory)",
    )
    only = p.add_mutually_exclusive_group()
    only.add_argument("-P", "--vrrp", action="store_true", help="run VRRP only")
    only.add_argument(
        "-C",
        "--check",
        action="store_true",
        help="run the forwarder and checkers only (beside another VRRP)",
    )
    _add_dataplane(p)
    p.set_defaults(func=_cmd_daemon)


def _add_runs(sub: Commands) -> None:
    """``list`` and ``run``: the scenarios."""
    p = sub.add_parser("list", help="the scenarios lablb knows, with their parameters")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("run", help="run a scenario in a lab and report (e.g. lablb run failover)")
    p.add_argument("name")
    p.add_argument(
        "--topo",
        help="topology (default: seed, or the one --configs implies when they do not fit it)",
    )
    p.add_argument("--configs", metavar="DIR", help="config set (default: the topology's)")
    _add_pair_args(p)
    p.add_argument("--engine", default="lablb", help="lablb, keepalived, mixed, NODE=ENGINE,...")
    _add_dataplane(p)
    p.add_argument("--repeat", type=int, default=1, metavar="N", help="trials (default 1)")
    p.add_argument("--out", default="lablb-runs", metavar="DIR", help="results go under DIR")
    p.add_argument("--json", action="store_true", help="print result.json on stdout")
    p.add_argument(
        "--junit", metavar="FILE", help="also write JUnit XML (a testcase per trial and bound)"
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="K=V",
        help="a scenario parameter (repeatable; see lablb list)",
    )
    p.add_argument(
        "--fault",
        help="shorthand for --param fault=F (failover: crash, graceful, ifdown, isolate, freeze)",
    )
    p.add_argument(
        "--baseline",
        metavar="RESULT.json",
        help="exit 5 when a statistic regresses against this result",
    )
    p.add_argument(
        "--force", action="store_true", help="with --baseline: compare even if the runs differ"
    )
    p.set_defaults(func=_cmd_run)


def _add_results(sub: Commands) -> None:
    """``report`` and ``compare``: runs read back."""
    p = sub.add_parser("report", help="re-print a run's summary and remake its plots")
    p.add_argument("dir", metavar="DIR")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser(
        "compare", help="exit 5 when RESULT regresses against BASELINE, 6 if they differ"
    )
    p.add_argument("baseline", metavar="BASELINE.json")
    p.add_argument("result", metavar="RESULT.json")
    p.add_argument(
        "--force", action="store_true", help="compare runs of other configs or parameters"
    )
    p.set_defaults(func=_cmd_compare)


def _add_tools(sub: Commands) -> None:
    """The rest: notebooks, genhash, status, clean, completion."""
    p = sub.add_parser(
        "notebooks",
        help="execute the teaching notebooks in a Jupyter kernel; HTML copies with outputs",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="notebooks to run (default: all)")
    p.add_argument(
        "--out", default="notebooks-html", help="where HTML and figures go (default: %(default)s)"
    )
    p.set_defaults(func=_cmd_notebooks)

    p = sub.add_parser("genhash", help="MD5 digest of a page, for HTTP_GET's digest")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("url", nargs="?", help="http:// or https:// URL")
    src.add_argument("--file", help="a file instead of a URL")
    p.add_argument("--timeout", type=_positive_seconds, default=5.0, help="seconds (default 5)")
    p.set_defaults(func=_cmd_genhash)

    p = sub.add_parser("status", help="VRRP state and real servers of a running lab's nodes")
    p.add_argument(
        "--run-dir",
        action="append",
        metavar="DIR",
        help="a daemon's run directory (repeatable; default: the running lab's)",
    )
    p.set_defaults(func=_cmd_status)

    p = sub.add_parser(
        "clean", help="remove whatever a lab left behind (namespaces, links, processes)"
    )
    p.set_defaults(func=_cmd_clean)

    p = sub.add_parser(
        "completion",
        help="a bash completion script: lablb completion bash > /etc/bash_completion.d/lablb",
    )
    p.add_argument("shell", choices=("bash",))
    p.set_defaults(func=_cmd_completion)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="lablb", description="network failover test lab")
    ap.add_argument("--debug", action="store_true", help="show tracebacks")
    ap.add_argument("--version", action="version", version=f"lablb {_version()}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_check(sub)
    _add_topo(sub)
    _add_up(sub)
    _add_daemon(sub)
    _add_runs(sub)
    _add_results(sub)
    _add_tools(sub)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except LablbError as exc:
        if args.debug:
            raise
        print(f"lablb: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("lablb: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `lablb ... | head`: the reader has all it wanted
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
