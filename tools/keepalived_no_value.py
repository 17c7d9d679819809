"""Which keywords make keepalived 2.2.7 stop reading when their value is missing.

keepalived's parser exits 2 at once ("Configuration line starting `X` is missing a
parameter") when a keyword whose handler reads a value has none: an unrendered
``interface {{ iface }}`` or ``state #STATE#`` is exactly that. Which keywords do is the
handlers' business, so it is measured: every keyword lablb knows is written alone into
a file that ``keepalived -t`` otherwise passes, in the block it belongs to, and the
binary's answer recorded. The result is ``lablb/config/no_value.py`` (data, no logic).

Run as root with keepalived installed: ``python3 tools/keepalived_no_value.py``. It
makes (and removes) a network namespace holding eth0, as the corpus oracle does.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lablb.config.blocks import REGISTRY

NETNS = "lablb-novalue"
OUT = Path(__file__).resolve().parent.parent / "lablb" / "config" / "no_value.py"
VI = (
    "vrrp_instance VI_1 {\n  state MASTER\n  interface eth0\n  virtual_router_id 51\n"
    "  priority 100\n  virtual_ipaddress {\n    10.0.0.100/24\n  }\n%s\n}\n"
)
RS = "  real_server 10.0.0.11 80 {\n%s\n  }"
VS = "virtual_server 10.0.0.100 80 {\n  protocol TCP\n  lvs_sched rr\n  lvs_method DR\n%s\n}\n"
CONTEXTS = {  # a block, in a file keepalived -t passes, with room for one line (%s)
    "the top level": "%s\n",
    "global_defs": "global_defs {\n%s\n}\n",
    "vrrp_instance": VI,
    "vrrp_sync_group": VI % ""
    + VI.replace("VI_1", "VI_2").replace(" 51", " 52").replace(".100/", ".101/") % ""
    + "vrrp_sync_group G {\n  group {\n    VI_1\n    VI_2\n  }\n%s\n}\n",
    "vrrp_script": 'vrrp_script chk {\n  script "/bin/true"\n%s\n}\n',
    "virtual_server": VS % (RS % "" + "\n%s"),
    "real_server": VS % RS,
    "TCP_CHECK": VS % (RS % "    TCP_CHECK {\n%s\n    }"),
    "HTTP_GET": VS % (RS % "    HTTP_GET {\n      url {\n        path /\n      }\n%s\n    }"),
    "MISC_CHECK": "global_defs {\n  enable_script_security\n  script_user root\n}\n"
    + VS % (RS % "    MISC_CHECK {\n      misc_path /bin/true\n%s\n    }"),
}
STOPPED = "is missing a parameter"


def keepalived_t(path: Path) -> tuple[int, str]:
    r = subprocess.run(
        ["setsid", "-w", "ip", "netns", "exec", NETNS, "keepalived", "-t", "-l", "-f", str(path)],
        capture_output=True, text=True, timeout=20, check=False,
    )  # fmt: skip
    return r.returncode, r.stdout + r.stderr


def main() -> int:
    subprocess.run(["ip", "netns", "del", NETNS], capture_output=True, check=False)
    subprocess.run(["ip", "netns", "add", NETNS], check=True)
    try:
        subprocess.run(["ip", "-n", NETNS, "link", "add", "eth0", "type", "veth", "peer",
                        "name", "eth1"], check=True)  # fmt: skip
        stops: list[tuple[str, str]] = []
        with tempfile.TemporaryDirectory() as tmp:
            conf = Path(tmp) / "k.conf"
            for context, template in CONTEXTS.items():
                conf.write_text(template % "")
                rc, said = keepalived_t(conf)
                if rc != 0:
                    raise SystemExit(f"{context}: the baseline fails ({rc}): {said[-300:]}")
                spec = next(s for s in REGISTRY if s.name == context)
                for keyword in spec.known():
                    conf.write_text(template % f"  {keyword}")
                    rc, said = keepalived_t(conf)
                    if rc == 2 and STOPPED in said:
                        stops.append((context, keyword))
    finally:
        subprocess.run(["ip", "netns", "del", NETNS], check=False)
    version = subprocess.run(
        ["keepalived", "--version"], capture_output=True, text=True, check=False
    )
    first = (version.stdout + version.stderr).splitlines()[0]
    lines = [
        '"""Keywords after which keepalived stops reading when their value is missing (exit 2).',
        "",
        "Measured, not written: ``tools/keepalived_no_value.py`` wrote this from",
        f"{first}. Data only: (block, keyword).",
        '"""',
        "",
        "STOPS: frozenset[tuple[str, str]] = frozenset(",
        "    {",
        *(f"        ({c!r}, {k!r})," for c, k in sorted(stops)),
        "    }",
        ")",
        "",
    ]
    OUT.write_text("\n".join(lines))
    print(f"{OUT}: {len(stops)} keywords stop keepalived when their value is missing")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
