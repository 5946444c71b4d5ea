"""rawscan analyze shows what servers said in a capture: the first data on a connection to
a port it found open, identified with the --banners rules, in the table and the outputs."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rawscan.addresses import V6
from rawscan.bench.pcapgen import ACK, PSH, RST, SYN, tcp

from tests.support.captures import T0, A, B, C, run_analyze, write_pcap

A6, B6 = V6 | 0x2001_0002 << 96 | 1, V6 | 0x2001_0002 << 96 | 2  # 2001:2::1, 2001:2::2
SSH = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"
HTTP = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Length: 0\r\n\r\n"


def connection(client: int, server: int, sport: int, port: int, client_data: bytes,
               server_data: list[bytes], retransmit: bool = False) -> list[bytes]:
    """A whole handshake, the client's data (if any), then the server's segments."""
    cseq, sseq = 1000, 5000
    packets = [tcp(client, server, sport, port, SYN, cseq),
               tcp(server, client, port, sport, SYN | ACK, sseq, cseq + 1),
               tcp(client, server, sport, port, ACK, cseq + 1, sseq + 1)]
    if client_data:
        packets.append(tcp(client, server, sport, port, PSH | ACK, cseq + 1, sseq + 1, client_data))
    at = sseq + 1
    for piece in server_data:
        packets.append(tcp(server, client, port, sport, PSH | ACK, at, cseq + 1, piece))
        if retransmit:
            packets.append(tcp(server, client, port, sport, PSH | ACK, at, cseq + 1, piece))
        at += len(piece)
    return packets


def capture(tmp_path: Path) -> Path:
    packets = (connection(A, B, 40000, 22, b"", [SSH[:10], SSH[10:]], retransmit=True)
               + connection(A, B, 40001, 80, b"GET / HTTP/1.1\r\nHost: b\r\n\r\n", [HTTP])
               + connection(A6, B6, 40003, 2222, b"", [SSH])
               # closed port: its RST carries no banner; data nobody opened is ignored
               + [tcp(A, B, 40002, 81, SYN, 7), tcp(B, A, 81, 40002, RST | ACK, 0, 8),
                  tcp(C, A, 22, 50000, PSH | ACK, 1, 1, b"SSH-2.0-dropbear_2022.83\r\n")])
    return write_pcap(tmp_path / "banners.pcap", packets)


def test_banners_in_jsonl_xml_and_table(tmp_path: Path) -> None:
    pcap = capture(tmp_path)
    out, xml = tmp_path / "r.jsonl", tmp_path / "r.xml"
    code, stdout, stderr = run_analyze(str(pcap), "--min-probes", "1", "-oJ", str(out), "-oX", str(xml))
    assert code == 0, stderr
    records = {r["port"]: r for r in map(json.loads, out.read_text().splitlines())}
    ssh, http, closed = records[22], records[80], records[81]
    # the retransmitted pieces are kept once, in order
    assert (ssh["service"], ssh["product"], ssh["version"], ssh["extrainfo"]) == (
        "ssh", "OpenSSH", "9.2p1", "Debian-2+deb12u3")
    assert ssh["banner"].startswith("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3")
    assert ssh["banner"].count("SSH-2.0") == 1
    assert (http["service"], http["product"], http["version"]) == ("http", "nginx", "1.22.1")
    assert ssh["scanner"] == "198.18.0.1" and ssh["reply_frame"] == 2
    assert closed["state"] == "closed" and "product" not in closed and "banner" not in closed
    assert "dropbear" not in out.read_text()
    assert (records[2222]["ip"], records[2222]["product"]) == ("2001:2::2", "OpenSSH")
    services = {p.get("portid"): p.find("service") for p in ET.parse(xml).iter("port")}
    assert services["22"].get("product") == "OpenSSH" and services["22"].get("version") == "9.2p1"
    assert services["80"].get("product") == "nginx" and services["80"].get("method") == "probed"
    assert "VERSION" in stdout and "OpenSSH 9.2p1 (Debian-2+deb12u3)" in stdout
    assert "nginx 1.22.1" in stdout


def test_open_only_and_csv_carry_the_banner(tmp_path: Path) -> None:
    pcap = capture(tmp_path)
    out, csv = tmp_path / "r.jsonl", tmp_path / "r.csv"
    code, _stdout, stderr = run_analyze(str(pcap), "--min-probes", "1", "--open", "-oJ", str(out), "-oC", str(csv))
    assert code == 0, stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["port"] for r in records) == [22, 80, 2222]
    header, *rows = csv.read_text().splitlines()
    assert "product" in header.split(",") and any("OpenSSH" in row for row in rows)


def test_a_capture_without_server_data_shows_no_version(tmp_path: Path) -> None:
    pcap = write_pcap(tmp_path / "plain.pcap", connection(A, B, 40000, 22, b"", []))
    out = tmp_path / "r.jsonl"
    code, stdout, stderr = run_analyze(str(pcap), "--min-probes", "1", "-oJ", str(out))
    assert code == 0, stderr
    record = json.loads(out.read_text())
    assert record["state"] == "open" and "product" not in record and "VERSION" not in stdout


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("tcpdump") is None,
                    reason="needs root and tcpdump to record loopback")
def test_a_recorded_capture_shows_the_greeting(tmp_path: Path) -> None:
    """The kernel's own segments (TCP options, loopback framing), recorded by tcpdump on lo."""
    pcap = tmp_path / "lo.pcap"
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]
    # --immediate-mode: each packet is handed over at once (else libpcap's ring holds it up
    # to its block timeout, and a terminated tcpdump writes nothing of it)
    dump = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "--immediate-mode", "-w", str(pcap),
                             f"tcp port {port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # tcpdump writes its file header once its filter is in place (a fixed wait lost the
        # first connections on a loaded machine)
        deadline = time.monotonic() + 10
        while (not pcap.exists() or pcap.stat().st_size < 24) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        for _ in range(3):
            client = socket.create_connection(("127.0.0.1", port), timeout=2)
            conn, _ = server.accept()
            conn.sendall(SSH)
            assert client.recv(100) == SSH
            client.close()
            conn.close()
        time.sleep(0.3)
    finally:
        dump.terminate()
        dump.wait(5)
        server.close()
    out = tmp_path / "r.jsonl"
    code, _stdout, stderr = run_analyze(str(pcap), "--min-probes", "1", "-oJ", str(out))
    assert code == 0, stderr
    record = json.loads(out.read_text())
    assert (record["port"], record["product"], record["version"]) == (port, "OpenSSH", "9.2p1")


def test_server_data_kept_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from rawscan.analyze import banners

    monkeypatch.setattr(banners, "KEPT_MAX", 10)
    keeper = banners.BannerKeeper()
    for row, key in enumerate((b"k1", b"k2")):
        keeper.listen(key, row)
        keeper.segment(key, tcp(B, A, 22, 40000 + row, PSH | ACK, 1, 1, SSH))
    assert list(keeper.kept) == [0] and keeper.kept_bytes == len(SSH)
    assert keeper.grabs()[0].identity.product == "OpenSSH"
