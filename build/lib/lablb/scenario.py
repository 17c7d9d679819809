"""Scenarios: a fault injected into a live lab under traffic, measured against the bounds
the configuration implies. What a scenario file sees (``lablb.runner`` runs them).

A scenario is a class in ``scenarios/NAME.py`` (``SCENARIO = ...``), found by name like a
topology. Its docstring is its timeline; ``Params`` its knobs, a frozen dataclass whose
fields are ``param(default, help, choices or range)``, all checked before a lab starts
(a trial reads ``ctx.params.fault``, typed); ``bounds`` what the config promises
(name -> (low, high) seconds); ``trial`` one run of the fault, returning a ``Trial``
(``lablb.measure.result``): each bounded quantity in seconds, the trial's own bounds
where they depend on what it measured (e.g. the probe's resolution), its problems, and
anything worth keeping. A trial fails when a bounded quantity is missing or outside its
bound, or when it lists a problem.

All instants are CLOCK_REALTIME seconds as the kernel stamps packets (probe answers,
the capture); fault instants are read with clock_gettime in the runner, right after the
kernel call that made the fault; daemon logs (CLOCK_MONOTONIC) are shifted onto it.

A failover trial keeps ``probes`` (per probe: every gap, longest, total,
never_recovered), ``takeover_s``, ``timeline``, ``responders`` and the fault's
confirmation from the capture (``lablb.measure.failover``).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from lablb.errors import UsageError
from lablb.measure.result import Bounds
from lablb.paths import shipped

if TYPE_CHECKING:  # the lab layer imports Mininet: only the runner loads it, at run time
    from _typeshed import DataclassInstance

    from lablb.lab.capture import Capture
    from lablb.lab.cluster import Cluster
    from lablb.lab.faults import Faults
    from lablb.measure.result import Trial

__all__ = ["Bounds", "Context", "NoParams", "Param", "Scenario", "param", "scenario_class"]

P = TypeVar("P", bound="DataclassInstance")
ParamValue = str | int | float | bool
T = TypeVar("T", str, int, float, bool)


@dataclass(frozen=True)
class Param:
    """A scenario's knob: its default (whose type is the parameter's), what it means,
    and what it may be: ``choices`` for a word, ``low``/``high`` (inclusive) for a
    number. Every value is checked before any lab starts."""

    default: ParamValue
    help: str
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        self.check(self.default)  # a scenario's own default must be one of its values

    def describe(self) -> str:
        if self.choices:
            return "|".join(self.choices)
        kind = type(self.default).__name__
        if self.low is not None or self.high is not None:
            lo = "" if self.low is None else f"{self.low:g}"
            hi = "" if self.high is None else f"{self.high:g}"
            return f"{kind} {lo}..{hi}"
        return "yes|no" if isinstance(self.default, bool) else kind

    def parse(self, text: str) -> ParamValue:
        kind = type(self.default)
        if kind is bool:
            if text.lower() in ("1", "yes", "true", "on"):
                return True
            if text.lower() in ("0", "no", "false", "off"):
                return False
            raise ValueError(f"{text!r} is not yes/no")
        try:
            value = kind(text)
        except ValueError:
            raise ValueError(
                f"{text!r} is not {'an' if kind is int else 'a'} {kind.__name__}"
            ) from None
        self.check(value)
        return value

    def check(self, value: object) -> None:
        if self.choices and value not in self.choices:
            raise ValueError(f"{value!r} is not one of {', '.join(self.choices)}")
        if not isinstance(value, int | float):
            return
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        if self.low is not None and value < self.low:
            raise ValueError(f"{value:g} is below {self.low:g}")
        if self.high is not None and value > self.high:
            raise ValueError(f"{value:g} is above {self.high:g}")


def param(
    default: T,
    help: str,
    *,
    choices: tuple[str, ...] = (),
    low: float | None = None,
    high: float | None = None,
) -> T:
    """A field of a scenario's ``Params``: its default (whose type is the parameter's),
    what it means, what it may be (``Param``)."""
    knob = Param(default, help, choices, low, high)
    return field(default=default, metadata={"param": knob})


@dataclass(frozen=True)
class NoParams:
    """The parameters of a scenario that takes none."""


@dataclass
class Context(Generic[P]):
    """What a trial gets: the running cluster, the server LAN's capture, the faults the
    runner keeps (a scenario makes its faults with ``faults.new``; whatever a trial left
    injected is undone after it), the parameters (its ``Params``), where to write."""

    cluster: Cluster
    capture: Capture
    faults: Faults
    params: P
    out: Path
    progress: Callable[[str], None]
    notes: list[str] = field(default_factory=list)
    bounds: Bounds = field(default_factory=dict)  # the scenario's, computed once per run
    slack: dict[str, float] = field(default_factory=dict)  # the derived slack, if any


class Scenario(Generic[P]):
    """Base class; subclasses set ``name`` and ``Params`` and implement the hooks."""

    name = ""
    Params: type[P]  # a frozen dataclass of ``param`` fields
    #: parameters for a short run: the suite runs every scenario once with these
    quick: ClassVar[dict[str, str]] = {}

    doc = ""  # the scenario file's docstring, set when it is loaded

    @property
    def timeline(self) -> str:
        return (self.doc or self.__doc__ or "").strip()

    @property
    def params(self) -> dict[str, Param]:
        """Each parameter's ``Param``, in the order ``Params`` declares them."""
        return {f.name: f.metadata["param"] for f in dataclasses.fields(self.Params)}

    def values(self, params: P) -> dict[str, object]:
        """The parameters as result.json keeps them."""
        return {f.name: getattr(params, f.name) for f in dataclasses.fields(self.Params)}

    def trials_per_repeat(self, params: P) -> int:
        """How many trials one ``--repeat`` is (a soak: its cycles)."""
        return 1

    def video_mb(self, params: P) -> int | None:
        """The size of the MP4 the lab's web nodes serve, if the scenario needs one."""
        return None

    def check(self, params: P, hosts: dict[str, str]) -> None:
        """Parameters that depend on the lab (``hosts``: name -> role), checked before it
        starts; raise ``UsageError``."""

    def configure(self, configs: Path, params: P, out: Path) -> Path:
        """The config set to run; a scenario may derive one (written under ``out``)."""
        return configs

    def bounds(self, ctx: Context[P]) -> Bounds:
        raise NotImplementedError

    def trial(self, ctx: Context[P], index: int) -> Trial:
        raise NotImplementedError


