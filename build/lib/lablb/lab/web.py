"""Web nodes: nginx in each, serving the topology's web root and a large real MP4.

Lab layer. The MP4 is made once by ffmpeg (H.264 test pattern plus a tone, constant
bitrate so its size is what was asked) and cached in ``/var/cache/lablb``; each web node
gets its own document root in the lab's work directory with the topology's pages, the
video, and ``whoami.txt`` (so a client can tell which node answered). nginx serves Range
requests for static files by itself.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from ipaddress import IPv4Address
from pathlib import Path

from lablb.errors import LabError
from lablb.lab.net import INSTRUMENT_NICE, Lab
from lablb.lab.procs import stop_child

CACHE = Path("/var/cache/lablb")
VIDEO_BITRATE = 8_000_000  # bit/s: a 150 MB file plays for 150 s
DEFAULT_VIDEO_MB = 150
FFMPEG_TIMEOUT = 600.0
START_TIMEOUT = 5.0  # nginx or the SMTP sink listening
TLS_DAYS = 3650
OPENSSL_TIMEOUT = 60.0

# Workers run as root: the lab's work directory may live anywhere (a pytest tmp dir, a
# --out under /root) that www-data cannot enter. The web nodes are lab hosts.
NGINX_CONF = """user root root;
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {dir}/access.log;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    sendfile on;
    keepalive_timeout 5;
    server {{
{listen}
        root {root};
        add_header X-Served-By {host} always;
    }}
}}
"""


def tls_pair() -> tuple[Path, Path]:
    """A self-signed certificate and key for the web nodes' TLS (what SSL_GET checks;
    keepalived does not verify it either), made once and cached."""
    cert, key = CACHE / "tls" / "lablb.crt", CACHE / "tls" / "lablb.key"
    if cert.exists() and key.exists():
        return cert, key
    cert.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", str(TLS_DAYS),
        "-subj", "/CN=lablb web node", "-keyout", str(key), "-out", str(cert),
    ]  # fmt: skip
    res = subprocess.run(argv, capture_output=True, text=True, timeout=OPENSSL_TIMEOUT, check=False)
    if res.returncode != 0:
        raise LabError(f"openssl could not make the lab's certificate: {res.stderr[-300:]}")
    return cert, key


def video(size_mb: int = DEFAULT_VIDEO_MB) -> Path:
    """A cached MP4 of about ``size_mb`` MB (made on first use: seconds to a minute)."""
    if size_mb < 1:
        raise LabError(f"video size {size_mb} MB: at least 1")
    path = CACHE / f"video-{size_mb}M.mp4"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    seconds = size_mb * 8_000_000 / VIDEO_BITRATE
    tmp = path.with_suffix(".part.mp4")
    rate = f"{VIDEO_BITRATE // 1000}k"
    argv = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-t", f"{seconds:g}",
        "-c:v", "libx264", "-preset", "ultrafast", "-x264-params", "nal-hrd=cbr",
        "-b:v", rate, "-minrate", rate, "-maxrate", rate, "-bufsize", "2M",
        "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(tmp),
    ]  # fmt: skip
    try:
        res = subprocess.run(
            argv, capture_output=True, text=True, timeout=FFMPEG_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise LabError(f"ffmpeg took longer than {FFMPEG_TIMEOUT:g} s") from None
    if res.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise LabError(f"ffmpeg failed: {res.stderr.strip()[-300:]}")
    tmp.replace(path)
    return path


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class WebNode:
    """nginx in one lab host."""

    def __init__(
        self,
        lab: Lab,
        host: str,
        docroot: Path,
        video_path: Path | None,
        ports: tuple[int, ...] = (80,),
        tls_ports: tuple[int, ...] = (),
        pages: tuple[str, ...] = (),
    ) -> None:
        self.lab, self.host = lab, host
        self.dir = lab.workdir / host / "nginx"
        self.root = lab.workdir / host / "www"
        (self.dir / "tmp").mkdir(parents=True, exist_ok=True)
        if self.root.exists():
            shutil.rmtree(self.root)
        shutil.copytree(docroot, self.root)
        (self.root / "whoami.txt").write_text(f"{host}\n")
        for page in pages:  # what the config's HTTP_GET/SSL_GET check and the lab lacks
            path = (self.root / page.lstrip("/")).resolve()
            if path.is_relative_to(self.root.resolve()) and not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(f"{host}: {page}, served for the config's checker\n")
        if video_path is not None:
            (self.root / "video").mkdir(exist_ok=True)
            (self.root / "video" / video_path.name).symlink_to(video_path)
        self.conf = self.dir / "nginx.conf"
        # A real server's port that its SSL_GET checks speaks HTTPS only (one listen
        # per port: nginx refuses a duplicate).
        plain = tuple(p for p in ports if p not in tls_ports) or ((80,) if not tls_ports else ())
        listen = "\n".join(f"        listen {p};" for p in plain)
        if tls_ports:
            cert, key = tls_pair()
            listen += "".join(f"\n        listen {p} ssl;" for p in tls_ports)
            listen += f"\n        ssl_certificate {cert};\n        ssl_certificate_key {key};"
        self.conf.write_text(
            NGINX_CONF.format(dir=self.dir, root=self.root, host=host, listen=listen)
        )
        self.ports = plain or tls_ports
        self.tls = not plain
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = self.lab.popen(
            self.host, ["nginx", "-c", str(self.conf)], log=self.dir / "nginx.out"
        )
        scheme = "https" if self.tls else "http"
        url = f"{scheme}://127.0.0.1:{self.ports[0]}/whoami.txt"
        _await_http(self.lab, self.host, url, self.proc, self.dir / "nginx.out", "nginx")

    def stop(self) -> None:
        stop_child(self.proc)
        self.proc = None


def _await_http(
    lab: Lab, host: str, url: str, proc: subprocess.Popen[bytes], log: Path, what: str
) -> None:
    """Until ``url`` answers from ``host`` (a server just started there); LabError with
    the tail of its output if it exits or does not answer within START_TIMEOUT."""
    deadline = time.monotonic() + START_TIMEOUT
    probe = ["curl", "-sfk", "-o", "/dev/null", url]  # -k: the lab's own certificate
    while lab.run(host, probe, timeout=5).returncode != 0:
        if proc.poll() is not None or time.monotonic() > deadline:
            out = log.read_text(errors="replace")[-300:] if log.exists() else ""
            raise LabError(f"{host}: {what} did not start: {out}")
        time.sleep(0.05)


def start_web(
    lab: Lab,
    hosts: list[str],
    docroot: Path,
    video_mb: int | None,
    tls_ports: tuple[int, ...] = (),
    pages: tuple[str, ...] = (),
) -> dict[str, WebNode]:
    """nginx on each web host; with ``video_mb``, the cached MP4 under /video/; with
    ``tls_ports``, HTTPS there too (for SSL_GET); ``pages``: paths the config's checkers
    ask for, served where the docroot has none."""
    path = video(video_mb) if video_mb else None
    nodes = {}
    for host in hosts:
        ports = tuple(getattr(lab.host(host), "web_ports", ())) or (80,)
        node = WebNode(lab, host, docroot, path, ports, tls_ports, pages)
        node.start()
        lab.on_teardown(node.stop)
        nodes[host] = node
    return nodes


PROXY_CONF = """user root root;
worker_processes auto;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream backends {{
{servers}
        keepalive 32;
    }}
    server {{
        listen {address}:{port};
        location / {{
            proxy_pass http://backends;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }}
    }}
}}
"""
PROXY_PORT = 8080


class ReverseProxy:
    """nginx in ``host`` as a reverse proxy (round robin, kept-alive upstream
    connections, buffering off) to ``backends``, listening on ``address:port``: the
    contrast to Direct Routing, where every byte of every answer crosses the proxy's
    link twice. Stopped at teardown if not before."""

    def __init__(
        self,
        lab: Lab,
        host: str,
        address: IPv4Address,
        backends: list[tuple[IPv4Address, int]],
        port: int = PROXY_PORT,
    ) -> None:
        self.lab, self.host = lab, host
        self.dir = lab.workdir / host / "proxy"
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        servers = "\n".join(f"        server {ip}:{p};" for ip, p in backends)
        self.conf = self.dir / "nginx.conf"
        self.conf.write_text(
            PROXY_CONF.format(dir=self.dir, servers=servers, address=address, port=port)
        )
        self.url = f"http://{address}:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ReverseProxy:
        self.proc = self.lab.popen(
            self.host, ["nginx", "-c", str(self.conf)], log=self.dir / "nginx.out"
        )
        self.lab.on_teardown(self.stop)
        out = self.dir / "nginx.out"
        _await_http(self.lab, self.host, f"{self.url}/whoami.txt", self.proc, out, "the proxy")
        return self

    def stop(self) -> None:
        stop_child(self.proc)
        self.proc = None


class UdpService:
    """A UDP service of the lab's on a web node: the echo (``lablb.lab.udp_echo``) for
    UDP_CHECK, the DNS server (``lablb.lab.dns_server``) for DNS_CHECK."""

    def __init__(self, lab: Lab, host: str, port: int, module: str) -> None:
        self.lab, self.host, self.port, self.module = lab, host, port, module
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        name = self.module.rsplit(".", 1)[-1]
        self.proc = self.lab.popen(
            self.host,
            [sys.executable, "-m", self.module, "--port", str(self.port)],
            log=self.lab.workdir / self.host / f"{name}-{self.port}.out",
        )
        deadline = time.monotonic() + START_TIMEOUT
        listening = ["ss", "-Hnul", f"sport = :{self.port}"]
        while not self.lab.run(self.host, listening, timeout=5).stdout.strip():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise LabError(f"{self.host}: {name} on UDP port {self.port} did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        stop_child(self.proc)
        self.proc = None


class Decapsulator:
    """LVS-TUN's far end on a web node (``python -m lablb.lab.decap``): IPIP unwrapped
    into ``tunl0``, where this kernel, which loads no ``ipip`` module, has no tunnel
    device of its own. Stopped at teardown if not before."""

    def __init__(self, lab: Lab, host: str) -> None:
        self.lab, self.host = lab, host
        self.status = lab.workdir / host / "decap.json"
        self.log = lab.workdir / host / "decap.out"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Decapsulator:
        self.status.parent.mkdir(parents=True, exist_ok=True)
        self.status.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "lablb.lab.decap", "--status", str(self.status)]
        self.proc = self.lab.popen(self.host, argv, log=self.log)
        self.lab.on_teardown(self.stop)
        deadline = time.monotonic() + START_TIMEOUT
        while not self.status.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace").strip().splitlines()[-1:]
                raise LabError(f"{self.host}: the IPIP decapsulator did not start: {tail}")
            time.sleep(0.05)
        return self

    def unwrapped(self) -> int:
        """Packets unwrapped so far (as of its last status: at start and at stop)."""
        data: dict[str, int] = json.loads(self.status.read_text())
        return int(data["unwrapped"])

    def stop(self) -> None:
        stop_child(self.proc)
        self.proc = None


def start_decapsulators(lab: Lab) -> dict[str, Decapsulator]:
    """A decapsulator on every web node the topology marks ``decap`` (LVS-TUN's)."""
    return {h.name: Decapsulator(lab, h.name).start() for h in lab.hosts
            if getattr(h, "decap", False)}  # fmt: skip


UDP_ECHO = "lablb.lab.udp_echo"
DNS_SERVER = "lablb.lab.dns_server"


def start_udp_service(lab: Lab, hosts: list[str], port: int, module: str) -> dict[str, UdpService]:
    services = {}
    for host in hosts:
        service = UdpService(lab, host, port, module)
        service.start()
        lab.on_teardown(service.stop)
        services[host] = service
    return services


class MailSink:
    """The lab's SMTP sink (``python -m lablb.mail``) on a host of its own."""

    def __init__(self, lab: Lab, host: str) -> None:
        self.lab, self.host = lab, host
        self.dir = lab.workdir / host / "mail"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.start()
        lab.on_teardown(self.stop)

    def start(self) -> None:
        lab, host = self.lab, self.host
        self.proc = lab.popen(
            host,
            # nice: a lab instrument, not under test; it must not take CPU slices from
            # the daemons being measured when an alert arrives mid-failover.
            [
                "nice",
                "-n",
                str(INSTRUMENT_NICE),
                sys.executable,
                "-m",
                "lablb.mail",
                "--dir",
                str(self.dir),
            ],
            log=lab.workdir / host / "smtp.out",
        )
        deadline = time.monotonic() + START_TIMEOUT
        while lab.run(host, ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/25"], timeout=5).returncode:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise LabError(f"{host}: the SMTP sink did not start")
            time.sleep(0.05)

    def messages(self) -> list[str]:
        return [p.read_text(errors="replace") for p in sorted(self.dir.glob("*.eml"))]

    def stop(self) -> None:
        stop_child(self.proc)
