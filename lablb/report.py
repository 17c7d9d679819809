"""A run directory, written up: the one-screen summary (pure) and the plots (matplotlib,
files only). ``lablb report DIR`` calls both again on a finished run."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from lablb.measure.stats import STATS
from lablb.scenario import trial_bounds


def summary(result: dict[str, Any]) -> str:
    """Measured against bound, per quantity, and the verdict: one screen."""
    lines = [
        f"scenario {result['scenario']}  topology {result.get('topology')}  engine "
        f"{result.get('engine')}  trials {len(result.get('trials', []))}",
        "parameters: " + ", ".join(f"{k}={v}" for k, v in result.get("parameters", {}).items()),
        "",
        f"{'quantity':<14}{'bound (s)':>20}  " + "".join(f"{s:>9}" for s in STATS) + "  in bound",
    ]
    run_bounds = {k: (float(v[0]), float(v[1])) for k, v in result.get("bounds", {}).items()}
    for name, (low, high) in run_bounds.items():
        st = result.get("stats", {}).get(name)
        trials = result.get("trials", [])
        values = [t.get(name) for t in trials]
        inside = 0
        for t in trials:
            lo, hi = trial_bounds(t, run_bounds)[name]
            v = t.get(name)
            inside += isinstance(v, int | float) and lo <= v <= hi
        row = "".join(f"{st[s]:>9.3f}" for s in STATS) if st else f"{'not measured':>36}"
        lines.append(f"{name:<14}{f'[{low:.3f}, {high:.3f}]':>20}  {row}  {inside}/{len(values)}")
    extra = _extras(result)
    if extra:
        lines += ["", *extra]
    lines.append("")
    for f in result.get("failures", [])[:8]:
        lines.append(f"  ! {f}")
    lines.append(f"verdict: {result.get('verdict', '?').upper()}")
    return "\n".join(lines)


def _extras(result: dict[str, Any]) -> list[str]:
    """A few measurements worth a line that are not bounded quantities."""
    out = []
    for i, t in enumerate(result.get("trials", [])):
        bits = []
        for key in (
            "new_master",
            "first_new_advert_s",
            "first_garp_s",
            "client_errors",
            "dr_share",
            "two_masters_s",
        ):
            if key in t and t[key] is not None:
                v = t[key]
                bits.append(f"{key}={v:.3f}" if isinstance(v, float) else f"{key}={v}")
        if bits:
            out.append(f"trial {i + 1}: " + "  ".join(bits))
    return out[:6]


def plots(run_dir: Path, result: dict[str, Any]) -> list[Path]:
    """timeline.png (probe replies around the fault, protocol events marked),
    throughput.png (bytes per second per host), dr_split.png (bytes per host)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    trials = [t for t in result.get("trials", []) if t.get("probe")]
    if trials:
        fig, ax = plt.subplots(figsize=(9, 1.2 + 0.5 * len(trials)))
        colours = ["tab:blue", "tab:purple", "tab:brown", "tab:olive"]
        seen: dict[str, str] = {}
        for i, t in enumerate(trials):
            runs = t.get("responders") or [[min(t["probe"]), max(t["probe"]), "probe"]]
            for start, end, who in runs:
                first = str(who) not in seen
                colour = seen.setdefault(str(who), colours[len(seen) % len(colours)])
                xs = [x for x in t["probe"] if start - 0.006 <= x <= end + 0.006]
                ax.plot(
                    xs,
                    [i] * len(xs),
                    "|",
                    color=colour,
                    markersize=10,
                    label=f"replies from {who}" if first else None,
                )
            for key, colour in (
                ("last_advert_before_s", "tab:gray"),
                ("first_new_advert_s", "tab:green"),
                ("first_garp_s", "tab:orange"),
            ):
                if t.get(key) is not None:
                    ax.plot([t[key]], [i + 0.25], "v", color=colour, label=key if i == 0 else None)
        ax.axvline(0, color="tab:red", label="fault")
        ax.set_yticks(range(len(trials)), [f"trial {i + 1}" for i in range(len(trials))])
        ax.set_xlabel("seconds from the fault (probe replies)")
        ax.set_title(f"{result['scenario']}: probe replies around the fault")
        ax.legend(loc="upper right", fontsize="small")
        fig.tight_layout()
        made.append(_save(fig, run_dir / "timeline.png"))
        plt.close(fig)
    counters = run_dir / "counters.json"
    if counters.exists():
        samples = json.loads(counters.read_text())
        fig, ax = plt.subplots(figsize=(9, 4))
        totals = {}
        for host, rows in sorted(samples.items()):
            if len(rows) < 2:
                continue
            t0 = rows[0][0]
            xs = [r[0] - t0 for r in rows[1:]]
            rates = [
                ((b[1] + b[2]) - (a[1] + a[2])) * 8 / max(b[0] - a[0], 1e-3) / 1e6
                for a, b in itertools.pairwise(rows)
            ]
            totals[host] = (rows[-1][1] - rows[0][1], rows[-1][2] - rows[0][2])
            if max(rates, default=0) > 0.05:
                ax.plot(xs, rates, label=host)
        ax.set_xlabel("seconds")
        ax.set_ylabel("Mbit/s (rx + tx)")
        ax.set_title("throughput per host interface")
        ax.legend(fontsize="small")
        fig.tight_layout()
        made.append(_save(fig, run_dir / "throughput.png"))
        plt.close(fig)
        fig, ax = plt.subplots(figsize=(8, 4))
        hosts = sorted(totals)
        ax.bar(hosts, [totals[h][0] / 1e6 for h in hosts], label="received")
        ax.bar(
            hosts,
            [totals[h][1] / 1e6 for h in hosts],
            bottom=[totals[h][0] / 1e6 for h in hosts],
            label="sent",
        )
        ax.set_ylabel("MB")
        ax.set_title("bytes per host over the run (Direct Routing: balancers carry little)")
        ax.legend()
        fig.tight_layout()
        made.append(_save(fig, run_dir / "dr_split.png"))
        plt.close(fig)
    return made


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=100)
    return path


def load_result(run_dir: Path) -> dict[str, Any]:
    from lablb.errors import LablbError

    path = run_dir / "result.json" if run_dir.is_dir() else run_dir
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise LablbError(f"{path}: not a result ({exc})") from None
    if data.get("schema") != "lablb.result/1":
        raise LablbError(f"{path}: schema {data.get('schema')!r}, expected lablb.result/1")
    return data
