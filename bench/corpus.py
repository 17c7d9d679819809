"""``sudo .venv/bin/python -m bench.corpus``: every real-world-shaped single file of the
corpus (``tests/corpus/rw-*.conf``) given to ``lablb run failover --config FILE``, as a
network team would give it, once per engine. A sweep, not a test: it writes a JSON and a
markdown table and exits 0 whatever it finds. One lab at a time: never beside the
tests.

For each file and engine: what keepalived 2.2.7's ``-t`` says of it (recorded in
``tests/corpus/verdicts.tsv``), and what lablb did: ran (and its verdict against the
bounds the file's own timers imply: the crash of the master, pre-emption off to keep
the sweep short) or refused, with the one line it said. A file keepalived would start
with (``-t`` 0, or its errors 5 and 6, which it runs past) that the lab refuses must
say why in that line; ``refused`` is then the lab's limit, named.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lablb.measure.result import RunResult

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "corpus"
RESULTS = Path(__file__).resolve().parent / "results"
ENGINES = ("lablb", "keepalived")
RUN_TIMEOUT_S = 300.0
STARTS = {0: "valid", 5: "errors, runs past them", 6: "script security, runs"}


def keepalived_verdicts() -> dict[str, int]:
    out = {}
    for line in (CORPUS / "verdicts.tsv").read_text().splitlines():
        if line and not line.startswith("#"):
            name, code = line.split("\t")[:2]
            out[name] = int(code)
    return out


def one(path: Path, engine: str, out: Path) -> dict[str, Any]:
    """One file through ``lablb run failover --config`` with ``engine``."""
    argv = [sys.executable, "-m", "lablb", "run", "failover", "--config", str(path),
            "--engine", engine, "--param", "fault=crash", "--param", "preempt=no",
            "--json", "--out", str(out)]  # fmt: skip
    t0 = time.monotonic()
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                             check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"outcome": "timeout", "seconds": RUN_TIMEOUT_S}
    row: dict[str, Any] = {"exit": res.returncode, "seconds": round(time.monotonic() - t0, 1)}
    last = (res.stderr.strip().splitlines() or [""])[-1]
    try:
        result = RunResult.from_json(json.loads(res.stdout))
    except json.JSONDecodeError:
        row.update(outcome="refused", said=last, lines=len(res.stderr.strip().splitlines()))
        return row
    row.update(outcome=result.verdict, failures=result.failures[:3],
               warnings=len(result.config_warnings), stand_ins=result.stand_ins,
               topology=result.topology)  # fmt: skip
    if result.trials:
        t = result.trials[0]
        bound = result.bounds.get("takeover_s")
        row.update(outage_s=t.measured.get("outage_s"), takeover_s=t.measured.get("takeover_s"),
                   bound=list(bound) if bound else None)  # fmt: skip
    return row


def table(rows: dict[str, dict[str, Any]], verdicts: dict[str, int]) -> list[str]:
    lines = ["| file | keepalived -t | " + " | ".join(ENGINES) + " |",
             "|---|---|" + "---|" * len(ENGINES)]  # fmt: skip
    for name, per in sorted(rows.items()):
        code = verdicts.get(f"{name}.conf")
        cells = []
        for engine in ENGINES:
            r = per.get(engine, {})
            if r.get("outcome") == "refused":
                cells.append(f"refused: {r.get('said', '')[:140]}")
            elif r.get("outcome") in ("pass", "fail"):
                tk = r.get("takeover_s")
                cells.append(r["outcome"] + (f" (takeover {tk:.4f} s)" if tk else ""))
            else:
                cells.append(str(r.get("outcome", "-")))
        joined = " | ".join(c.replace("|", "/") for c in cells)
        lines.append(f"| {name} | {code} | {joined} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.corpus", description=__doc__.split("\n")[0])
    p.add_argument("--engines", default=",".join(ENGINES))
    p.add_argument("--only", default="", help="comma-separated file stems (default: all)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    engines = [e for e in args.engines.split(",") if e]
    files = sorted(CORPUS.glob("rw-*.conf"))
    if args.only:
        keep = set(args.only.split(","))
        files = [f for f in files if f.stem in keep]
    verdicts = keepalived_verdicts()
    stem = time.strftime("corpus-%Y%m%d-%H%M%S")
    runs = Path("/tmp") / f"lablb-{stem}"
    rows: dict[str, dict[str, Any]] = {}
    for i, f in enumerate(files):
        for engine in engines:
            print(f"  .. {time.strftime('%H:%M:%S')} {i + 1}/{len(files)} {f.stem} {engine}",
                  flush=True)  # fmt: skip
            rows.setdefault(f.stem, {})[engine] = one(f, engine, runs)
            r = rows[f.stem][engine]
            said = r.get("said") or r.get("failures") or ""
            print(f"     {r.get('outcome')}: {said}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    doc = {"schema": "lablb.corpus/1", "started": time.time(), "engines": engines,
           "keepalived_t": {f.stem: verdicts.get(f.name) for f in files}, "rows": rows}  # fmt: skip
    (args.out / f"{stem}.json").write_text(json.dumps(doc, indent=2) + "\n")
    (args.out / f"{stem}.md").write_text("\n".join(table(rows, verdicts)) + "\n")
    print("\n".join(table(rows, verdicts)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
