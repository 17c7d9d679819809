"""The benchmark's tables (markdown, printed and kept in ``bench/README.md``) and plots,
from one result. Tables are pure; ``plots`` writes PNGs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.summary import PATHS, Goal, compared, hop_us, markdown, ms, ratio


def _stat(row: Mapping[str, Any], key: str, field: str = "median") -> float | None:
    s = row.get("stats", {}).get(key)
    return None if not s else float(s[field])


def failover_table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per interval and fault: each engine's outage (client, service) median /
    p95 / max, a silent fault's outage from the old master's last advert (the fault's
    phase in the advert cycle taken out), takeover's lateness against the protocol, and
    lablb/keepalived (of the phase-free outage where there is one)."""
    by = {(r["interval"], r["fault"], r["engine"]): r for r in rows}
    header = ["interval", "fault", "engine", "in bound", "outage ms med/p95/max",
              "service outage ms med/p95/max", "outage from last advert ms med/p95/max",
              "takeover late ms med/max", "outage lablb/keepalived"]  # fmt: skip
    out = []
    for interval, fault, engine in sorted(by, key=lambda k: (-_secs(k[0]), k[1], k[2])):
        r = by[interval, fault, engine]
        k = by.get((interval, fault, "keepalived"))
        key = compared("outage_s", r, k) if k else "outage_s"
        q = ratio(_stat(r, key), _stat(k, key)) if k and engine == "lablb" else None
        out.append([
            interval, fault, engine, f"{r.get('passed', 0)}/{r.get('trials', 0)}",
            "/".join(ms(_stat(r, "outage_s", f)) for f in ("median", "p95", "max")),
            "/".join(ms(_stat(r, "service_outage_s", f)) for f in ("median", "p95", "max")),
            "/".join(ms(_stat(r, "outage_from_advert_s", f)) for f in ("median", "p95", "max"))
            if _stat(r, "outage_from_advert_s") is not None else "-",
            "/".join(ms(_stat(r, "takeover_late_s", f), 2) for f in ("median", "max")),
            "-" if q is None else f"{q:.3f}",
        ])  # fmt: skip
    return markdown(header, out)


def _secs(interval: str) -> float:
    return float(interval.split(maxsplit=1)[0])


def start_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Restart figures per engine and interval, from the crash runs (whose fault is
    undone by restarting the daemon)."""
    out = []
    for r in rows:
        if r["fault"] != "crash" or "first_advert_s" not in r.get("stats", {}):
            continue
        out.append({"engine": r["engine"], "configs": r["configs"], "interval": r["interval"],
                    "first_advert_s": r["stats"]["first_advert_s"],
                    "start_s": r["stats"].get("start_s")})  # fmt: skip
    return out


def start_table(
    rows: Sequence[Mapping[str, Any]], memory: Sequence[Mapping[str, Any]]
) -> list[str]:
    header = ["interval", "engine", "spawn to first advert ms med/max",
              "spawn to timers armed ms med/max"]  # fmt: skip
    body = [
        [r["interval"], r["engine"],
         "/".join(ms(r["first_advert_s"][f]) for f in ("median", "max")),
         "/".join(ms(r["start_s"][f]) if r.get("start_s") else "-" for f in ("median", "max"))]
        for r in sorted(rows, key=lambda r: (-_secs(r["interval"]), r["engine"]))
    ]  # fmt: skip
    lines = markdown(header, body)
    if memory:
        lines += ["", *markdown(
            ["engine", "process (pid)", "RSS MiB"],
            [[m["engine"], name, f"{kb / 1024:.1f}" if kb else "-"]
             for m in memory for name, kb in m["processes"].items()],
        )]  # fmt: skip
    return lines


def false_table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    header = ["engine, VRRP scheduling", "seconds", "spurious state changes",
              "master before/after", "downloads failed/tried",
              "backup's timer wake-up late us med/p99.9/max", "wake-ups > 1.5 ms late"]  # fmt: skip
    body = [
        [r["label"], f"{r['seconds']:.0f}", str(r["changes"]),
         f"{r['master_before']}/{r['master_after']}",
         "/".join(str(x) for x in r["downloads"]) if r.get("downloads") else "-",
         _wake(r.get("wakeup")),
         f"{r['wakeup']['over_ms']['1.5']} of {r['wakeup']['n']}" if r.get("wakeup") else "-"]
        for r in rows
    ]  # fmt: skip
    return markdown(header, body)


def _wake(w: Mapping[str, Any] | None) -> str:
    if not w:
        return "-"
    return f"{w['median_us']:.0f}/{w['p999_us']:.0f}/{w['max_us']:.0f}"


def scale_table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    header = ["lab", "hosts", "network up s", "converged s", "down s", "failover run s"]
    body = [
        [f"{r['kind']} {r['n']}", str(r["hosts"]), f"{r['net_up_s']:.1f}",
         f"{r['converged_s']:.1f}", f"{r['down_s']:.1f}",
         f"{r['failover_run_s']:.1f} ({r['failover_verdict']})"]
        for r in rows
    ]  # fmt: skip
    return markdown(header, body)


def proxy_table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Per webfarm size: clients' Gbit/s through DR and through the reverse proxy, the
    balancer link's bytes per byte delivered, the box's CPU, and DR/proxy against N."""
    header = ["web nodes (clients)", "path", "client Gbit/s", "per client Gbit/s",
              "balancer link bytes per delivered byte", "box CPU busy",
              "DR/proxy (ideal)"]  # fmt: skip
    out = []
    for r in sorted(rows, key=lambda r: r["webs"]):
        for path, label in (("dr", "Direct Routing (lablb)"), ("proxy", "reverse proxy (nginx)")):
            m = r[path]
            out.append([
                f"{r['webs']} ({r['clients']})", label, f"{m['gbit_s']:.2f}",
                " ".join(f"{v:.2f}" for v in m["per_client_gbit_s"].values()),
                f"{m['balancer_link_bytes_per_delivered']:.4f}",
                f"{100 * m['box_cpu_busy']:.0f} %",
                f"{r['ratio']:.2f} ({r['webs']})" if path == "dr" and r["ratio"] else "",
            ])  # fmt: skip
    return markdown(header, out)


