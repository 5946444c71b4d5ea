"""rawscan resume keeps the first run's --banners: from the plan's fields, or (for a scan that
did not set them) from its command line as the scan command parses it."""

from __future__ import annotations

from dataclasses import replace

from rawscan.banners import DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT
from rawscan.commands.resume import banner_settings
from rawscan.plan import ScanPlan
from rawscan.targets import TargetSet

PLAN = ScanPlan(scan="syn", targets=TargetSet(((0xC6120002, 0xC6120002),), {}), ports=(22, 80),
                seed=7, sources=(0xC6120001,), source_port=40000,
                argv=("syn", "198.18.0.2", "-p", "22,80"))


def test_no_banners_stay_off() -> None:
    assert banner_settings(PLAN) is None


def test_banners_come_back_from_the_command_line() -> None:
    plan = replace(PLAN, argv=(*PLAN.argv, "--banners", "--banner-timeout=1.5",
                               "--banner-concurrency", "9", "-oJ", "x.jsonl"))
    settings = banner_settings(plan)
    assert settings is not None
    assert (settings.timeout, settings.concurrency, settings.udp) == (1.5, 9, False)
    plain = banner_settings(replace(PLAN, argv=(*PLAN.argv, "--banners")))
    assert plain is not None and (plain.timeout, plain.concurrency) == (DEFAULT_TIMEOUT, DEFAULT_CONCURRENCY)


def test_udp_banners_decode_replies_only() -> None:
    plan = replace(PLAN, scan="udp", argv=("udp", "198.18.0.2", "-p", "53", "--banners"))
    settings = banner_settings(plan)
    assert settings is not None and settings.udp


def test_plan_fields_win_and_survive_the_file() -> None:
    plan = replace(PLAN, banner_timeout=2.5, banner_concurrency=17)
    back = ScanPlan.from_json(plan.to_json(), "test")
    assert (back.banner_timeout, back.banner_concurrency) == (2.5, 17)
    settings = banner_settings(back)
    assert settings is not None and (settings.timeout, settings.concurrency) == (2.5, 17)
    assert ScanPlan.from_json(PLAN.to_json(), "test").banner_timeout is None


def test_odd_command_lines_give_no_banners() -> None:
    for argv in ((), ("nonsense",), ("syn", "--banner-timeout", "x", "--banners"), ("syn", "--no-such")):
        result = banner_settings(replace(PLAN, argv=argv))
        assert result is None or result.timeout == DEFAULT_TIMEOUT
