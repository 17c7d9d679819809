"""What a video player would have seen, from a download's arrival log. Pure.

A player starts once ``prebuffer`` seconds of video have arrived, then consumes
``bitrate`` bits per second; when it reaches the end of what has arrived before the end
of the file it stalls until ``prebuffer`` seconds are buffered again. The arrival log is
(seconds, bytes received so far) samples. A stall still open at the end of the log
(the download died) counts to the end, and is flagged: it never ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Playback:
    startup_s: float  # from the first sample to the start of playback
    stalls: int
    stall_s: float  # total time stalled after playback started (an open stall counts)
    complete: bool
    open_stall: bool = False  # stalled at the end of the log and never resumed


def play(
    samples: Sequence[tuple[float, int]], bitrate: float, size: int, prebuffer: float = 2.0
) -> Playback:
    """Replay the arrival log against a player consuming ``bitrate`` bit/s."""
    if not samples:
        return Playback(0.0, 0, 0.0, False)
    rate = bitrate / 8  # bytes per second of video
    need = prebuffer * rate
    t0 = samples[0][0]
    playing, pos, last_t = False, 0.0, t0
    startup = stall_total = 0.0
    stalls = 0
    stalled_since: float | None = None
    for t, got in samples:
        if playing:
            pos = min(pos + (t - last_t) * rate, float(size))
            if pos >= got and got < size:  # ran dry
                pos = float(got)
                playing, stalled_since = False, t
                stalls += 1
        if not playing and (got - pos >= min(need, size - pos) or got >= size):
            playing = True
            if stalled_since is None:
                startup = t - t0
            else:
                stall_total += t - stalled_since
                stalled_since = None
        last_t = t
    complete = samples[-1][1] >= size
    open_stall = stalled_since is not None
    if open_stall:
        assert stalled_since is not None
        stall_total += last_t - stalled_since  # a stall that never ended is not no stall
    return Playback(round(startup, 3), stalls, round(stall_total, 3), complete, open_stall)
