"""rawscan analyze: rebuild what scans learned from a saved capture, whichever tool sent them.

  flows.py     one pass over the packets: probes matched to replies, per-endpoint verdicts
  store.py     the compact tables that pass fills (endpoints, sources, interned verdicts)
  sidecar.py   rawscan's own captures: the seed in FILE.json validates their replies
  scanners.py  pure: which sources are scanners, and how they scanned
  report.py    PortResults, the scanner summaries and the table, for the command to print
  progress.py  the progress bar while a large capture is read
"""

import sys as _sys
import types as _types


class _Analyze(_types.ModuleType):
    """`rawscan.analyze` is both this package and the library's analyze(*captures): Python
    makes a package's attribute its subpackage once that is imported, so the package is
    callable (rawscan/api/public.py has the function)."""

    def __call__(self, *captures: object, min_probes: int = 5) -> object:
        from ..api.public import analyze

        return analyze(*captures, min_probes=min_probes)  # type: ignore[arg-type]  # checked there


_sys.modules[__name__].__class__ = _Analyze
