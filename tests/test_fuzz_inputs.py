"""Hostile input, fuzzed with hypothesis: the port parser, the capture reader, `rawscan analyze`
(captures and their FILE.json sidecars) and the whole `syn`/`udp` command line.

Each example must end, within a per-example deadline (tests/support/deadline.py), in a result or the
code's own error type (PortError, CaptureError; for the CLI exit 0 or one `rawscan: error:`
line, or an option value typer itself rejects, which it reports with its usage text): never
another exception, a traceback, a message of several lines, or a hang. Every bug these found
has a plain regression test below as well.

Nothing here can send a packet: the CLI fuzz runs the commands in process under
tests/support/no_send.py (the step that would open the transport hands back the finished ScanPlan,
which is checked for sane values; raw and packet sockets are refused as a second guard; host
names are answered locally).

Example counts keep the module at ~30 s; RAWSCAN_FUZZ_EXAMPLES=N runs N per test instead
(4000 each took ~9 minutes here).
"""

from __future__ import annotations

import gzip
import json
import math
import os
import random
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from rawscan.capture import MAX_RECORD, CaptureError, CaptureTruncated, read_ip_packets
from rawscan.ports import PortError, PortSpec, parse_ports

from tests.support.captures import run_analyze
from tests.support.deadline import deadline
from tests.support.no_send import assert_clean, run_cli
from tests.support.paths import CORPUS, PCAPS

# One of each shape the reader knows: Ethernet + 802.1Q, Linux cooked, BSD loopback, raw IP,
# nanosecond pcap, pcapng with several blocks.
CORPUS_SEEDS = ("NHRP_registration.pcap", "babel.pcap", "ikev2four.pcap", "babel_rtt.pcap",
                "tcp-handshake-nano.pcap", "OSPFv2_Capture_FINAL.pcapng", "nhrp.pcapng")

EXAMPLES = int(os.environ.get("RAWSCAN_FUZZ_EXAMPLES", "0"))
PER_EXAMPLE = 10.0  # seconds; real work per example is milliseconds
STATES = {"open", "closed", "filtered", "open|filtered", "unfiltered"}  # unfiltered: ACK scans
HOST_STATUSES = {"up", "down"}  # ping sweeps: one record per host


def fuzz(default: int) -> settings:
    return settings(
        max_examples=EXAMPLES or default, deadline=None, database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.data_too_large],
    )


# --- the port parser ---------------------------------------------------------------------

SERVICE_NAMES = ["ssh", "http", "https", "domain", "ntp", "snmp", "smtp", "telnet", "ftp"]
if Path("/etc/services").is_file():  # every name the system knows, as users type them
    for line in Path("/etc/services").read_text(errors="replace").splitlines():
        words = line.partition("#")[0].split()
        if len(words) >= 2:
            SERVICE_NAMES.append(words[0])
SERVICE_NAMES = sorted(set(SERVICE_NAMES))

numbers = st.one_of(
    st.integers(0, 65535).map(str),
    st.integers(65536, 10**12).map(str),
    st.integers(0, 99).map(lambda n: "0" * 3 + str(n)),  # leading zeros
    st.integers(4200, 6000).map(lambda n: "9" * n),  # past int()'s 4,300-digit limit
    st.sampled_from(["", " ", "-1", "+1", "1e3", "0x50", "٣", "²", "1_000", "inf"]),
)
items = st.one_of(
    numbers,
    st.tuples(numbers, numbers).map("-".join),
    numbers.map(lambda n: n + "-"),
    numbers.map(lambda n: "-" + n),
    st.just("-"),
    st.sampled_from(SERVICE_NAMES),
    st.tuples(numbers, st.sampled_from(SERVICE_NAMES)).map("-".join),
)
prefixes = st.sampled_from(["", "", "", "T:", "U:", "t:", "u:", "S:", ":", "T::", " U: ", "TU:"])
port_specs = st.lists(st.tuples(prefixes, items).map("".join), min_size=1, max_size=8).flatmap(
    lambda parts: st.sampled_from([",", ", ", ",,", " ,"]).map(lambda sep: sep.join(parts)))


