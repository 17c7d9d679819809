"""Config sets on disk, as the lab runs them: a set with model variants applied
(``derive``), and a set with what the lab must change to run it (``lab_scripts``), each
rendered back to keepalived.conf and loaded again. Above the loader and the renderer
(``lablb.config.files`` holds only the readers the loader uses).
"""

from __future__ import annotations

from pathlib import Path

from lablb.config import model as m
from lablb.config.edit import Variant, fwmark_as_addresses, nat_gateway, with_nat_gateway
from lablb.config.load import load, load_lenient
from lablb.config.local_service import stand_in_scripts
from lablb.config.programs import resolve
from lablb.config.render import render


def derive(configs: Path, out: Path, *variants: Variant) -> Path:
    """A copy of a config set with model variants applied, rendered under ``out/configs``
    (its bounds then follow from it). The source must load; so must the result."""
    dest = out / "configs"
    dest.mkdir(parents=True, exist_ok=True)
    for conf in sorted(configs.glob("*.conf")):
        config = load_lenient(str(conf))
        for variant in variants:
            config = variant(config)
        names = ", ".join(v.name for v in variants)
        text = render(config, header=f"{conf} with {names} (rendered by lablb)")
        (dest / conf.name).write_text(text)
        load(str(dest / conf.name))
    return dest


def lab_scripts(configs: Path, out: Path) -> tuple[Path, list[str]]:
    """The config set as the lab runs it: where a tracked script cannot run in the lab
    as written (``lablb.config.local_service.stand_in_scripts``: a process search in the
    hosts' shared process table, a program not on this machine), where a fwmark service
    stands as VIP:port (``lablb.config.edit.fwmark_as_addresses``), and where LVS-NAT's
    real servers have no gateway VIP (``lablb.config.edit.nat_gateway``), each node's
    file is rendered under ``out/lab-configs`` with the lab's change; otherwise the set
    itself. What was changed, a line per change (each once)."""
    files = sorted(configs.glob("*.conf"))
    changed: dict[Path, tuple[m.KeepalivedConfig, list[str]]] = {}
    said: dict[str, None] = {}
    for conf in files:
        model, done = stand_in_scripts(load_lenient(str(conf)), lambda p: resolve(p) is not None)
        lines = [str(d) for d in done if d.command is not None]
        model, marked = fwmark_as_addresses(model)
        lines += marked
        gw = nat_gateway(model)
        if gw is not None and gw.added:
            model = with_nat_gateway(model)
            lines.append(str(gw))
        if lines:
            changed[conf] = (model, lines)
        said.update((str(d), None) for d in done)
        said.update((line, None) for line in lines)
    if not changed:
        return configs, list(said)
    dest = out / "lab-configs"
    dest.mkdir(parents=True, exist_ok=True)
    for conf in files:
        if conf not in changed:
            # As it is: an include of the file where it is (its own includes resolve there).
            (dest / conf.name).write_text(f"! {conf.name}, as given\ninclude {conf.resolve()}\n")
            continue
        model, lines = changed[conf]
        said_here = "\n".join(f"  {line}" for line in lines)
        text = render(model, header=f"{conf} as the lab runs it (rendered by lablb):\n{said_here}")
        (dest / conf.name).write_text(text)
        load(str(dest / conf.name))
    return dest, list(said)
