"""A live run: the raw-socket transport (and the --pcap recording around it) for a plan,
handed to a runner (running.run_plan, or the CLI's reporting wrapper of it). The recording's
files are removed again when the run is refused before its first probe."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import RawscanError

if TYPE_CHECKING:
    from ..banners import BannerSettings
    from ..output.options import OutputOptions
    from ..plan import ScanPlan
    from ..transports.base import Transport

R = TypeVar("R")


def ring_frame(reply_bytes: int) -> int:
    """Receive-ring frames that hold reply_bytes after the ring's 80-byte frame header."""
    size = 128
    while size < reply_bytes + 80:
        size *= 2
    return size


def run_live(plan: ScanPlan, interface: str | None, pcap: Path | None, output: OutputOptions,
             runner: Callable[..., R], *, resume_path: str | None = None,
             done: bytes | None = None, banners: BannerSettings | None = None,
             give_up_root: bool = True, network: Transport | None = None,
             **run_options: Any) -> R:
    """Open the live transport (recording it to pcap, when given) and run the plan with
    runner(plan, probe, transport, output, resume_path=..., before_scan=..., done=...,
    banners=..., **run_options). give_up_root: under sudo, become the user in before_scan,
    once every file is open (the CLI; the library cannot take back a process's rights).
    network: another transport in place of the raw sockets (rawscan.testing's simulation)."""
    from ..plan import sidecar_path
    from ..scan import probe_for, uses_batches
    from ..transports.live import LiveTransport
    from ..transports.recording import RecordingTransport

    probe = probe_for(plan)
    if network is not None:
        transport: Transport = network
    else:
        ring = ring_frame(probe.reply_bytes) if uses_batches(plan) else None
        transport = LiveTransport(probe.bpf_filter(), interface, ring_frame=ring)
    created: list[tuple[str, tuple[int, int]]] = []  # the recording's files this run made
    if pcap is not None:  # opened like the outputs: no links, no foreign file without --force
        from ..output.files import check_output, open_binary_output
        from ..output.options import check_outputs

        recording = [(str(pcap), "pcap"), (sidecar_path(str(pcap)), "sidecar")]
        try:
            check_outputs(output)  # before the recording empties anything
            for path, kind in recording:
                check_output(path, kind, force=output.force)
            new = [path for path, _kind in recording if not os.path.lexists(path)]
            with open_binary_output(recording[1][0], "sidecar", force=output.force) as f:
                _note_created(recording[1][0], new, created)
                f.write(plan.to_json().encode())
            pcap_file = open_binary_output(recording[0][0], "pcap", force=output.force)
            _note_created(recording[0][0], new, created)
            transport = RecordingTransport(transport, pcap_file)
        except OSError as exc:
            transport.close()
            _remove_created(created)
            raise RawscanError(f"cannot write '{pcap}': {exc.strerror}") from None
        except BaseException:
            transport.close()
            _remove_created(created)
            raise
    from ..privileges import drop_privileges

    started = False

    def before_scan() -> None:
        nonlocal started
        started = True
        if give_up_root:
            drop_privileges()

    extra = {"banners": banners} if banners is not None else {}  # --banners only
    try:
        return runner(plan, probe, transport, output, resume_path=resume_path,
                      before_scan=before_scan, done=done, **extra, **run_options)
    except BaseException:
        if not started:  # refused before a probe (an output, the resume file): no recording
            _remove_created(created)
        raise


def _note_created(path: str, new: list[str],
                  created: list[tuple[str, tuple[int, int]]]) -> None:
    """Remember a file this run created (by identity, so that a file put there later under the
    same name is never removed)."""
    if path in new:  # just opened without following links: the name is that file
        st = os.lstat(path)
        created.append((path, (st.st_dev, st.st_ino)))


def _remove_created(created: list[tuple[str, tuple[int, int]]]) -> None:
    for path, identity in created:
        try:
            st = os.lstat(path)
            if (st.st_dev, st.st_ino) == identity:
                os.unlink(path)
        except OSError:
            pass  # gone already, or not ours to remove