def check_port_spec(spec: str, default_proto: str) -> PortSpec | None:
    with deadline(PER_EXAMPLE):
        try:
            result = parse_ports(spec, default_proto=default_proto)
        except PortError as exc:
            assert str(exc)
            return None
    for ports in (result.tcp, result.udp):
        assert list(ports) == sorted(set(ports))
        assert all(0 <= p <= 65535 for p in ports)
    return result


@fuzz(500)
@given(spec=st.text(max_size=60), udp=st.booleans())
def test_port_parser_any_text(spec: str, udp: bool) -> None:
    check_port_spec(spec, "udp" if udp else "tcp")


@fuzz(500)
@given(spec=port_specs, udp=st.booleans())
def test_port_parser_near_valid_specs(spec: str, udp: bool) -> None:
    result = check_port_spec(spec, "udp" if udp else "tcp")
    if result is not None:  # accepted: then only digits, '-', ',', T:/U: and spaces were used
        assert set(spec.upper()) <= set("0123456789-,TU: "), spec


def test_port_parser_is_linear_in_the_spec() -> None:
    """'-' 50,000 times (a 100 KB -p) once took 50,000 x 65,535 set insertions: minutes."""
    with deadline(5):
        assert parse_ports(",".join(["-"] * 50_000)).tcp == tuple(range(1, 65536))
        assert parse_ports(",".join(f"U:{p}-" for p in range(50_000)), default_proto="tcp").udp \
            == tuple(range(65536))


def test_port_parser_refuses_a_5000_digit_port_cleanly() -> None:
    """int() refuses more than 4,300 digits with a ValueError: it was a traceback."""
    with pytest.raises(PortError, match="out of range"):
        parse_ports("9" * 5000)
    assert parse_ports("0000000080").tcp == (80,)  # leading zeros still read as before


# --- captures: real seeds, mutated -------------------------------------------------------


def _load_seeds() -> dict[str, bytes]:
    seeds: dict[str, bytes] = {}
    for path in sorted(PCAPS.glob("*.pcap*")):
        if path.suffix == ".json":
            continue
        data = path.read_bytes()
        seeds[path.name] = gzip.decompress(data) if path.suffix == ".gz" else data
    for name in CORPUS_SEEDS:
        if (CORPUS / name).is_file():
            seeds[name] = (CORPUS / name).read_bytes()
    return seeds


SEEDS = _load_seeds()
SEED_NAMES = sorted(SEEDS)
NO_SEEDS = pytest.mark.skipif(not SEEDS, reason=f"no seed captures in {PCAPS}")


def boundaries(data: bytes) -> list[int]:
    """Offsets where pcap records or pcapng blocks start (in the undamaged seed)."""
    out: list[int] = []
    if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = "<" if data[0] in (0xD4, 0x4D) else ">"
        pos = 24
        while pos + 16 <= len(data):
            out.append(pos)
            pos += 16 + struct.unpack_from(endian + "I", data, pos + 8)[0]
    elif data[:4] == b"\x0a\x0d\x0d\x0a":
        endian = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        pos = 0
        while pos + 12 <= len(data):
            out.append(pos)
            length = struct.unpack_from(endian + "I", data, pos + 4)[0]
            if length < 12:
                break
            pos += length
    return out or [0]


BOUNDARIES = {name: boundaries(data) for name, data in SEEDS.items()}
ODD_U32 = [0, 1, 4, 11, 12, 13, 16, 20, 28, 31, 32, 0xFFFF, 0x10000, MAX_RECORD, MAX_RECORD + 1,
           MAX_RECORD + 64 * 1024, 16 << 20, (16 << 20) + 4, 0x7FFFFFFC, 0x7FFFFFFF, 0x80000000,
           0xFFFFFFFC, 0xFFFFFFFF, 0x0A0D0D0A, 0x1A2B3C4D]
u32s = st.one_of(st.sampled_from(ODD_U32), st.integers(0, 2**32 - 1))
BLOCK_TYPES = [1, 2, 3, 5, 6, 0x0A0D0D0A, 0x80000001, 0]


