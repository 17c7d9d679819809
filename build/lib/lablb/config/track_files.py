"""Global ``track_file`` blocks as typed values, for FILE_CHECK. Pure.

keepalived.conf(5), "Track files": a file holding a number, read whenever it changes.
The parser validates the blocks and keeps them whole (the VRRP side of lablb does not
track files); this module reads what a real server's FILE_CHECK needs from them::

    track_file NAME {
        file PATH                  # the file to read
        weight W [reverse]         # default 1
        init_file [VALUE] [overwrite]
    }
"""

from __future__ import annotations

from dataclasses import dataclass

from lablb.config import model as m

TRACK_FILE_BLOCKS = ("track_file", "vrrp_track_file")  # the second a deprecated synonym
WEIGHT_FAULT = -(2**31)  # keepalived's IPVS_WEIGHT_FAULT: at or below it, the checker fails


@dataclass(frozen=True)
class TrackFile:
    name: str
    path: str
    weight: int = 1
    reverse: bool = False
    init_value: int | None = None  # init_file: written at start if the file is absent
    overwrite: bool = False  # init_file ... overwrite: written even if it exists


def track_files(config: m.KeepalivedConfig) -> dict[str, TrackFile]:
    """Every declared track file that names a file, by name."""
    out: dict[str, TrackFile] = {}
    for u in config.unsupported:
        if u.keyword not in TRACK_FILE_BLOCKS or not u.args:
            continue
        fields: dict[str, tuple[str, ...]] = {
            st.name: tuple(t.text for t in st.args) for st in u.statements
        }
        path = fields.get("file", ())
        if not path:
            continue
        weight = fields.get("weight", ("1",))
        init = fields.get("init_file")
        init_value = None
        if init is not None:
            numbers = [a for a in init if a != "overwrite"]
            init_value = int(numbers[0]) if numbers else 0
        out[u.args[0]] = TrackFile(
            u.args[0],
            path[0],
            int(weight[0]),
            weight[1:2] == ("reverse",),
            init_value,
            init is not None and "overwrite" in init,
        )
    return out


def file_status(value: int, weight: int, reverse: bool) -> int | None:
    """What a tracked value means for one FILE_CHECK (keepalived's check_file.c and
    track_file.c): None when the checker fails, else the weight it adds to the real
    server. With weight 0, any non-zero value is a failure (0 with ``reverse``); with a
    weight, value x weight (negated with ``reverse``) is added, failing only at
    keepalived's fault weight."""
    if weight == 0:
        failed = (value != 0) != reverse
        return None if failed else 0
    status = value * weight * (-1 if reverse else 1)
    return None if status <= WEIGHT_FAULT else status


def parse_value(text: str) -> int:
    """The number a track file holds (keepalived reads it with strtol: leading blanks, a
    sign, digits; anything else, or nothing, is 0), clamped to a 32-bit int."""
    s = text.strip().split("\n", 1)[0].strip()
    sign = -1 if s.startswith("-") else 1
    digits = ""
    for ch in s.lstrip("+-"):
        if not ch.isdigit():
            break
        digits += ch
    value = sign * int(digits) if digits else 0
    return max(-(2**31), min(2**31 - 1, value))
