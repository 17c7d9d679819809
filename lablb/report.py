"""A run directory, written up: the one-screen summary (pure) and the plots (matplotlib,
files only). ``lablb report DIR`` calls both again on a finished run."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from lablb.measure.result import RunResult, Trial
from lablb.measure.stats import STATS


def summary(result: RunResult, verdict: bool = True) -> str:
    """Measured against bound, per quantity, and (with ``verdict``) what failed and the
    verdict: one screen. A bound that trials widened on their own (probe resolution, a
    daemon's start) shows the widest any trial had, marked with *."""
    lines = [
        f"scenario {result.scenario}  topology {result.topology}  engine "
        f"{result.engine}  trials {len(result.trials)}",
        "parameters: " + ", ".join(f"{k}={v}" for k, v in result.parameters.items()),
        "",
        f"{'quantity':<18}{'bound (s)':>21}  " + "".join(f"{s:>9}" for s in STATS) + "  in bound",
    ]
    trials = result.trials
    marked = False
    for name, (low, high) in result.bounds.items():
        st = result.stats.get(name)
        inside = 0
        lows, highs = [low], [high]
        for t in trials:
            lo, hi = t.bounds_over(result.bounds)[name]
            lows.append(lo)
            highs.append(hi)
            v = t.measured.get(name)
            inside += v is not None and lo <= v <= hi
        widened = min(lows) < low - 1e-6 or max(highs) > high + 1e-6
        marked = marked or widened
        text = f"[{min(lows):.3f}, {max(highs):.3f}]" + ("*" if widened else " ")
        row = "".join(f"{st[s]:>9.3f}" for s in STATS) if st else f"{'not measured':>36}"
        lines.append(f"{name:<18}{text:>21}  {row}  {inside}/{len(trials)}")
    if marked:
        lines.append("* the widest of the trials' own bounds")
    for note in result.notes[:2]:
        lines.append(f"slack: {note}" if note.startswith("epsilon") else note)
    ignored = result.config_warnings
    if ignored:
        lines.append(f"config: {len(ignored)} line(s) keepalived ignores and runs without "
                     f"(as the lab did), first: {ignored[0]}")  # fmt: skip
    lines += [f"stand-in: {s}" for s in result.stand_ins]
    lines += remeasured_lines(result)
    extra = _extras(result)
    if extra:
        lines += ["", *extra]
    if verdict:
        lines += ["", *verdict_lines(result)]
    return "\n".join(lines)


MAX_FAILURES_SHOWN = 8


def remeasured_lines(result: RunResult) -> list[str]:
    """A line per attempt the runner measured again: what failed and what the machine
    did meanwhile (``lablb.measure.disturbance``)."""
    lines = []
    for t in result.remeasured:
        why = t.judge(result.bounds)
        lines.append(
            f"trial {t.get('trial')} measured again: its first attempt failed"
            f" ({why[0] if why else '?'}) while {t.disturbed[0]}"
            + (f" (and {len(t.disturbed) - 1} more)" if len(t.disturbed) > 1 else "")
        )
    return lines


def verdict_lines(result: RunResult) -> list[str]:
    """What failed (``trial N: quantity measured not in [low, high]``, at most
    ``MAX_FAILURES_SHOWN``, the rest counted) and the verdict: a run's last screen, on
    stdout after its table or on stderr after ``--json``."""
    failures = result.failures
    lines = [f"  ! {f}" for f in failures[:MAX_FAILURES_SHOWN]]
    if len(failures) > MAX_FAILURES_SHOWN:
        lines.append(f"  ! ... and {len(failures) - MAX_FAILURES_SHOWN} more (result.json)")
    verdict = result.verdict.upper()
    if failures:
        verdict += f": {len(failures)} failure{'s' * (len(failures) > 1)}, first {failures[0]}"
    return [*lines, f"verdict: {verdict}"]


def _ms(v: object) -> str:
    return f"{float(v) * 1000:+.1f} ms" if isinstance(v, int | float) else "-"


def _json(value: object) -> Any:
    """What a trial kept, as JSON keeps it: read where it is plotted or printed (the
    one edge of this module that is not typed)."""
    return value


def _extras(result: RunResult) -> list[str]:
    """Per trial, the parts of the outage in order (failover family), or a few
    measurements worth a line that are not bounded quantities."""
    out = []
    for i, t in enumerate(result.trials):
        tl = _json(t.data.get("timeline"))
        if tl:
            steal = t.get("cpu_steal_s")
            stolen = ""
            if isinstance(steal, float) and steal:  # the hypervisor's, when there was any
                stolen = f"; CPU stolen {steal * 1000:.0f} ms"
            out.append(
                f"trial {i + 1}: {t.get('new_master') or 'nobody'} took over. From the fault:"
                f" last answer {_ms(tl.get('last_answer_before_s'))}, old master's last advert"
                f" {_ms(tl.get('old_master_last_advert_s'))}, takeover advert"
                f" {_ms(tl.get('takeover_advert_s'))}, GARP {_ms(tl.get('first_garp_s'))},"
                f" first answer through it {_ms(tl.get('first_answer_new_master_s'))}{stolen}"
            )
            continue
        bits = []
        for key in ("injected_s", "measured_s", "client_errors", "method", "dr_share",
                    "two_masters_s"):  # fmt: skip
            v = t.get(key)
            if v is not None:
                bits.append(f"{key}={v:.4f}" if isinstance(v, float) else f"{key}={v}")
        if bits:
            out.append(f"trial {i + 1}: " + "  ".join(bits))
    return out[:6]


PALETTE = ("tab:blue", "tab:purple", "tab:brown", "tab:olive", "tab:cyan", "tab:pink")
MAX_PLOTTED_TRIALS = 10


def plots(run_dir: Path, result: RunResult) -> list[Path]:
    """The plots a run has something to show for: ``timeline.png`` when trials carry
    probe answers (who answered each probe around the fault, the takeover from the
    capture and the bound as a band), ``throughput.png`` and ``dr_split.png`` when
    trials moved bytes through the cluster (stream)."""
    import matplotlib

    matplotlib.use("Agg")
    made = []
    trials = [t for t in result.trials if t.data.get("responders")]
    if trials:
        made.append(_timeline(run_dir / "timeline.png", result, trials[:MAX_PLOTTED_TRIALS]))
    counters = run_dir / "counters.json"
    if counters.exists() and any(t.get("bytes") for t in result.trials):
        method = next((t.get("method") for t in result.trials if t.get("method")), "DR")
        made += _throughput(run_dir, json.loads(counters.read_text()), str(method))
    return made


def _timeline(path: Path, result: RunResult, trials: list[Trial]) -> Path:
    import matplotlib.pyplot as plt

    fig = timeline_figure(result, trials)
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def timeline_figure(result: RunResult, trials: list[Trial]) -> Any:
    """Who answered each probe around the fault, per trial, against the bound; the
    legend under the axis label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lanes = [("icmp", "outage_s", "L3 (cluster VIP)"), ("tcp", "service_outage_s", "service")]
    fig, ax = plt.subplots(figsize=(10, 2.0 + 0.9 * len(trials)))
    colours: dict[str, str] = {}
    labelled: set[str] = set()
    right = 0.0
    for i, t in enumerate(trials):
        for j, (kind, name, lane) in enumerate(lanes):
            y = i * 3 + j
            for start, end, who in _json(t.data["responders"]).get(kind, []):
                colour = colours.setdefault(str(who), PALETTE[len(colours) % len(PALETTE)])
                label = f"answered by {who}" if who not in labelled else None
                labelled.add(str(who))
                ax.plot(
                    [start, end],
                    [y, y],
                    color=colour,
                    linewidth=6,
                    label=label,
                    solid_capstyle="butt",
                )
            probe = _json(t.data.get("probes") or {}).get(kind) or {}
            judged = probe.get("judged")
            bound = t.bounds_over(result.bounds).get(name)
            if judged is not None and bound:
                gap = probe["gaps"][judged]
                lo, hi = gap["start_s"] + bound[0], gap["start_s"] + bound[1]
                ax.fill_betweenx(
                    [y - 0.4, y + 0.4],
                    lo,
                    hi,
                    color="tab:green",
                    alpha=0.25,
                    label="bound: the outage must end here" if i == j == 0 else None,
                )
                right = max(right, hi)
            ax.text(0, y + 0.35, f" {lane}", fontsize=7, va="bottom")
        tl = _json(t.data.get("timeline") or {})
        for key, colour, what in (
            ("takeover_advert_s", "tab:green", "new master's first advert"),
            ("first_garp_s", "tab:orange", "its first GARP"),
            ("old_master_last_advert_s", "tab:gray", "old master's last advert"),
        ):
            if tl.get(key) is not None:
                ax.plot([tl[key]], [i * 3 + 1.6], "v", color=colour, label=what if i == 0 else None)
                right = max(right, tl[key])
        injected = t.get("injected_s")
        if isinstance(injected, int | float):
            ax.fill_betweenx(
                [i * 3 - 0.5, i * 3 + 1.5],
                0,
                injected,
                color="tab:red",
                alpha=0.15,
                label="injected drop" if i == 0 else None,
            )
            right = max(right, injected)
    ax.axvline(0, color="tab:red", linewidth=1, label="fault instant")
    span = right if right > 0 else 1.0
    ax.set_xlim(-0.15 * span, 1.25 * span)
    ax.set_yticks(
        [i * 3 + 0.5 for i in range(len(trials))], [f"trial {i + 1}" for i in range(len(trials))]
    )
    ax.set_xlabel("seconds from the fault (kernel timestamps, CLOCK_REALTIME)")
    ax.set_title(f"{result.scenario}: who answered the probes, against the bound")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize="x-small", ncol=4)
    ax.invert_yaxis()
    fig.tight_layout()
    return fig


SPLIT_TITLES = {  # what the bytes per host show, by lvs_method
    "DR": "Direct Routing: balancers carry little",
    "TUN": "LVS-TUN: balancers carry the requests, in IPIP",
    "NAT": "LVS-NAT: the download crosses the balancers",
}


def _throughput(
    run_dir: Path, samples: dict[str, list[list[float | None]]], method: str = "DR"
) -> list[Path]:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    totals = {}
    for host, raw in sorted(samples.items()):
        rows = [r for r in raw if None not in r]
        if len(rows) < 2:
            continue
        t0 = rows[0][0]
        assert t0 is not None
        xs = [float(r[0] or 0) - t0 for r in rows[1:]]
        rates = [
            (float(b[1] or 0) + float(b[2] or 0) - float(a[1] or 0) - float(a[2] or 0))
            * 8
            / max(float(b[0] or 0) - float(a[0] or 0), 1e-3)
            / 1e6
            for a, b in itertools.pairwise(rows)
        ]
        totals[host] = (
            float(rows[-1][1] or 0) - float(rows[0][1] or 0),
            float(rows[-1][2] or 0) - float(rows[0][2] or 0),
        )
        if max(rates, default=0) > 0.05:
            ax.plot(xs, rates, label=host)
    ax.set_xlabel("seconds")
    ax.set_ylabel("Mbit/s (rx + tx)")
    ax.set_title("throughput per host interface")
    ax.legend(fontsize="small")
    fig.tight_layout()
    made = [_save(fig, run_dir / "throughput.png")]
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
    ax.set_title(f"bytes per host over the run ({SPLIT_TITLES.get(method, method)})")
    ax.legend()
    fig.tight_layout()
    made.append(_save(fig, run_dir / "dr_split.png"))
    plt.close(fig)
    return made


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=100)
    return path


def load_result(run_dir: Path) -> RunResult:
    """A run's result.json (or the file itself), typed, its schema brought up to date;
    ``UsageError`` for anything that is not one (bad input, never a failed run)."""
    from lablb.errors import UsageError
    from lablb.measure.result import SCHEMA, SCHEMA_2

    path = run_dir / "result.json" if run_dir.is_dir() else run_dir
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a result ({exc})") from None
    schema = data.get("schema") if isinstance(data, dict) else None
    if schema not in (SCHEMA, SCHEMA_2):
        raise UsageError(f"{path}: schema {schema!r}, expected {SCHEMA}")
    return RunResult.from_json(data, path.parent)