@st.composite
def mutated_captures(draw: st.DrawFn) -> tuple[str, bytes]:
    """(seed name, damaged bytes): flips, cuts, lengths and snaplens set to odd values,
    pcapng blocks of absurd lengths inserted, records repeated, then maybe gzip'd (and the
    gzip stream damaged too). Positions come from a Random with a drawn seed: hypothesis' own
    integers favour small values, which would mostly hit the file header."""
    name = draw(st.sampled_from(SEED_NAMES))
    rng = random.Random(draw(st.integers(0, 2**32)))
    data = bytearray(SEEDS[name])
    starts = BOUNDARIES[name]
    endian = draw(st.sampled_from(["<", ">"]))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "flip-header", "cut", "length", "u32", "snaplen",
                                   "block", "repeat"]))
        n = len(data)
        if op.startswith("flip") and n:
            top = min(n, 24) if op == "flip-header" else n
            for _ in range(draw(st.integers(1, 8))):
                data[rng.randrange(top)] ^= 1 << rng.randrange(8)
        elif op == "cut":
            del data[rng.randrange(n + 1) :]
        elif op in ("length", "u32", "snaplen"):
            if op == "length":  # a record's caplen/len or a block's leading length
                at = rng.choice(starts) + draw(st.sampled_from([4, 8, 12]))
            elif op == "snaplen":  # pcap file header, or an interface block's snaplen
                at = draw(st.sampled_from([16, 20, starts[min(1, len(starts) - 1)] + 12]))
            else:
                at = rng.randrange(max(n - 3, 1))
            data[at : at + 4] = struct.pack(endian + "I", draw(u32s))
        elif op == "block":  # a pcapng block (or pcap record) header claiming any length
            at = rng.choice(starts)
            head = struct.pack(endian + "II", draw(st.sampled_from(BLOCK_TYPES)), draw(u32s))
            data[at:at] = head + draw(st.binary(max_size=40))
        elif op == "repeat" and len(starts) > 1:
            i = rng.randrange(len(starts) - 1)
            record = data[starts[i] : starts[i + 1]]
            data[starts[i] : starts[i]] = record * draw(st.integers(1, 50))
    out = bytes(data)
    wrap = draw(st.sampled_from(["none"] * 6 + ["gzip", "gzip", "gzip-damaged", "gzip-garbage"]))
    if wrap != "none":
        out = gzip.compress(out, compresslevel=1)
        if wrap == "gzip-damaged":
            packed = bytearray(out)
            if draw(st.booleans()):
                del packed[rng.randrange(2, len(packed) + 1) :]
            else:
                for _ in range(draw(st.integers(1, 4))):
                    packed[rng.randrange(10, len(packed))] ^= 1 << rng.randrange(8)
            out = bytes(packed)
        elif wrap == "gzip-garbage":
            out = b"\x1f\x8b" + draw(st.binary(max_size=200))
    return name, out


def read_capture(path: Path) -> list[tuple[int, float, bytes]] | CaptureError:
    """Every packet, or the CaptureError that ended the reading; checks what was yielded."""
    got: list[tuple[int, float, bytes]] = []
    with deadline(PER_EXAMPLE):
        try:
            for pkt in read_ip_packets(str(path)):
                got.append((pkt.number, pkt.time, pkt.ip))
        except CaptureError as exc:
            assert str(exc) and "\n" not in str(exc)
            if isinstance(exc, CaptureTruncated):
                assert exc.packets_read == len(got) and exc.frame >= 1 and exc.offset >= 0
                assert not got or exc.frame > got[-1][0]
            return exc
        finally:
            numbers_seen = [n for n, _, _ in got]
            assert numbers_seen == sorted(set(numbers_seen))  # frame numbers only go up
            for _, t, ip in got:
                assert ip and ip[0] >> 4 in (4, 6) and math.isfinite(t)
    return got


@NO_SEEDS
def test_every_seed_reads_whole(tmp_path: Path) -> None:
    """The seeds themselves read cleanly: damage found below is the mutation's doing."""
    for name, data in SEEDS.items():
        path = tmp_path / name
        path.write_bytes(data)
        result = read_capture(path)
        assert isinstance(result, list) and result, name


