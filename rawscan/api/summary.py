"""The report's text: pure functions of a finished run, so the CLI prints the lines and the
API keeps them (ScanResult.summary), and tests read them without a console."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..analyze.flows import Observations
    from ..analyze.scanners import SourceSummary
    from ..engine import ScanStats
    from ..plan import ScanPlan

# Lines the CLI shows with their first word in bold.
EMPHASISED = ("Stopped:", "Interrupted:")


def rate_words(plan: ScanPlan) -> str:
    """The rate as the start line states it: fixed, or where an adaptive one starts and ends."""
    if plan.max_rate is None:
        return f"rate {plan.rate:g}/s"
    return f"rate adaptive from {plan.rate:g}/s up to {plan.max_rate:g}/s"


def start_line(plan: ScanPlan, proto: str, version: str) -> str:
    return (f"Starting rawscan {version} ({plan.scan} scan of {len(plan.targets)} host(s) x "
            f"{len(plan.ports)} {proto} port(s), {rate_words(plan)}, seed {plan.seed})")


def rate_line(s: ScanStats) -> str:
    """What rate the scan went at, and (adaptive) what the path allowed."""
    line = f"Rate: first round sent at {s.send_rate:,.0f} probes/s"
    if s.adaptive and not s.path_rate:
        line += f" (adaptive, at most {s.max_rate:,.0f}/s; too few probes to measure the path)"
    elif s.adaptive:
        line += f"; the path allowed about {s.path_rate:,.0f} probes/s"
        if s.rate_losses:
            line += f" (backed off {s.rate_losses} time(s) on loss"
        else:
            line += " (no loss seen"
        line += f"; adaptive, at most {s.max_rate:,.0f}/s)"
    else:
        line += " (fixed --rate)"
    if s.kernel_drops:
        line += f"; {s.kernel_drops} repl(ies) dropped by this host's kernel before being read"
    return line


def probes_line(s: ScanStats) -> str:
    """What was sent and what came back (a port scan's report and ping's)."""
    return (f"Probes: {s.sent - s.unsent} sent ({s.retransmitted} retransmitted) in {s.rounds} "
            f"round(s); {s.matched} replies matched, {s.duplicates} duplicate, {s.stray} stray "
            f"or forged dropped")


def sending_lines(s: ScanStats) -> list[str]:
    """The rate the path allowed, and the probes this host refused to send (when any)."""
    lines = [rate_line(s)] if s.send_rate else []
    if s.unsent:
        lines.append(f"Not sent: {s.unsent} probe(s) were refused by this host (no route to "
                     f"the target, or its firewall): they never left")
    return lines


def summary_lines(s: ScanStats, *, hosts: int, hosts_up: int, silence_state: str,
                  banners: str | None = None, output_failed: bool = False) -> list[str]:
    """What the report says after the table: probes, rate, what is unsure, how it ended.
    silence_state: the state of a port that got no reply (filtered, open|filtered);
    banners: the banner phase's summary line, when --banners ran."""
    lines = [probes_line(s)]
    if banners is not None:
        lines.append(banners)
    lines += sending_lines(s)
    if s.unanswered and not s.interrupted:
        tries = f"{s.rounds} tr{'y' if s.rounds == 1 else 'ies'}"
        if s.matched == 0:
            sureness = "no reply came at all"
        else:
            sureness = (f"reply loss seen {s.estimated_loss:.0%} in retries, so if losses were "
                        f"random about {s.expected_missed:.2g} answering port(s) are among them")
        lines.append(f"Unanswered: {s.unanswered} port(s) got no reply to up to {tries} "
                     f"(shown as {silence_state}); {sureness}")
    if s.unverified:
        lines.append(f"Unverified: {s.unverified} bare RST/SYN repl(ies) carried no cookie to "
                     f"check; {s.unverified_ports} port(s) got nothing better and are shown "
                     f"with them (reason bare-reset or split-handshake-syn)")
    if s.lowest_rate:
        lines.append(f"Retransmissions got answers (replies were lost): the rate went down "
                     f"to {s.lowest_rate:g}/s for retry rounds")
    if s.icmp_rate_limited:
        lines.append(
            "ICMP rate limiting seen: closed ports were learned at the target's ICMP error rate "
            "(give -S several source addresses to go faster, or --defeat-icmp-ratelimit to "
            "accept open|filtered)")
    if output_failed and s.interrupted:
        lines.append("Stopped: an output could not be written; results above are what was "
                     "learned so far.")
    elif s.interrupted:
        lines.append("Interrupted: results above are what was learned so far.")
    else:
        lines.append(f"rawscan done: {hosts} IP address(es) ({hosts_up} host(s) up) scanned in "
                     f"{s.elapsed:.2f} seconds")
    return lines


def analyze_footer_lines(obs: Observations, paths: Sequence[str],
                         scanners: Sequence[SourceSummary], others: Sequence[SourceSummary],
                         min_probes: int) -> list[str]:
    """What `rawscan analyze` says after the tables."""
    st = obs.stats
    lines = []
    if not scanners:
        lines.append("No scanners found.")
    if others:
        lines.append(f"Not shown: {len(others):,} source(s) with fewer than {min_probes} probed "
                     f"port(s) or host(s) (--min-probes 1 lists them)")
    if st.ordinary:
        lines.append(f"{st.ordinary:,} ordinary connection(s) (data sent) are not counted as "
                     f"probes")
    lines.append(f"Replies: {st.matched:,} matched, {st.duplicates:,} duplicate, "
                 f"{st.unmatched:,} answering no probe seen"
                 + (f", {st.forged:,} failed the seed check" if st.forged else ""))
    span = (st.last_time or 0.0) - (st.first_time or 0.0)
    v6 = f" ({st.ipv6:,} IPv6)" if st.ipv6 else ""
    lines.append(f"rawscan analyze done: {st.packets:,} IP packets{v6} in {len(paths)} file(s) "
                 f"spanning {max(span, 0.0):.2f} s; {len(scanners)} scanner(s)")
    return lines


def analyze_cut_warning(obs: Observations) -> str | None:
    """The warning for packets too short to read, if any were skipped."""
    if not obs.stats.cut:
        return None
    return (f"{obs.stats.cut:,} packet(s) cut short before their TCP/UDP/ICMP header ended "
            f"(the capture's snaplen, or malformed) were skipped")
