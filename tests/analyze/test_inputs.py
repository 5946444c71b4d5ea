"""rawscan analyze on bad, damaged, odd and random input: a result or one clean error line,
never a traceback; damage part way keeps what came before it, with a warning saying where."""

from __future__ import annotations

import gzip
import json
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rawscan.addresses import V6
from rawscan.bench.pcapgen import ACK, RST, SYN, icmp_error, ipv4, ipv6, tcp, udp
from rawscan.results import RECORD_FIELDS

from tests.support.captures import ROUTER, T0, A, B, C, run_analyze, write_pcap
from tests.support.deadline import Hung, deadline
from tests.support.paths import CORPUS, PCAPS
from tests.support.rawscan_cli import rawscan_command
from tests.support.tool_reports import nmap_xml_states

NMAP_SYN = PCAPS / "analyze-nmap-syn.pcap"
CORPUS_FILES = sorted(p for p in CORPUS.iterdir() if p.is_file()) if CORPUS.is_dir() else []
STATES = {"open", "closed", "filtered", "open|filtered", "unfiltered"}  # unfiltered: ACK scans


def assert_clean(code: int, stderr: str) -> None:
    """Exit 0, or 2 with exactly one error line; warnings are single lines too."""
    assert code in (0, 2), (code, stderr)
    lines = stderr.splitlines()
    assert all(line.startswith(("rawscan: error: ", "rawscan: warning: ")) for line in lines), stderr
    if code == 2:
        assert len(lines) == 1 and lines[0].startswith("rawscan: error: "), stderr