@NO_SEEDS
@fuzz(400)
@given(capture=mutated_captures())
def test_capture_reader_on_mutated_captures(tmp_path: Path, capture: tuple[str, bytes]) -> None:
    path = tmp_path / "mutated.pcap"
    path.write_bytes(capture[1])
    result = read_capture(path)
    event(type(result).__name__ if not isinstance(result, list) else "read to the end")


@NO_SEEDS
@fuzz(150)
@given(capture=mutated_captures())
def test_analyze_on_mutated_captures(tmp_path: Path, capture: tuple[str, bytes]) -> None:
    name, data = capture
    path = tmp_path / name
    path.write_bytes(data)
    sidecar = PCAPS / f"{name}.json"  # rawscan's own captures are seed-checked too
    if sidecar.is_file():
        Path(f"{path}.json").write_text(sidecar.read_text())
    out = tmp_path / "out.jsonl"
    with deadline(PER_EXAMPLE):
        code, _, err = run_analyze(str(path), "-q", "--min-probes", "1", "-oJ", str(out))
    assert_clean(code, err)
    assert code in (0, 2)
    event(f"exit {code}" + (" with a warning" if "warning" in err else ""))
    if code == 0:
        for line in out.read_text().splitlines():
            record = json.loads(line)
            if "status" in record:  # a host a ping sweep learned
                assert record["status"] in HOST_STATUSES and "port" not in record, record
            else:
                assert record["state"] in STATES and 0 <= record["port"] <= 65535


# --- the FILE.json sidecar beside a rawscan capture ---------------------------------------

SIDECAR_CAPTURES = sorted(p for p in PCAPS.glob("*.pcap") if Path(f"{p}.json").is_file())
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=8,
)
sidecar_values = st.one_of(
    json_values,
    st.sampled_from(["1-4294967295", "0-65535,0-65535,0-65535", "65536", "5-3", "-", "1-",
                     "syn", "udp", "ack", "zz", "00", "0x50"]),
    st.lists(st.lists(st.integers(-1, 2**33), min_size=2, max_size=2), max_size=3),
    st.sampled_from([0, -1, 1, 255, 256, 65535, 65536, 2**32, 2**64, 1e308, float("nan")]),
)


@pytest.mark.skipif(not SIDECAR_CAPTURES, reason=f"no rawscan captures in {PCAPS}")
@fuzz(120)
@given(capture=st.sampled_from(SIDECAR_CAPTURES or [Path("absent")]),
       changes=st.dictionaries(st.sampled_from([
           "argv", "format", "names", "payload_hex", "ports", "rate", "retries", "scan", "seed",
           "source_port", "sources", "started", "targets", "timeout", "ttl",
           "defeat_icmp_ratelimit", "fixed_source_port", "extra"]), sidecar_values, max_size=3),
       cut=st.none() | st.integers(0, 600))
def test_analyze_with_a_damaged_sidecar(tmp_path: Path, capture: Path,
                                        changes: dict[str, object], cut: int | None) -> None:
    """A sidecar that is not usable is a one-line warning (replies not seed-checked) or is
    used; a port range of billions or a multi-line Scapy message were a crash."""
    plan = json.loads(Path(f"{capture}.json").read_text())
    plan.update(changes)
    text = json.dumps(plan, allow_nan=True)
    copy = tmp_path / capture.name
    copy.write_bytes(capture.read_bytes())
    Path(f"{copy}.json").write_text(text[:cut] if cut is not None else text)
    with deadline(PER_EXAMPLE):
        code, _, err = run_analyze(str(copy), "-q")
    assert_clean(code, err)
    assert code == 0  # the capture itself is intact: only the seed check can be lost
    event("warning" if "warning" in err else "used")


