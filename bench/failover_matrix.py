"""The failover matrix: every engine pair x config set x fault, N trials each, through
``lablb run failover`` as a user runs it. A benchmark, not a test: it prints a table,
writes JSON, and exits 0 whatever it finds (CI does not run it; it takes long).

    sudo .venv/bin/python bench/failover_matrix.py [--repeat 20] [--out bench-runs]
        [--engines 'lablb;keepalived;lb01=lablb,lb02=keepalived;...']
        [--configs seed,seed-v3-100ms,seed-v3-10ms] [--faults crash,graceful]

One lab at a time: never run it beside the tests or another benchmark.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ENGINES = ["lablb", "keepalived", "lb01=lablb,lb02=keepalived", "lb01=keepalived,lb02=lablb"]
CONFIGS = ["seed", "seed-v3-100ms", "seed-v3-10ms"]
RUN_TIMEOUT_PER_TRIAL = 60.0


def one(engine: str, configs: str, fault: str, repeat: int, out: Path) -> dict[str, Any]:
    argv = [sys.executable, "-m", "lablb", "run", "failover", "--json", "--out", str(out)]
    argv += ["--engine", engine, "--configs", str(REPO / "topologies" / "configs" / configs)]
    argv += ["--param", f"fault={fault}", "--repeat", str(repeat)]
    t0 = time.monotonic()
    res = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=60 + RUN_TIMEOUT_PER_TRIAL * repeat,
        check=False,
    )
    row: dict[str, Any] = {
        "engine": engine,
        "configs": configs,
        "fault": fault,
        "seconds": round(time.monotonic() - t0),
    }
    try:
        result = json.loads(res.stdout)
    except ValueError:
        row.update(verdict="error", failures=[res.stderr.strip()[-300:]])
        return row
    trials = result["trials"]
    row.update(
        verdict=result["verdict"],
        passed=sum(1 for t in trials if t.get("verdict") == "pass"),
        trials=len(trials),
        zero=sum(1 for t in trials if t.get("outage_s") == 0.0),
        stats=result.get("stats", {}),
        failures=result.get("failures", [])[:10],
    )
    return row


def _ms(v: object) -> str:
    return f"{float(v):.4f}" if isinstance(v, int | float) else "-"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--out", default="bench-runs")
    p.add_argument("--engines", default=";".join(ENGINES), help="';'-separated --engine values")
    p.add_argument("--configs", default=",".join(CONFIGS))
    p.add_argument("--faults", default="crash,graceful")
    args = p.parse_args()
    engines = args.engines.split(";")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    print(
        f"{'engine':<28}{'configs':<15}{'fault':<10}{'in bound':>9}{'zeros':>6}"
        f"{'takeover median':>17}{'outage median':>15}  verdict"
    )
    for configs in args.configs.split(","):
        for engine in engines:
            for fault in args.faults.split(","):
                row = one(engine, configs, fault, args.repeat, out)
                rows.append(row)
                st = row.get("stats", {})
                tk = _ms(st.get("takeover_s", {}).get("median"))
                oc = _ms(st.get("outage_s", {}).get("median"))
                print(
                    f"{engine:<28}{configs:<15}{fault:<10}"
                    f"{row.get('passed', 0):>4}/{row.get('trials', 0):<4}{row.get('zero', 0):>6}"
                    f"{tk:>17}{oc:>15}"
                    f"  {row['verdict']}",
                    flush=True,
                )
                for f in row.get("failures", [])[:3]:
                    print(f"    ! {f}", flush=True)
                # After every row: a matrix cut short keeps what it measured.
                (out / "failover-matrix.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
