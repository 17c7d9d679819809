"""``sudo .venv/bin/python -m bench``: lablb side by side with keepalived, in one run on
one machine. A benchmark, not a test: it prints a table, writes JSON, a markdown table
and plots, and exits 0 whatever it finds (a missed goal is reported, not failed).

Steps (``--steps``, comma-separated; all by default):

``failover``  crash, graceful, ifdown at 1 s (v2), 0.1 s and 0.01 s (v3) adverts,
              ``--trials`` each per engine, through ``lablb run failover``; the crash
              runs also give the restart figures (step 2).
``false``     false failovers at 0.01 s adverts with every core of both balancers busy
              and a stream forwarded, ``--load-seconds`` per engine, lablb also without
              real-time scheduling (the before of the fix); the daemons' memory.
``proxy``     Direct Routing against nginx as a reverse proxy on the balancer, the
              balancer's 1 Gbit/s link the bottleneck: clients' Gbit/s on webfarm 2
              and 4, ``--traffic-seconds`` each.
``capacity``  the DR forwarder's packets/s and CPU per packet (small TCP packets; a
              download's ACKs) against the kernel forwarding the same traffic.
``scale``     lab cost as webfarm grows (2, 8, 32, 64 web nodes) and multi-pair (1, 4,
              16 pairs): up, converged, down, one failover run end to end.

``--smoke`` runs each step at its smallest (the test suite does, so the benchmark
cannot rot) and writes under ``--out`` only. One lab at a time: never beside the tests.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import capacity, failover, labs, report, summary, throughput
from bench.machine import describe

RESULTS = Path(__file__).resolve().parent / "results"
README = Path(__file__).resolve().parent / "README.md"
STEPS = ("failover", "false", "proxy", "capacity", "scale")
PROXY_WEBS = (2, 4)
SCALE = {"webfarm": (2, 8, 32, 64), "multi-pair": (1, 4, 16)}
SMOKE_SCALE = {"webfarm": (2,), "multi-pair": (1,)}
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def progress(line: str) -> None:
    print(f"  .. {time.strftime('%H:%M:%S')} {line}", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument("--steps", default=",".join(STEPS), help=f"of {','.join(STEPS)}")
    p.add_argument("--trials", type=int, default=20, help="failover trials per cell")
    p.add_argument("--load-seconds", type=float, default=600.0, help="false-failover run")
    p.add_argument("--traffic-seconds", type=float, default=20.0,
                   help="counted seconds per proxy and capacity run")  # fmt: skip
    p.add_argument("--smoke", action="store_true", help="each step at its smallest")
    p.add_argument("--out", type=Path, default=RESULTS, help="where the JSON and plots go")
    p.add_argument(
        "--readme", action="store_true", help="also write the tables into bench/README.md"
    )
    p.add_argument(
        "--tables",
        type=Path,
        metavar="RESULT.json",
        help="measure nothing: print (and with --readme keep) a saved run's tables",
    )
    args = p.parse_args(argv)
    if args.tables:
        return reprint(args.tables, args.readme)
    steps = [s for s in args.steps.split(",") if s]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        p.error(f"unknown step(s) {', '.join(unknown)}; steps are {', '.join(STEPS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    stem = time.strftime("bench-%Y%m%d-%H%M%S")
    result: dict[str, Any] = {"schema": "lablb.bench/1", "machine": describe(),
                              "argv": sys.argv[1:], "started": time.time()}  # fmt: skip
    path = args.out / f"{stem}.json"

    def save() -> None:  # after every step: a run cut short keeps what it measured
        path.write_text(json.dumps(result, indent=1, default=str))

    with tempfile.TemporaryDirectory(prefix="lablb-bench-") as tmp:
        work = Path(tmp)
        if "failover" in steps:
            trials = 1 if args.smoke else args.trials
            intervals = ("0.01 s (v3)",) if args.smoke else tuple(failover.CONFIGS)
            faults = ("crash",) if args.smoke else failover.FAULTS
            result["failover"] = failover.run(trials, work / "runs", progress, intervals, faults)
            result["start"] = report.start_rows(result["failover"])
            save()
        if "false" in steps:
            seconds = 5.0 if args.smoke else args.load_seconds
            variants = [("lablb", True)] if args.smoke else [
                ("lablb", True), ("keepalived", True), ("lablb", False)]  # fmt: skip
            rows = []
            for engine, rt in variants:
                progress(f"false failovers: {engine}, rt={rt}, {seconds:.0f} s")
                rows.append(labs.false_failovers(engine, seconds, rt, work, progress))
                result["false"] = rows
                save()
            result["memory"] = [r["memory"] for r in rows if r["rt"]]
        traffic_s = 2.0 if args.smoke else args.traffic_seconds
        if "proxy" in steps:
            rows = []
            for n in PROXY_WEBS[:1] if args.smoke else PROXY_WEBS:
                progress(f"DR vs reverse proxy: webfarm {n}, {traffic_s:.0f} s each")
                rows.append(throughput.dr_vs_proxy(n, traffic_s, work, progress))
                result["proxy"] = rows
                save()
        if "capacity" in steps:
            progress(f"forwarder capacity: {traffic_s:.0f} s per traffic and forwarder")
            kinds = ("small",) if args.smoke else tuple(capacity.TRAFFIC)
            result["capacity"] = capacity.capacity(traffic_s, work, progress, kinds)
            save()
        if "scale" in steps:
            rows = []
            for kind, sizes in (SMOKE_SCALE if args.smoke else SCALE).items():
                for n in sizes:
                    progress(f"scale: {kind} {n}")
                    rows.append(labs.lab_cost(kind, n, work, progress))
                    result["scale"] = rows
                    save()
    goals = goals_of(result)
    result["goals"] = [g.as_json() for g in goals]
    result["plots"] = [str(x) for x in report.plots(result, args.out, stem)]
    save()
    text = tables(result, goals, path)
    print("\n".join(text))
    if args.readme:
        write_readme(text)
    return 0


def goals_of(result: dict[str, Any]) -> list[summary.Goal]:
    return (summary.outage_goals(result.get("failover", []))
            + summary.start_goals(result.get("start", []))
            + summary.false_goals(result.get("false", []))
            + summary.proxy_goals(result.get("proxy", []))
            + summary.capacity_goals(result.get("capacity")))  # fmt: skip


def reprint(path: Path, readme: bool) -> int:
    result = json.loads(path.read_text())
    text = tables(result, goals_of(result), path)
    print("\n".join(text))
    if readme:
        write_readme(text)
    return 0


def tables(result: dict[str, Any], goals: list[summary.Goal], path: Path) -> list[str]:
    m = result["machine"]
    out = [f"Run `{path.name}` on {m['cpus']} x {m['cpu']}, {m['os']}, kernel {m['kernel']}, "
           f"Python {m['python']}, {m['keepalived']}.", ""]  # fmt: skip
    if result.get("failover"):
        out += [
            "### 1. Failover, lablb vs keepalived",
            "",
            *report.failover_table(result["failover"]),
            "",
        ]
    if result.get("start"):
        out += ["### 2. Restart and memory", "",
                *report.start_table(result["start"], result.get("memory", [])), ""]  # fmt: skip
    if result.get("false"):
        out += ["### 3. False failovers under load", "", *report.false_table(result["false"]), ""]
    if result.get("proxy"):
        out += ["### 4. Direct Routing vs a reverse proxy", "",
                *report.proxy_table(result["proxy"]), ""]  # fmt: skip
    if result.get("capacity"):
        out += ["### 5. Forwarder capacity", "", *report.capacity_table(result["capacity"]), ""]
    if result.get("scale"):
        out += ["### 6. Lab cost and scale", "", *report.scale_table(result["scale"]), ""]
    if goals:
        out += ["### Goals", "", *report.goals_table(goals), ""]
    return out


def write_readme(lines: list[str]) -> None:
    text = README.read_text() if README.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    README.write_text(head + BEGIN + "\n" + "\n".join(lines) + "\n" + END + tail)


if __name__ == "__main__":
    raise SystemExit(main())
