"""Real daemons and hostile servers for --banners tests, in a lab's target namespace (or, with
no namespace, on loopback): certificates the test makes, OpenSSH's sshd with a throwaway host
key, nginx over HTTP and TLS, and tests/support/hostile_servers.py. Each is stopped by its PID.

    with Lab(spec) as lab, Daemons(lab.target_ns, tmp_path) as d:
        version = d.sshd(lab.target_ip, 22)          # what sshd says it is
        d.nginx(lab.target_ip, http=[80], tls=[443], cert=make_certificate(...))
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOSTILE = Path(__file__).with_name("hostile_servers.py")
READY_TIMEOUT = 20.0
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path
    der: bytes


def make_certificate(directory: Path, cn: str, sans: list[str] | tuple[str, ...] = (),
                     expired: bool = False) -> Certificate:
    """A self-signed EC certificate; expired: valid only in 2020 (openssl ca sets the dates)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    base = ["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-subj", f"/CN={cn}"]
    if not expired:
        argv = base + ["-x509", "-days", "3", "-out", str(cert)]
        if sans:
            argv += ["-addext", "subjectAltName=" + ",".join(sans)]
        _must(argv)
    else:
        (directory / "ca.cnf").write_text(
            "[ca]\ndefault_ca=d\n[d]\ndir=.\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\n"
            "default_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n")
        (directory / "index.txt").write_text("")
        (directory / "serial").write_text("01\n")
        _must(base + ["-out", str(directory / "req.csr")])
        _must(["openssl", "ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile", str(key),
               "-in", "req.csr", "-out", str(cert), "-startdate", "20200101000000Z",
               "-enddate", "20210101000000Z"], cwd=directory)
    der = subprocess.run(["openssl", "x509", "-in", str(cert), "-outform", "DER"], check=True,
                         capture_output=True, timeout=30).stdout
    return Certificate(cert, key, der)


def _must(argv: list[str], **kw: Any) -> str:
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv)}` failed: {(r.stderr or r.stdout).strip()}")
    return r.stdout + r.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sshd_version() -> tuple[str, str | None]:
    """(version, distribution release) as sshd announces itself: `sshd -V` gives the release
    ("OpenSSH_9.2"), and the binary holds the whole identification string it sends (with the
    portable suffix and the distribution's patch level: "OpenSSH_9.2p1 Debian-2+deb12u10")."""
    r = subprocess.run([SSHD, "-V"], capture_output=True, text=True, timeout=10)
    found = re.search(r"OpenSSH_([\w.]+)", r.stderr + r.stdout)
    if not found:
        raise RuntimeError(f"sshd -V says nothing of a version: {r.stderr.strip()}")
    binary = Path(SSHD).read_bytes()
    strings = re.findall(rb"\x00OpenSSH_(" + re.escape(found.group(1).encode()) +
                         rb"[\w.]*)(?: ([^\x00\s,]+))?\x00", binary)
    if not strings:
        return found.group(1), None
    version, release = max(strings, key=lambda pair: len(pair[0]) + len(pair[1]))  # the whole one
    return version.decode(), release.decode() or None


def nginx_version() -> str:
    r = subprocess.run([NGINX, "-v"], capture_output=True, text=True, timeout=10)
    found = re.search(r"nginx/([\w.]+)", r.stderr + r.stdout)
    if not found:
        raise RuntimeError(f"nginx -v says nothing of a version: {r.stderr.strip()}")
    return found.group(1)


class Daemons:
    """Processes started in namespace ns (None: this one), all stopped by PID on exit."""

    def __init__(self, ns: str | None, workdir: Path) -> None:
        self.prefix = ["ip", "netns", "exec", ns] if ns else []
        self.workdir = workdir
        self._processes: list[subprocess.Popen[str]] = []

    def __enter__(self) -> Daemons:
        return self

    def __exit__(self, *_: object) -> None:
        from tests.support.lab import _stop  # by PID: terminate, then kill; streams closed

        while self._processes:
            _stop(self._processes.pop())

    def _start(self, argv: list[str], ready: Any) -> subprocess.Popen[str]:
        """Start argv (`ip netns exec` execs it: the PID is the daemon's) and wait until
        ready(process) is true."""
        process = subprocess.Popen(self.prefix + argv, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        self._processes.append(process)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited: {process.stderr.read().strip()}")  # type: ignore[union-attr]
            if ready(process):
                return process
            time.sleep(0.05)
        raise RuntimeError(f"{argv[0]} not ready after {READY_TIMEOUT} s")

    def listening(self, addr: str, port: int) -> bool:
        out = subprocess.run(self.prefix + ["ss", "-Hltn", f"sport = :{port}"],
                             capture_output=True, text=True, timeout=10).stdout
        return addr in out or (":" in addr and f"[{addr}]" in out)

    def hostile(self, addrs: list[str], **ports: Any) -> None:
        """tests/support/hostile_servers.py with its options: trickle=[P], tls=["P:CERT:KEY"] ..."""
        argv = [sys.executable, str(HOSTILE)]
        for addr in addrs:
            argv += ["--addr", addr]
        for name, values in ports.items():
            for value in values:
                argv += [f"--{name.replace('_', '-')}", str(value)]
        process = self._start(argv, lambda p: True)
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until bound (or exit)
        if line.strip() != "ready":
            raise RuntimeError(f"hostile_servers: {line.strip()} {process.stderr.read().strip()}")  # type: ignore[union-attr]

    def sshd(self, addr: str, port: int) -> None:
        """OpenSSH's sshd with a host key made for this test only."""
        key = self.workdir / "ssh_host_ed25519_key"
        if not key.exists():
            _must(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)])
        config = self.workdir / f"sshd_config_{port}"
        config.write_text(f"ListenAddress {addr}:{port}\nHostKey {key}\nPidFile none\n"
                          "UsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # its privilege separation directory
        self._start([SSHD, "-D", "-e", "-f", str(config)], lambda p: self.listening(addr, port))

    def nginx(self, addr: str, http: list[int], tls: list[int], cert: Certificate) -> None:
        root = self.workdir / "nginx"
        (root / "logs").mkdir(parents=True, exist_ok=True)
        listen = [f"listen {addr}:{p};" for p in http] + [f"listen {addr}:{p} ssl;" for p in tls]
        (root / "nginx.conf").write_text(
            "daemon off;\nmaster_process off;\npid nginx.pid;\nerror_log stderr;\n"
            "events { worker_connections 64; }\n"
            "http {\n  access_log off;\n"
            f"  client_body_temp_path {root}/b; proxy_temp_path {root}/p; "
            f"fastcgi_temp_path {root}/f; uwsgi_temp_path {root}/u; scgi_temp_path {root}/s;\n"
            f"  ssl_certificate {cert.cert};\n  ssl_certificate_key {cert.key};\n"
            "  server {\n    " + "\n    ".join(listen) + "\n"
            "    location / { return 200 \"lab\\n\"; }\n  }\n}\n")
        ports = http + tls
        self._start([NGINX, "-p", str(root), "-c", "nginx.conf"],
                    lambda p: all(self.listening(addr, port) for port in ports))


def missing_daemons() -> str | None:
    """Why the real daemons cannot run here (None: they can)."""
    for tool, package in ((SSHD, "openssh-server"), (NGINX, "nginx"), ("openssl", "openssl"),
                          ("ssh-keygen", "openssh-client")):
        if shutil.which(tool) is None and not Path(tool).exists():
            return f"{tool} missing (apt-get install {package})"
    return None