def one_line_error(path: Path, *words: str) -> None:
    proc = subprocess.run([rawscan_command(), "analyze", str(path)], check=False, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rawscan: error: "), proc.stderr
    for word in words:
        assert word in lines[0]


def test_missing_file(tmp_path: Path) -> None:
    one_line_error(tmp_path / "nope.pcap", "nope.pcap")


def test_not_a_capture_empty_and_a_directory(tmp_path: Path) -> None:
    (tmp_path / "text.pcap").write_text("this is not a capture\n" * 20)
    (tmp_path / "empty.pcap").write_bytes(b"")
    one_line_error(tmp_path / "text.pcap", "not a pcap or pcapng")
    one_line_error(tmp_path / "empty.pcap", "empty.pcap")
    one_line_error(tmp_path, str(tmp_path))


def test_a_bad_output_path_fails_before_reading(tmp_path: Path) -> None:
    code, out, err = run_analyze(str(NMAP_SYN), "-oJ", str(tmp_path / "no" / "such" / "dir.jsonl"))
    assert_clean(code, err)
    assert code == 2 and "dir.jsonl" in err and out == ""


def test_a_pipe_is_read_once(tmp_path: Path) -> None:
    """/dev/stdin as a pipe (or <(zcat ...)): no size, no second open, still analyzed."""
    proc = subprocess.run([rawscan_command(), "analyze", "/dev/stdin", "-oJ", "-"],
                          input=gzip.compress(NMAP_SYN.read_bytes()), check=False,
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 200


def test_header_only_capture_is_an_empty_result(tmp_path: Path) -> None:
    code, out, err = run_analyze(str(write_pcap(tmp_path / "h.pcap", [])))
    assert (code, err) == (0, "") and "No scanners found." in out


def records(path: Path) -> list[tuple[int, int]]:
    """(offset, length) of each pcap record."""
    data = path.read_bytes()
    out, pos = [], 24
    while pos + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, pos + 8)[0]
        out.append((pos, 16 + caplen))
        pos += 16 + caplen
    return out


def analyze_json(*args: str, tmp: Path) -> tuple[list[dict[str, object]], str, str]:
    out = tmp / "out.jsonl"
    code, stdout, stderr = run_analyze(*args, "-oJ", str(out), "-q")
    assert_clean(code, stderr)
    assert code == 0
    return [json.loads(x) for x in out.read_text().splitlines()], stdout, stderr


@pytest.mark.parametrize("damage", ["cut-record", "bogus-length", "gzip-cut"])
def test_damage_mid_file_keeps_what_came_before(tmp_path: Path, damage: str) -> None:
    data = NMAP_SYN.read_bytes()
    recs = records(NMAP_SYN)
    n = len(recs) // 2  # damage frame n + 1
    at, length = recs[n]
    clean = tmp_path / "clean.pcap"  # the same capture, ending cleanly before the damage
    clean.write_bytes(data[:at])
    damaged = tmp_path / "damaged.pcap"
    if damage == "cut-record":
        damaged.write_bytes(data[: at + length - 5])
    elif damage == "bogus-length":
        damaged.write_bytes(data[: at + 8] + struct.pack("<I", 0x7FFFFFF0) + data[at + 12 :])
    else:
        packed = gzip.compress(data)
        damaged = tmp_path / "damaged.pcap.gz"
        damaged.write_bytes(packed[: len(packed) * 2 // 3])
    got, _, stderr = analyze_json(str(damaged), tmp=tmp_path)
    assert "rawscan: warning: capture" in stderr and "damaged at frame" in stderr
    assert "results below stop there" in stderr
    if damage != "gzip-cut":
        assert f"damaged at frame {n + 1} " in stderr
        want, _, _ = analyze_json(str(clean), tmp=tmp_path)
        assert got == want and len(got) > 50


def test_snaplen_that_cuts_headers(tmp_path: Path) -> None:
    """Records cut inside the TCP header are skipped and counted, the rest analyzed."""
    data = NMAP_SYN.read_bytes()
    out = bytearray(data[:24])
    for at, length in records(NMAP_SYN):
        rec = data[at : at + length]
        keep = min(len(rec) - 16, 14 + 20 + 10)  # Ethernet + IP + 10 bytes of TCP
        out += rec[:8] + struct.pack("<I", keep) + rec[12 : 16 + keep]
    capture = tmp_path / "snap.pcap"
    capture.write_bytes(bytes(out))
    got, _, stderr = analyze_json(str(capture), tmp=tmp_path)
    assert got == [] and "cut short before their TCP/UDP/ICMP header ended" in stderr


def pcapng(interfaces: list[int], packets: list[tuple[int, bytes]]) -> bytes:
    """A pcapng section: one IDB per link type, then EPBs (interface, frame)."""
    def block(kind: int, body: bytes) -> bytes:
        body += b"\0" * (-len(body) % 4)
        return struct.pack("<II", kind, len(body) + 12) + body + struct.pack("<I", len(body) + 12)

    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    for link in interfaces:
        out += block(1, struct.pack("<HHI", link, 0, 65535))
    for i, (iface, frame) in enumerate(packets):
        ts = int((T0 + i * 0.001) * 1e6)
        out += block(6, struct.pack("<IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame)) + frame)
    return out


def test_pcapng_with_several_interfaces(tmp_path: Path) -> None:
    """Probes on an Ethernet interface, replies on a raw-IP and a Linux cooked one."""
    ether = bytes(12) + b"\x08\x00"
    sll = struct.pack("!HHH8sH", 0, 1, 6, bytes(8), 0x0800)
    p1, p2, p3 = tcp(A, B, 40000, 22, SYN, 100), tcp(A, B, 40000, 23, SYN, 100), tcp(A, B, 40000, 25, SYN, 100)
    capture = tmp_path / "multi.pcapng"
    capture.write_bytes(pcapng([1, 101, 113], [
        (0, ether + p1), (0, ether + p2), (0, ether + p3),
        (1, tcp(B, A, 22, 40000, SYN | ACK, 5, 101)),
        (2, sll + tcp(B, A, 23, 40000, RST | ACK, 0, 101)),
        (1, icmp_error(ROUTER, p3, 3, 13)),
    ]))
    got, _, _ = analyze_json(str(capture), "--min-probes", "1", tmp=tmp_path)
    assert {r["port"]: r["state"] for r in got} == {22: "open", 23: "closed", 25: "filtered"}


def test_several_files_are_one_stream(tmp_path: Path) -> None:
    probes = write_pcap(tmp_path / "a.pcap", [tcp(A, B, 40000, p, SYN, 9) for p in (1, 2)])
    replies = write_pcap(tmp_path / "b.pcap", [(T0 + 1, tcp(B, A, 1, 40000, SYN | ACK, 5, 10))])
    got, _, _ = analyze_json(str(probes), str(replies), "--min-probes", "1", tmp=tmp_path)
    by_port = {r["port"]: r for r in got}
    assert by_port[1]["state"] == "open" and by_port[2]["state"] == "filtered"
    assert (by_port[1]["probe_capture"], by_port[1]["probe_frame"]) == (str(probes), 1)
    assert (by_port[1]["reply_capture"], by_port[1]["reply_frame"]) == (str(replies), 1)


def test_every_output_format(tmp_path: Path) -> None:
    """-oX of an nmap capture says what nmap's own -oX says; CSV keeps the scan columns."""
    xml, csv = tmp_path / "a.xml", tmp_path / "a.csv"
    code, _, err = run_analyze(str(NMAP_SYN), "-q", "-oX", str(xml), "-oC", str(csv),
                               "-oA", str(tmp_path / "all"))
    assert (code, err) == (0, "")
    assert nmap_xml_states(xml) == nmap_xml_states(PCAPS / "analyze-nmap-syn.nmap.xml")
    lines = csv.read_text().splitlines()
    assert lines[0].split(",") == list(RECORD_FIELDS) and len(lines) == 201
    assert {p.suffix for p in tmp_path.glob("all.*")} == {".xml", ".gnmap", ".jsonl", ".csv"}


@pytest.mark.skipif(not CORPUS_FILES, reason=f"tcpdump test corpus not found at {CORPUS}")
def test_every_corpus_file_gives_a_result_or_a_clean_error() -> None:
    """tcpdump's own test captures (many malformed): ~2 s for the 831 files in process."""
    failures = []
    for path in CORPUS_FILES:
        try:
            with deadline(10):
                code, _, err = run_analyze(str(path), "-q")
            assert_clean(code, err)
        except (Exception, Hung) as exc:  # collect them all, report once
            failures.append(f"{path.name}: {type(exc).__name__}: {exc}")
    assert not failures, "\n".join(failures[:20])


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


@FUZZ
@given(data=st.binary(max_size=600), header=st.booleans())
def test_random_bytes(tmp_path: Path, data: bytes, header: bool) -> None:
    path = tmp_path / "fuzz.pcap"
    path.write_bytes((PCAP_HEADER if header else b"") + data)
    code, _, err = run_analyze(str(path), "-q")
    assert_clean(code, err)


HOSTS4 = [A, B, C, ROUTER]
HOSTS6 = [V6 | 0x20010002 << 96 | n for n in (1, 2, 3, 0xFF0001)]  # 2001:2::1, ::2, ::3, ::ff:1
ports = st.sampled_from([22, 23, 53, 40000])
numbers = st.sampled_from([0, 1, 9, 10, 0xFFFFFFFF])


@st.composite
def packets(draw: st.DrawFn, family: list[int] | None = None) -> bytes:
    """A packet of one family (both addresses, and what an ICMP error quotes), maybe damaged."""
    family = family or draw(st.sampled_from([HOSTS4, HOSTS6]))
    v6 = family is HOSTS6
    hosts = st.sampled_from(family)
    kind = draw(st.sampled_from(["tcp", "udp", "icmp", "raw"]))
    if kind == "tcp":
        packet = tcp(draw(hosts), draw(hosts), draw(ports), draw(ports),
                     draw(st.sampled_from([SYN, SYN | ACK, RST, RST | ACK, ACK, 0xFF, 0])),
                     draw(numbers), draw(numbers), draw(st.binary(max_size=4)), draw(st.integers(1, 255)))
    elif kind == "udp":
        packet = udp(draw(hosts), draw(hosts), draw(ports), draw(ports), draw(st.binary(max_size=4)))
    elif kind == "icmp":
        quoted = draw(packets(family))
        if v6:  # an ICMPv6 error quotes an IPv6 header (damaged or not, the nibble says 6)
            quoted = bytes([0x60 | (quoted[0] & 0x0F if quoted else 0)]) + quoted[1:]
            quoted += bytes(max(0, 48 - len(quoted)))
        packet = icmp_error(draw(hosts), quoted if len(quoted) >= 28 else quoted + bytes(28),
                            draw(st.sampled_from([1, 2, 3, 4, 128] if v6 else [3, 11, 0, 5])),
                            draw(st.integers(0, 15)))
    elif v6:
        packet = ipv6(draw(hosts), draw(hosts), draw(st.sampled_from([0, 6, 17, 44, 58, 60, 59])),
                      draw(st.binary(max_size=48)))
    else:
        packet = ipv4(draw(hosts), draw(hosts), draw(st.sampled_from([1, 6, 17, 47])),
                      draw(st.binary(max_size=30)))
    if draw(st.booleans()):  # damage: cut it, or change a byte of its header
        if draw(st.booleans()):
            packet = packet[: draw(st.integers(0, len(packet)))]
        elif packet:
            at = draw(st.integers(0, min(len(packet), 48) - 1))
            packet = packet[:at] + bytes([draw(st.integers(0, 255))]) + packet[at + 1 :]
    return packet


@FUZZ
@given(sequence=st.lists(st.tuples(packets(), st.floats(0, 100)), max_size=40))
def test_random_packet_sequences(tmp_path: Path, sequence: list[tuple[bytes, float]]) -> None:
    capture = write_pcap(tmp_path / "seq.pcap", [(T0 + dt, p) for p, dt in sequence])
    got, _, _ = analyze_json(str(capture), "--min-probes", "1", tmp=tmp_path)
    for r in got:
        if "status" in r:  # a host a ping sweep learned (random ICMP echoes make sweeps)
            assert r["status"] in ("up", "down") and "port" not in r, r
        else:
            assert r["state"] in STATES, r
        assert int(r["probes"]) >= 1  # type: ignore[call-overload]