def capacity_table(result: Mapping[str, Any]) -> list[str]:
    """Per traffic and path: packets/s sent and forwarded, the forwarder's own CPU (a
    process's: the Python forwarder's work, and how little of it the kernel data plane
    leaves), the box's CPU per packet, and what the hop adds to it over no hop at all,
    with what that makes on one core (``summary.hop_us``)."""
    header = ["traffic", "forwarded by", "sent pkt/s", "forwarded pkt/s",
              "forwarder process CPU (in Python)", "forwarder process us per packet",
              "box CPU busy", "box us per packet", "hop us per packet",
              "hop pkt/s per core"]  # fmt: skip
    names = {"small": f"TCP, {result['mss']}-byte MSS, no offload", "acks": "ACKs of a download"}
    out = []
    for who, label in PATHS.items():
        for r in result.get(who, []):
            hop = hop_us(result, who, r["traffic"]) if who != "direct" else None
            out.append([
                names.get(r["traffic"], r["traffic"]), label, f"{r['sent_pps']:,}",
                f"{r['forwarded_pps']:,}",
                f"{100 * r['forwarder_cpu']:.0f} % ({100 * r['forwarder_user_share']:.0f} %)"
                if r.get("forwarder_user_share") is not None else "-",
                f"{r['us_per_packet']:.1f}" if "us_per_packet" in r else "-",
                f"{100 * r['box_cpu_busy']:.0f} %",
                f"{r['box_us_per_packet']:.1f}" if r.get("box_us_per_packet") else "-",
                "-" if who == "direct" else "unresolved" if hop is None else f"{hop:.2f}",
                f"{round(1e6 / hop):,}" if hop else "-",
            ])  # fmt: skip
    return markdown(header, out)


def goals_table(goals: Sequence[Goal]) -> list[str]:
    return markdown(
        ["goal", "met", "how far"],
        [[g.what, "yes" if g.met else "**no**", g.detail] for g in goals],
    )


