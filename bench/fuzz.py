# ruff: noqa: E402  (the repository goes on sys.path before its imports)
"""The long fuzz run: every surface that reads untrusted input, N random and mutated
inputs each, timed one by one. A benchmark, not a test (the suite runs the same
surfaces with hypothesis, bounded): it prints a table, writes JSON to bench/results/,
and exits 0 whatever it finds. No root, no lab.

    .venv/bin/python bench/fuzz.py [--n 100000] [--seed 1]

Per surface: inputs tried, inputs refused with the project's typed error (counted by
reason), anything else that escaped (must be 0), and the slowest input.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import struct
import sys
import time
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lablb.checker import dns, http
from lablb.config.files import MemoryReader
from lablb.config.load import parse
from lablb.config.semantics import check_config
from lablb.errors import PacketError
from lablb.ipvs.frame import decode_sync
from lablb.ipvs.frame import parse as parse_frame
from lablb.vrrp import ah
from lablb.vrrp.packet import VRRP_GROUP, VRRP_GROUP6, Advert, AuthType, decode_ipv4, decode_ipv6
from tests import corpus
from tests.unit.test_config_fuzz import mutate
from tests.unit.test_corpus import fake_host
from tests.unit.test_decoder_fuzz import FRAME, SYNC, WIRE4, WIRE6

SRC4, SRC6 = IPv4Address("172.30.0.20"), IPv6Address("fe80::1")
AH_WIRE = ah.encode(
    Advert(2, 51, 100, (IPv4Address("172.30.0.22"),), 100, AuthType.AH), SRC4, VRRP_GROUP,
    b"1111", 1, 1,
)  # fmt: skip
HTTP_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


def mutated(rng: random.Random, seed: bytes) -> bytes:
    """``seed`` with up to four spans replaced by random bytes, cut, or grown; or noise."""
    if rng.random() < 0.2:
        return rng.randbytes(rng.randint(0, 300))
    b = bytearray(seed)
    for _ in range(rng.randint(1, 4)):
        pos = rng.randint(0, len(b))
        op = rng.random()
        if op < 0.5:
            b[pos : pos + rng.randint(1, 4)] = rng.randbytes(rng.randint(0, 4))
        elif op < 0.7:
            del b[pos:]
        elif op < 0.85:
            b[pos:pos] = struct.pack("!I", rng.choice([0, 1, 255, 0xFFFF, 0xFFFFFFFF]))
        else:
            b[pos:pos] = rng.choice([b"1e999", b"NaN", b"-1", b"[" * 50, b"\r\n\r\n", b"ffff"])
    return bytes(b)


def _config(text: bytes) -> None:
    parsed = parse("/r/k.conf", MemoryReader({"/r/k.conf": text.decode("utf-8", "replace")}),
                   corpus.CONFIG_ID)  # fmt: skip
    for d in parsed.diagnostics:
        d.format()
    if not any(d.fatal for d in parsed.diagnostics):
        check_config(parsed.config, fake_host())


SURFACES: dict[str, tuple[Callable[[bytes], object], Callable[[random.Random], bytes]]] = {
    "vrrp over IPv4": (decode_ipv4, lambda r: mutated(r, WIRE4)),
    "vrrp over IPv6": (
        lambda b: decode_ipv6(b, SRC6, VRRP_GROUP6, 255), lambda r: mutated(r, WIRE6)
    ),
    "AH": (ah.decode, lambda r: mutated(r, AH_WIRE)),
    "DR frame": (parse_frame, lambda r: mutated(r, FRAME)),
    "connection sync": (lambda b: decode_sync(b, 7), lambda r: mutated(r, SYNC)),
    "DNS answer": (dns.answer, lambda r: mutated(r, dns.query(5, "www.lab.test", "A"))),
    "HTTP response": (lambda b: http.parse_response(b, True), lambda r: mutated(r, HTTP_OK)),
}  # fmt: skip


def run_surface(name: str, n: int, rng: random.Random) -> dict[str, Any]:
    fn, gen = SURFACES[name]
    refused: dict[str, int] = {}
    escaped: list[str] = []
    slowest = (0.0, b"")
    for _ in range(n):
        data = gen(rng)
        t0 = time.perf_counter()
        try:
            fn(data)
        except PacketError as exc:
            key = str(getattr(exc.reason, "name", exc.reason))
            refused[key] = refused.get(key, 0) + 1
        except Exception as exc:  # what the fuzz is looking for
            escaped.append(f"{type(exc).__name__}: {exc} on {data[:60]!r}")
        took = time.perf_counter() - t0
        if took > slowest[0]:
            slowest = (took, data)
    return {
        "inputs": n,
        "refused": sum(refused.values()),
        "reasons": dict(sorted(refused.items(), key=lambda kv: -kv[1])),
        "escaped": len(escaped),
        "escapes": escaped[:10],
        "slowest_s": round(slowest[0], 6),
        "slowest_input_bytes": len(slowest[1]),
    }


def run_configs(n: int, rng: random.Random) -> dict[str, Any]:
    texts = [p.read_text() for p in corpus.files()]
    escaped, slowest = [], (0.0, 0)
    for _ in range(n):
        text = mutate(rng, rng.choice(texts)).encode()
        t0 = time.perf_counter()
        try:
            _config(text)
        except Exception as exc:
            escaped.append(f"{type(exc).__name__}: {exc}")
        took = time.perf_counter() - t0
        if took > slowest[0]:
            slowest = (took, len(text))
    return {"inputs": n, "escaped": len(escaped), "escapes": escaped[:10],
            "slowest_s": round(slowest[0], 6), "slowest_input_bytes": slowest[1]}  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=100_000, help="inputs per surface")
    p.add_argument("--configs", type=int, default=10_000, help="mutated configs")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    rng = random.Random(args.seed)
    started = time.time()
    results: dict[str, Any] = {}
    print(f"{'surface':20} {'inputs':>8} {'refused':>8} {'escaped':>8} {'slowest':>10}")
    for name in SURFACES:
        r = results[name] = run_surface(name, args.n, rng)
        print(f"{name:20} {r['inputs']:8} {r['refused']:8} {r['escaped']:8} "
              f"{r['slowest_s'] * 1000:8.3f} ms", flush=True)  # fmt: skip
    r = results["config + check"] = run_configs(args.configs, rng)
    print(f"{'config + check':20} {r['inputs']:8} {'':>8} {r['escaped']:8} "
          f"{r['slowest_s'] * 1000:8.3f} ms")  # fmt: skip
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"fuzz-{time.strftime('%Y%m%d-%H%M%S')}.json"
    machine = {"python": platform.python_version(), "machine": platform.machine(),
               "cpus": __import__("os").cpu_count(), "kernel": platform.release()}  # fmt: skip
    path.write_text(json.dumps({"started": started, "duration_s": round(time.time() - started, 1),
                                "seed": args.seed, "machine": machine, "surfaces": results},
                               indent=2) + "\n")  # fmt: skip
    print(f"written: {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
