"""``python -m lablb.player URL --out FILE --log LOG.json``: download a video
the way a player fetches it (one HTTP GET, optionally paced), logging arrival times and
the SHA-256. Edge: run in a lab client; ``lablb.measure.playback`` judges the log."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import urllib.error
import urllib.request

CHUNK = 64 * 1024
SAMPLE_EVERY = 0.05


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="lablb-player")
    p.add_argument("url")
    p.add_argument("--out", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--rate", type=float, default=0.0, help="bytes/s to fetch at (0: as fast)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds without data: give up")
    p.add_argument("--max-time", type=float, default=600.0)
    args = p.parse_args(argv)
    h = hashlib.sha256()
    samples: list[tuple[float, int]] = []
    got, error, size = 0, None, None
    start = time.monotonic()
    try:
        with (
            urllib.request.urlopen(args.url, timeout=args.timeout) as resp,
            open(args.out, "wb") as f,
        ):
            size = int(resp.headers.get("Content-Length", 0)) or None
            samples.append((time.monotonic(), 0))
            while True:
                if time.monotonic() - start > args.max_time:
                    error = f"gave up after {args.max_time:g} s"
                    break
                chunk = resp.read(CHUNK)
                if not chunk:
                    break
                f.write(chunk)
                h.update(chunk)
                got += len(chunk)
                now = time.monotonic()
                if now - samples[-1][0] >= SAMPLE_EVERY:
                    samples.append((now, got))
                if args.rate > 0:
                    ahead = got / args.rate - (now - start)
                    if ahead > 0:
                        time.sleep(ahead)
    except (urllib.error.URLError, OSError) as exc:
        error = str(exc)
    samples.append((time.monotonic(), got))
    with open(args.log, "w", encoding="utf-8") as f:
        json.dump(
            {
                "url": args.url,
                "bytes": got,
                "size": size,
                "sha256": h.hexdigest(),
                "error": error,
                "samples": samples,
            },
            f,
        )
    return 0 if error is None and (size is None or got == size) else 1


if __name__ == "__main__":
    sys.exit(main())