def plots(result: Mapping[str, Any], out: Path, stem: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    rows = result.get("failover", [])
    if rows:
        intervals = sorted({r["interval"] for r in rows}, key=lambda i: -_secs(i))
        faults = sorted({r["fault"] for r in rows})
        fig, axes = plt.subplots(
            1, len(intervals), figsize=(4.5 * len(intervals), 4), squeeze=False
        )
        for ax, interval in zip(axes[0], intervals, strict=True):
            for j, engine in enumerate(("lablb", "keepalived")):
                xs, meds, p95s = [], [], []
                for i, fault in enumerate(faults):
                    r = next((r for r in rows if (r["interval"], r["fault"], r["engine"])
                              == (interval, fault, engine)), None)  # fmt: skip
                    if r and _stat(r, "outage_s") is not None:
                        xs.append(i + (j - 0.5) * 0.35)
                        meds.append(1000 * (_stat(r, "outage_s") or 0))
                        p95s.append(1000 * (_stat(r, "outage_s", "max") or 0))
                ax.bar(xs, meds, width=0.35, label=f"{engine} median")
                ax.scatter(xs, p95s, marker="_", s=200, color="k")
            for i, fault in enumerate(faults):
                r = next(
                    (r for r in rows if (r["interval"], r["fault"]) == (interval, fault)), None
                )
                b = (r or {}).get("bounds", {}).get("outage_s")
                if b:
                    ax.hlines([1000 * b[0], 1000 * b[1]], i - 0.4, i + 0.4, colors="r",
                              linestyles="dotted")  # fmt: skip
            ax.set_xticks(range(len(faults)), faults)
            ax.set_title(f"advert_int {interval}")
            ax.set_ylabel("client outage, ms (bar median, tick max)")
        axes[0][0].legend(fontsize=8)
        fig.suptitle("Failover outage, lablb vs keepalived (red dotted: the config's bound)")
        fig.tight_layout()
        path = out / f"{stem}-failover.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made.append(path)
    if result.get("proxy") or result.get("capacity"):
        made.append(_traffic_plot(result, out / f"{stem}-traffic.png"))
    scale = result.get("scale", [])
    if scale:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for ax, kind in zip(axes, ("webfarm", "multi-pair"), strict=True):
            rs = sorted((r for r in scale if r["kind"] == kind), key=lambda r: r["n"])
            ns = [r["n"] for r in rs]
            for key, label in (("converged_s", "lab up and converged"),
                               ("failover_run_s", "one failover run, end to end")):  # fmt: skip
                ax.plot(ns, [r[key] for r in rs], marker="o", label=label)
            ax.set_xscale("log", base=2)
            ax.set_xlabel("web nodes" if kind == "webfarm" else "balancer pairs")
            ax.set_ylabel("seconds")
            ax.set_title(kind)
            ax.legend(fontsize=8)
        fig.tight_layout()
        path = out / f"{stem}-scale.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made.append(path)
    return made


def _traffic_plot(result: Mapping[str, Any], path: Path) -> Path:
    """Steps 4 and 5 side by side: Gbit/s to the clients per web farm size (DR, proxy,
    and the N links' ceiling), and packets/s through lablb's forwarder and the kernel."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    rows = sorted(result.get("proxy", []), key=lambda r: r["webs"])
    ns = [r["webs"] for r in rows]
    xs = range(len(rows))
    left.bar([x - 0.2 for x in xs], [r["dr"]["gbit_s"] for r in rows], width=0.4,
             label="Direct Routing (lablb)")  # fmt: skip
    left.bar([x + 0.2 for x in xs], [r["proxy"]["gbit_s"] for r in rows], width=0.4,
             label="reverse proxy on the balancer (nginx)")  # fmt: skip
    left.hlines([n for n in ns], [x - 0.4 for x in xs], [x + 0.4 for x in xs], colors="r",
                linestyles="dotted", label="N web links of 1 Gbit/s")  # fmt: skip
    left.set_xticks(list(xs), [f"{n} web nodes" for n in ns])
    left.set_ylabel("Gbit/s delivered to the clients")
    left.set_title("Balancer link 1 Gbit/s: DR vs reverse proxy")
    left.set_ylim(0, max(ns, default=1) * 1.4)  # the legend above the bars, not on them
    left.legend(fontsize=8, loc="upper left")
    cap = result.get("capacity") or {}
    kinds = [r["traffic"] for r in cap.get("lablb", [])]
    paths = [p for p in PATHS if cap.get(p)]
    width = 0.8 / max(1, len(paths))
    for j, who in enumerate(paths):
        by = {r["traffic"]: r["forwarded_pps"] for r in cap.get(who, [])}
        right.bar([i + (j - (len(paths) - 1) / 2) * width for i in range(len(kinds))],
                  [by.get(k, 0) / 1000 for k in kinds], width=width,
                  label=PATHS[who])  # fmt: skip
    right.set_xticks(range(len(kinds)), kinds)
    right.set_ylabel("thousand packets/s forwarded")
    right.set_title("Forwarder capacity, same traffic, same box")
    top = max((r["forwarded_pps"] for p in paths for r in cap.get(p, [])), default=1)
    right.set_ylim(0, top / 1000 * 1.45)
    right.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