@pytest.mark.parametrize("change, words", [
    ({"ports": "1-4294967295"}, "is not a range of ports"),  # was a MemoryError traceback
    ({"ports": ",".join(["1-65535"] * 3000)}, "more than 65,536 ports"),  # billions, in pieces
    ({"ttl": 99999}, "ttl: 99999 is out of range"),  # was Scapy's three-line message
])
def test_sidecar_regressions(tmp_path: Path, change: dict[str, object], words: str) -> None:
    capture = PCAPS / "syn-every-reply-kind.pcap"
    copy = tmp_path / capture.name
    copy.write_bytes(capture.read_bytes())
    Path(f"{copy}.json").write_text(json.dumps({**json.loads(Path(f"{capture}.json").read_text()),
                                                **change}))
    with deadline(PER_EXAMPLE):
        code, out, err = run_analyze(str(copy), "-q")
    assert_clean(code, err)
    assert code == 0 and len(err.splitlines()) == 1 and words in err, err
    assert "; 1 scanner(s)" in out  # the capture is still analyzed, just not seed-checked


# --- the whole syn / udp command line, never sending ---------------------------------------


def _target_files(base: Path) -> dict[str, str]:
    files = {
        "targets.txt": "127.0.0.1 127.0.0.2-5 # loopback\n127.0.1.0/30\n",
        "binary.txt": "",
        "empty.txt": "",
        "names.txt": "localhost nosuch.invalid\n",
    }
    for name, text in files.items():
        (base / name).write_text(text)
    (base / "binary.txt").write_bytes(b"\xff\xfe\x00\x01" * 8)
    return {name: str(base / name) for name in files} | {
        "missing": str(base / "missing.txt"), "dir": str(base), "stdin": "-"}


FUZZ_DIR = Path(os.environ.get("TMPDIR", "/tmp"))
loopback_targets = st.one_of(
    st.sampled_from(["127.0.0.1", "127.0.0.0/30", "127.0.0.1-4", "127.0.0-1.1-2", "localhost",
                     "127.0.0.1-127.0.0.9", "127.0.0.0/8", "127.0.0.0/16", "127.*.0.1"]),
    st.tuples(st.integers(0, 255), st.integers(0, 32)).map(lambda t: f"127.0.{t[0]}.1/{t[1]}"),
)
odd_text = st.one_of(
    st.text(max_size=20),
    st.text(alphabet="0123456789.-/,*: ", max_size=20),
    st.text(alphabet=st.sampled_from(["\udcff", "\udc80", "a", "/", "\n", "\x1b", "%", "'"]),
            max_size=6),  # bytes that are not UTF-8 reach argv as lone surrogates
    st.sampled_from(["", "-", "--", "\udcff", "a\nb", "\x1b[31m", "0" * 5000, "nosuch.invalid",
                     "1.2.3", "999.1.1.1", "0.0.0.0/0", "::1", "127.0.0.1/33", "lo"]),
).map(lambda text: text.replace("\x00", ""))  # argv strings cannot hold NUL
numeric = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e999", "0", "0.0", "1e-300", "", "x", "0x10"]),
)


def sane_or_odd(*sane: str) -> st.SearchStrategy[str]:
    """Mostly a sane value, so that later checks are reached too; sometimes anything."""
    return st.one_of(st.sampled_from(sane), st.sampled_from(sane), numeric, odd_text)


