"""Resume files: what an interrupted scan had learned, so `rawscan resume FILE` can finish it.

The file holds the scan's plan (the same JSON as a --pcap sidecar: targets, ports, seed,
options) and one bit per endpoint that already has a reported result. The resumed run probes
only the others, so the union of both runs' results is the whole scan, port for port.
"""

from __future__ import annotations

import base64
import json
import zlib

from .errors import RawscanError
from .plan import ScanPlan

DEFAULT_PATH = "rawscan.resume"
MAX_RESUME_FILE = 64 * 1024 * 1024  # 2^32 probes' bits, compressed and base64'd, fit easily


def resume_document(plan: ScanPlan, decided: bytes) -> str:
    done = base64.b64encode(zlib.compress(decided)).decode()
    # the plan stays JSON text inside: ScanPlan.from_json keeps its own format checks
    return json.dumps({"rawscan_resume": 1, "plan": plan.to_json(), "done": done}) + "\n"


def write_resume(path: str, plan: ScanPlan, decided: bytes, force: bool = False) -> None:
    from .output.files import open_binary_output

    with open_binary_output(path, "resume", force=force) as f:
        f.write(resume_document(plan, decided).encode())


class ResumeFile:
    """The resume file, opened (under sudo with the user's rights) when the outputs are, so
    that it can be written after root is given up, in a directory only root could write to;
    written only if the scan is cut short. One this run created is removed if the scan ends."""

    def __init__(self, path: str, force: bool = False) -> None:
        import os

        from .output.files import open_binary_output

        self.path = path
        existed = os.path.lexists(path)
        self._file = open_binary_output(path, "resume", force=force, truncate=False)
        self._created = not existed

    def save(self, plan: ScanPlan, decided: bytes) -> None:
        """The progress, replacing what the file held; OSError if it cannot be written."""
        data = resume_document(plan, decided).encode()
        fd = self._file.fileno()
        import os

        os.ftruncate(fd, 0)
        written = 0
        while written < len(data):
            written += os.pwrite(fd, data[written:], written)
        self._created = False  # it holds progress now: keep it
        self.close()

    def close(self) -> None:
        """Done with it; a file this run made and never wrote is removed (if still the same)."""
        import os

        if self._file.closed:
            return
        try:
            if self._created:
                st, now = os.fstat(self._file.fileno()), os.lstat(self.path)
                if (st.st_dev, st.st_ino) == (now.st_dev, now.st_ino) and st.st_size == 0:
                    os.unlink(self.path)
        except OSError:
            pass  # gone already, or not ours to remove: an empty file stays
        finally:
            self._file.close()


def load_resume(path: str) -> tuple[ScanPlan, bytes]:
    try:
        with open(path, "rb") as f:
            import os

            size = os.fstat(f.fileno()).st_size
            if size > MAX_RESUME_FILE:  # checked first: reading is no cheaper than inflating
                raise ValueError(f"{size:,} bytes, more than any scan's progress needs")
            data = json.loads(f.read(size or MAX_RESUME_FILE))
        if not isinstance(data, dict) or data.get("rawscan_resume") != 1:
            raise ValueError("not a rawscan resume file")
        plan = ScanPlan.from_json(str(data["plan"]), path)
        from .shards import progress_bytes

        expected = progress_bytes(plan)  # a shard's (or its workers') bitmaps
        # the size is known from the plan: inflate no further (a crafted `done` was 8.4 GB)
        inflater = zlib.decompressobj()
        decided = inflater.decompress(base64.b64decode(str(data["done"]), validate=True),
                                      expected + 1)
    except OSError as exc:
        raise RawscanError(f"cannot read resume file '{path}': {exc.strerror}") from None
    except RawscanError:
        raise
    except RecursionError:
        raise RawscanError(f"'{path}' is not a usable rawscan resume file (it nests too "
                           f"deeply)") from None
    except (ValueError, KeyError, TypeError, zlib.error) as exc:
        raise RawscanError(f"'{path}' is not a usable rawscan resume file ({exc})") from None
    if len(decided) != expected:
        raise RawscanError(f"'{path}' is damaged: its progress does not match its scan")
    from .limits import check_scan_numbers

    try:  # the bounds a live scan's options have: a resume is one
        check_scan_numbers(plan.rate, plan.max_rate, plan.timeout)
    except RawscanError as exc:
        raise RawscanError(f"'{path}' is not a usable rawscan resume file ({exc})") from None
    return plan, decided
