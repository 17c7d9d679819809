"""keepalived's line preprocessor: conditional lines, parameters, sequences, with
the numbers of the lines they came from; bounded so nothing can hang."""

from __future__ import annotations

import pytest

from lablb.config.preprocess import MAX_DEPTH, Preprocessor


def lines(text: str, config_id: str = "lb01") -> tuple[list[tuple[int, str]], list[str]]:
    pre = Preprocessor(config_id)
    out = list(pre.lines(text, "/etc/keepalived/k.conf"))
    return out, [d.code for d in pre.diagnostics]


def test_conditional_lines_follow_the_config_id() -> None:
    text = "@lb01 router_id A\n  @lb02 router_id B\n@^lb01 x\n@^lb02 y\nz\n"
    assert lines(text)[0] == [(1, "router_id A"), (4, "y"), (5, "z")]
    assert lines(text, "lb02")[0] == [(2, "router_id B"), (3, "x"), (5, "z")]


def test_parameters_expand_late_and_recursively() -> None:
    text = "$BASE=10.2.${SUB}\n$SUB=0\n${BASE}.100/32\n$SUB=10\n${BASE}.100/32\n"
    assert lines(text)[0] == [(3, "10.2.0.100/32"), (5, "10.2.10.100/32")]


def test_a_bare_parameter_needs_white_space_after_it() -> None:
    text = "$IF=eth0\ninterface $IF\nx $IFx\n"
    assert lines(text)[0] == [(2, "interface eth0"), (3, "x $IFx")]


def test_an_undefined_parameter_stays_and_is_reported_outside_comments() -> None:
    out, codes = lines("priority ${PRIO}\n# ${ALSO} in a comment\n")
    assert out == [(1, "priority ${PRIO}"), (2, "# ${ALSO} in a comment")]
    assert codes == ["undefined-parameter"]


def test_a_multiline_definition_expands_to_its_lines() -> None:
    text = "$VIPS= \\\n  10.0.0.1/24 \\\n  10.0.0.2/24\nvirtual_ipaddress {\n$VIPS\n}\n"
    out, _ = lines(text)
    assert [t.strip() for _, t in out] == ["virtual_ipaddress {", "10.0.0.1/24", "10.0.0.2/24", "}"]
    assert [n for n, _ in out] == [4, 5, 5, 6]


def test_conditionals_inside_a_definition_count_only_in_the_first_column() -> None:
    # keepalived 2.2.7: an indented '@' line of a multiline definition is a keyword.
    text = "$P=\\\n@lb02 priority 1\n$Q=\\\n  @lb02 priority 2\n$P\n$Q\n"
    assert lines(text)[0] == [(6, "  @lb02 priority 2")]


@pytest.mark.parametrize(
    ("spec", "values"),
    [
        ("~SEQ(N, 0, 3)", ["0", "1", "2", "3"]),
        ("~SEQ(N, 3)", ["1", "2", "3"]),
        ("~SEQ(N, 10, -5, 0)", ["10", "5", "0"]),
        ("~SEQx(N, 0x90, 0x10, 0xc0)", ["90", "a0", "b0", "c0"]),
        ("~LST(N, a, b)", ["a", "b"]),
    ],
)
def test_sequences_and_lists(spec: str, values: list[str]) -> None:
    assert [t for _, t in lines(f"{spec} v${{N}}\n")[0]] == [f" v{v}" for v in values]


def test_nested_sequences_and_multi_variable_lists() -> None:
    out, _ = lines("~LST({A, B}, {1, 2}, {3, 4}) ~SEQ(C, 1, 2) ${A}.${B}.${C}\n")
    assert [t.strip() for _, t in out] == ["1.2.1", "1.2.2", "3.4.1", "3.4.2"]


@pytest.mark.parametrize("spec", ["~SEQ(N, 1, 0, 5)", "~SEQ(N, a)", "~LST(N)", "~SEQ(N, 1"])
def test_a_bad_sequence_is_reported(spec: str) -> None:
    out, codes = lines(f"{spec} x\n")
    assert out == [] and codes == ["bad-sequence"]


def test_a_self_referring_parameter_is_bounded() -> None:
    out, codes = lines("$A=x ${A}\n${A}\n")
    assert codes == ["expansion-depth"] and out == []
    assert MAX_DEPTH < 100


def test_expansion_is_bounded_in_lines() -> None:
    out, codes = lines("~SEQ(A, 1, 65536) ~SEQ(B, 1, 65536) x\n")
    assert codes == ["expansion-size"] and len(out) <= 200_000