@st.composite
def scan_argvs(draw: st.DrawFn, files: dict[str, str]) -> list[str]:
    argv = [draw(st.sampled_from(["syn", "udp"]))]
    argv += draw(st.lists(st.one_of(loopback_targets, loopback_targets, odd_text), max_size=3))
    paths = st.sampled_from(sorted(files.values()))
    out_paths = st.sampled_from(["-", "", str(FUZZ_DIR / "rawscan-fuzz-never-written"),
                                 "/nonexistent/dir/out", "/dev/null"])
    values = {
        "-p": st.one_of(port_specs, port_specs, odd_text), "-iL": paths, "--excludefile": paths,
        "--exclude": st.one_of(loopback_targets, odd_text),
        "-S": st.one_of(loopback_targets, odd_text), "-T": sane_or_odd("0", "3", "5", "6"),
        "--rate": sane_or_odd("10", "5000", "1e6", "0.1"),
        "--retries": sane_or_odd("0", "3", "50", "51"), "--timeout": sane_or_odd("0", "0.5", "30"),
        "--seed": sane_or_odd("0", "1", str(2**63 - 1), str(2**63)),
        "-g": sane_or_odd("1", "53", "65535", "65536"), "--ttl": sane_or_odd("1", "64", "255", "256"),
        "-e": sane_or_odd("lo", "nosuch0"), "--pcap": out_paths, "--resume-file": out_paths,
        "--data-hex": st.one_of(st.text(alphabet="0123456789abcdefABCDEFx \n", max_size=12), odd_text),
        "--data-string": odd_text, "-oX": out_paths, "-oG": out_paths, "-oJ": out_paths,
        "-oC": out_paths, "-oA": out_paths, "--baseline": paths,
    }
    flags = ["--allow-large", "--defeat-icmp-ratelimit", "--open", "-q", "--force", "-6",
             "--all-families"]
    for option in draw(st.lists(st.sampled_from(sorted(values) + flags), max_size=6)):
        argv.append(option)
        if option in values:
            argv.append(draw(values[option]))
    return argv


def check_plan(argv: list[str], plan: object) -> None:
    """What the command would have scanned with: only sane, finite settings."""
    from rawscan.plan import ScanPlan

    assert isinstance(plan, ScanPlan), plan
    assert math.isfinite(plan.rate) and plan.rate > 0, argv
    assert math.isfinite(plan.timeout) and plan.timeout >= 0, argv
    assert 0 <= plan.retries <= 50 and 1 <= plan.ttl <= 255 and 1 <= plan.source_port <= 65535
    assert plan.ports and all(0 <= p <= 65535 for p in plan.ports)
    assert len(plan.targets) >= 1 and plan.sources
    if len(plan.targets) * len(plan.ports) > 2**24:
        assert "--allow-large" in argv  # stdin is no terminal here: nobody could say yes


@fuzz(400)
@given(data=st.data())
def test_scan_command_line(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    files = _target_files(tmp_path_factory.getbasetemp())
    argv = data.draw(scan_argvs(files))
    kind, value, _ = run_cli(argv)
    event(f"{kind} {value if kind == 'exit' else ''}")
    if kind == "plan":
        check_plan(argv, value)
    assert not (FUZZ_DIR / "rawscan-fuzz-never-written").exists()


def test_a_port_spec_with_a_newline_is_still_one_line(tmp_path: Path) -> None:
    kind, code, _ = run_cli(["syn", "127.0.0.1", "-p", "22,8\n0"])
    assert (kind, code) == ("exit", 2)


@pytest.mark.parametrize("argv", [
    ["syn", "127.0.0.1", "-p", "22", "-e", "\udcff"],  # `-e $'\xff'`: str.encode() raised
    ["syn", "127.0.0.1", "-p", "22", "-e", "nosuch0"],
])
def test_an_interface_that_is_not_there_is_one_line(argv: list[str]) -> None:
    kind, code, stderr = run_cli(argv)
    assert (kind, code) == ("exit", 2) and "no network interface" in stderr


def test_data_string_bytes_that_are_not_utf8_are_sent_as_given() -> None:
    """`--data-string $'\xff'` raised UnicodeEncodeError; the user meant the byte 0xff."""
    kind, plan, _ = run_cli(["udp", "127.0.0.1", "-p", "53", "--data-string", "a\udcff"])
    assert kind == "plan" and plan.payload_hex == "61ff"  # type: ignore[attr-defined]


@pytest.mark.parametrize("option, value", [("--rate", "nan"), ("--timeout", "nan"),
                                           ("--timeout", "inf"), ("--rate", "inf")])
def test_non_finite_rate_and_timeout_are_refused(option: str, value: str) -> None:
    """nan passed typer's min= check (every comparison with nan is false) and reached the
    pacer; an infinite --timeout waits forever after the last round."""
    kind, result, _ = run_cli(["syn", "127.0.0.1", "-p", "22", option, value])
    assert kind in ("exit", "usage") and result != 0, (kind, result)
