"""The report's lines as pure functions (rawscan/api/summary.py): no console, no scan."""

from __future__ import annotations

from types import SimpleNamespace

from rawscan.analyze.flows import FlowStats
from rawscan.api.summary import analyze_cut_warning, analyze_footer_lines, summary_lines
from rawscan.engine import ScanStats


def test_a_finished_scan_says_what_it_sent_and_ends_with_the_done_line() -> None:
    s = ScanStats(sent=12, retransmitted=2, rounds=3, matched=9, duplicates=1, stray=4,
                  unanswered=1, estimated_loss=0.25, expected_missed=0.3, elapsed=1.234)
    assert summary_lines(s, hosts=2, hosts_up=1, silence_state="filtered") == [
        "Probes: 12 sent (2 retransmitted) in 3 round(s); 9 replies matched, 1 duplicate, "
        "4 stray or forged dropped",
        "Unanswered: 1 port(s) got no reply to up to 3 tries (shown as filtered); reply loss "
        "seen 25% in retries, so if losses were random about 0.3 answering port(s) are among them",
        "rawscan done: 2 IP address(es) (1 host(s) up) scanned in 1.23 seconds",
    ]


def test_an_interrupted_scan_ends_with_what_stopped_it_and_no_done_line() -> None:
    s = ScanStats(sent=5, rounds=1, unanswered=3, interrupted=True, unsent=1)
    lines = summary_lines(s, hosts=1, hosts_up=0, silence_state="open|filtered",
                          banners="Banners: 0 open port(s) connected")
    assert lines[0].startswith("Probes: 4 sent")
    assert lines[1] == "Banners: 0 open port(s) connected"
    assert lines[2].startswith("Not sent: 1 probe(s)")
    assert lines[-1] == "Interrupted: results above are what was learned so far."
    assert not any(line.startswith(("Unanswered", "rawscan done")) for line in lines)
    stopped = summary_lines(s, hosts=1, hosts_up=0, silence_state="filtered", output_failed=True)
    assert stopped[-1].startswith("Stopped: an output could not be written")


def test_analyze_footer_counts_and_the_cut_warning() -> None:
    stats = FlowStats(packets=1500, ipv6=2, matched=1200, duplicates=3, unmatched=4, forged=5,
                      ordinary=6, cut=7, first_time=10.0, last_time=12.5)
    obs = SimpleNamespace(stats=stats)
    assert analyze_footer_lines(obs, ["a.pcap"], [], [object()], 5) == [  # type: ignore[arg-type]
        "No scanners found.",
        "Not shown: 1 source(s) with fewer than 5 probed port(s) or host(s) (--min-probes 1 lists them)",
        "6 ordinary connection(s) (data sent) are not counted as probes",
        "Replies: 1,200 matched, 3 duplicate, 4 answering no probe seen, 5 failed the seed check",
        "rawscan analyze done: 1,500 IP packets (2 IPv6) in 1 file(s) spanning 2.50 s; 0 scanner(s)",
    ]
    assert "7 packet(s) cut short" in (analyze_cut_warning(obs) or "")  # type: ignore[arg-type]
    assert analyze_cut_warning(SimpleNamespace(stats=FlowStats())) is None  # type: ignore[arg-type]
