"""Never a traceback: corpus files mutated at random (braces, parameters, sequences,
conditionals, odd spaces, absurd numbers, cut words, repeated lines) go through the
whole checker, and every mistake comes back as diagnostics."""

from __future__ import annotations

import contextlib
import random

import pytest

from lablb.config.files import MemoryReader
from lablb.config.lint import lint_carried, lint_cluster, lint_config
from lablb.config.load import parse
from lablb.config.render import Unrenderable, render
from lablb.config.runnable import refusals
from lablb.config.semantics import check_config
from tests import corpus
from tests.unit.test_corpus import fake_host

TOKENS = [
    "{", "}", "$X", "${X}", "$X=", "$Y=\\", "~SEQ(", "~SEQ(N,1,3) ", "~LST({a,b},{1,2}) ",
    "@lb01 ", "@^", "/999", "/", "::", "-", "\u00a0", '"', "'", "\\", "dev", "via", "fwmark",
    "group", "0", "-1", "99999999999999999999", "nan", "inf", "1e9999", "::1", "10.0.0.1-",
    "weight", "track_file", "include x", "\x00",
]  # fmt: skip
MUTANTS = 1500


def mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 6)):
        pos = rng.randrange(len(text) + 1)
        op = rng.random()
        if op < 0.4:
            text = text[:pos] + rng.choice(TOKENS) + text[pos:]
        elif op < 0.7:
            text = text[:pos] + text[pos + rng.randint(1, 20) :]
        else:
            lines = text.splitlines()
            if lines:
                lines.insert(rng.randrange(len(lines)), rng.choice(lines))
                text = "\n".join(lines)
    return text


@pytest.mark.parametrize("seed", [11, 5798])
def test_mutated_configs_never_raise(seed: int) -> None:
    rng = random.Random(seed)
    texts = [p.read_text() for p in corpus.files()]
    for _ in range(MUTANTS):
        text = mutate(rng, rng.choice(texts))
        files = {"/r/k.conf": text, "/r/x": "vrrp_instance"}
        parsed = parse("/r/k.conf", MemoryReader(files), corpus.CONFIG_ID)
        for d in parsed.diagnostics:
            assert d.format()
        if any(d.fatal for d in parsed.diagnostics):
            continue
        check_config(parsed.config, fake_host())
        lint_config(parsed.config)
        lint_cluster([parsed.config, parsed.config])
        lint_carried([parsed.config])
        refusals(parsed.config)
        if not parsed.errors:
            # A value keepalived's reader could not read back is Unrenderable, not a crash.
            with contextlib.suppress(Unrenderable):
                render(parsed.config)
