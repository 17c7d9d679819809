"""``sudo .venv/bin/python -m bench.checkers``: every checker kind with every failure the
healthcheck scenario can give it (its ``FAILS``), each through
``lablb run healthcheck --param checks=fast --param checker=KIND --param failure=F``,
as the suite's ``tests/lab/test_checkers_lab.py`` runs one failure per kind. A sweep,
not a test: it writes a JSON and a markdown table and exits 0 whatever it finds. One
lab at a time: never beside the tests. About 20 s a cell.

Per cell: the verdict against the bounds the run derived from the checker's timings,
the detection and recovery it measured, and the bounds they had to fall in.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
RUN_TIMEOUT_S = 300.0


def one(checker: str, failure: str, out: Path) -> dict[str, Any]:
    argv = [sys.executable, "-m", "lablb", "run", "healthcheck", "--json", "--out", str(out),
            "--param", "checks=fast", "--param", f"checker={checker}",
            "--param", f"failure={failure}"]  # fmt: skip
    t0 = time.monotonic()
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                             check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"checker": checker, "failure": failure, "outcome": "timeout"}
    row: dict[str, Any] = {"checker": checker, "failure": failure, "exit": res.returncode,
                           "seconds": round(time.monotonic() - t0, 1)}  # fmt: skip
    try:
        result = json.loads(res.stdout)
    except json.JSONDecodeError:
        lines = res.stderr.strip().splitlines()
        row.update(outcome="error", said=lines[-1] if lines else "")
        return row
    trial = (result.get("trials") or [{}])[0]
    keys = ("detection_s", "recovery_s")
    row.update(outcome=result["verdict"], failures=result["failures"][:3],
               bounds={k: result["bounds"].get(k) for k in keys},
               **{k: trial.get(k) for k in keys})  # fmt: skip
    return row


def table(rows: list[dict[str, Any]]) -> list[str]:
    def span(b: list[float] | None) -> str:
        return f"[{b[0]:.2f}, {b[1]:.2f}]" if b else "-"

    def secs(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}"

    out = ["| checker | failure | verdict | detection s (bound) | recovery s (bound) |",
           "|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        b = r.get("bounds") or {}
        out.append(f"| {r['checker']} | {r['failure']} | {r['outcome']} "
                   f"| {secs(r.get('detection_s'))} {span(b.get('detection_s'))} "
                   f"| {secs(r.get('recovery_s'))} {span(b.get('recovery_s'))} |")  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.checkers",
                                description=__doc__.split("\n")[0])  # fmt: skip
    p.add_argument("--only", default="", help="comma-separated checker kinds (default: all)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    # The scenario's own table (imported by name: scenarios/ are files lablb loads too).
    fails: dict[str, tuple[str, ...]] = importlib.import_module("scenarios.healthcheck").FAILS
    kinds = [k for k in fails if k != "config" and (not args.only or k in args.only.split(","))]
    cells = [(k, f) for k in kinds for f in fails[k]]
    stem = time.strftime("checkers-%Y%m%d-%H%M%S")
    runs = Path("/tmp") / f"lablb-{stem}"
    rows = []
    for i, (kind, failure) in enumerate(cells):
        print(f"  .. {time.strftime('%H:%M:%S')} {i + 1}/{len(cells)} {kind} {failure}",
              flush=True)  # fmt: skip
        rows.append(one(kind, failure, runs))
        print(f"     {rows[-1]['outcome']}: {rows[-1].get('failures') or ''}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    doc = {"schema": "lablb.checkers/1", "started": time.time(), "rows": rows}
    (args.out / f"{stem}.json").write_text(json.dumps(doc, indent=2) + "\n")
    (args.out / f"{stem}.md").write_text("\n".join(table(rows)) + "\n")
    print("\n".join(table(rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
