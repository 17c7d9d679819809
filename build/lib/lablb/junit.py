"""A run's result as JUnit XML, for a CI server to show (``lablb run --junit FILE``).

Pure: a ``RunResult`` in, the XML text out; the CLI writes it. One
``testsuite`` per run, one ``testcase`` per trial and bounded quantity ("trial 3:
takeover_s in [0.0061, 0.0077]"), one more per trial for what it found that no bound
names (the probes' problems, an error), and one for the run itself (the lab did not
come up). A quantity outside its bound is a ``failure`` whose message says by how
much; one not measured is a failure too (a measurement that did not happen is never a
pass). The verdict is the run's: this module does not judge, it reports.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from lablb.measure.result import RunResult


def junit_xml(result: RunResult) -> str:
    name = f"lablb {result.scenario} ({result.topology}, {result.engine})"
    suite = ET.Element("testsuite", name=name)
    cases: list[ET.Element] = []
    classname = f"lablb.{result.scenario}"

    def case(title: str, failure: str | None = None, text: str = "") -> None:
        el = ET.Element("testcase", classname=classname, name=title)
        if failure is not None:
            ET.SubElement(el, "failure", message=failure).text = text or failure
        cases.append(el)

    run_failures = result.run_failures
    case("run", run_failures[0] if run_failures else None, "\n".join(run_failures))
    for i, trial in enumerate(result.trials, start=1):
        for quantity, (low, high) in trial.bounds_over(result.bounds).items():
            title = f"trial {i}: {quantity} in [{low:.4f}, {high:.4f}]"
            value = trial.measured.get(quantity)
            if value is None:
                case(title, f"{quantity} not measured")
            elif not low <= value <= high:
                off = value - high if value > high else low - value
                case(title, f"{quantity} {value:.6f} s, {off * 1000:.3f} ms outside the bound")
            else:
                case(f"{title}: {value:.6f}")
        found = trial.problems
        case(f"trial {i}: no problem", found[0] if found else None, "\n".join(found))
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", "0")
    suite.set("time", f"{result.duration_s or 0.0:.3f}")
    suite.extend(cases)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
