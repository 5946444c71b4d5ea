"""The staging firewall exposes exactly SSH and HTTPS (rawscan's pytest plugin)."""
import pytest
from rawscan.testing import expect_exposure

EXPECTED = {"198.18.0.2": {"tcp": {22: "open", 443: "open"}, "other": "closed"}}


def test_staging_exposes_only_ssh_and_https(rawscan_replay):
    expect_exposure(rawscan_replay("staging.pcap"), EXPECTED)