def scenarios_dir() -> Path:
    path = shipped("scenarios", "LABLB_SCENARIOS")
    if not path.is_dir():
        raise UsageError(f"no scenarios folder at {path}; set LABLB_SCENARIOS")
    return path


def scenario_module(path: Path) -> Any:
    """The module of a scenario file, loaded once (a scenario may build on another's:
    ``scenario_class("failover")``)."""
    key = f"lablb_scenario_{path.stem}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot load scenario file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[key]
        raise
    return module


def scenario_class(name: str) -> type[Scenario[Any]]:
    """The class of scenario ``name`` (``scenarios/NAME.py``), to build on."""
    cls: type[Scenario[Any]] = scenario_module(scenarios_dir() / f"{name}.py").SCENARIO
    return cls


def all_scenarios() -> dict[str, Scenario[Any]]:
    found = {}
    for path in sorted(scenarios_dir().glob("*.py")):
        if path.name.startswith("_"):
            continue
        module = scenario_module(path)
        cls = getattr(module, "SCENARIO", None)
        if cls is not None:
            scenario = cls()
            scenario.doc = module.__doc__ or ""
            found[cls.name] = scenario
    return found


def get_scenario(name: str) -> Scenario[Any]:
    known = all_scenarios()
    if name not in known:
        raise UsageError(f"no scenario {name!r}; known: {', '.join(sorted(known)) or 'none'}")
    return known[name]


def parse_params(scenario: Scenario[P], pairs: list[str]) -> P:
    """``--param K=V`` texts, each parsed and checked, as the scenario's ``Params``."""
    values = {k: p.default for k, p in scenario.params.items()}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or key not in scenario.params:
            takes = ", ".join(f"{k}=<{p.describe()}>" for k, p in scenario.params.items())
            raise UsageError(
                f"--param {pair!r}: {scenario.name} takes " + (takes or "no parameters")
            )
        try:
            values[key] = scenario.params[key].parse(text)
        except ValueError as exc:
            raise UsageError(f"--param {key}: {exc}") from None
    return scenario.Params(**values)


def check_params(scenario: Scenario[P], given: Mapping[str, object]) -> P:
    """Typed values (from Python, e.g. ``LiveLab.run(..., interval=0.002)``) checked as
    ``--param`` text is: a known name, the default's type (an int where a float is
    due is taken), inside the choices or range; the defaults for the rest."""
    values = {k: p.default for k, p in scenario.params.items()}
    for key, raw in given.items():
        if key not in scenario.params:
            takes = ", ".join(f"{k}=<{p.describe()}>" for k, p in scenario.params.items())
            raise UsageError(f"{key}: {scenario.name} takes " + (takes or "no parameters"))
        param = scenario.params[key]
        kind = type(param.default)
        value: object = raw
        if kind is float and isinstance(raw, int) and not isinstance(raw, bool):
            value = float(raw)
        if type(value) is not kind:
            raise UsageError(f"{key}: {value!r} is not {'an' if kind is int else 'a'} "
                             f"{'yes/no' if kind is bool else kind.__name__}")  # fmt: skip
        try:
            param.check(value)
        except ValueError as exc:
            raise UsageError(f"{key}: {exc}") from None
        values[key] = value
    return scenario.Params(**values)


