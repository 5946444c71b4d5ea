"""rawscan analyze: rebuild what scans learned from a saved capture, whichever tool sent them.

  flows.py     one pass over the packets: probes matched to replies, per-endpoint verdicts
  store.py     the compact tables that pass fills (endpoints, sources, interned verdicts)
  sidecar.py   rawscan's own captures: the seed in FILE.json validates their replies
  scanners.py  pure: which sources are scanners, and how they scanned
  report.py    PortResults, the scanner summaries and the table, for the command to print
  progress.py  the progress bar while a large capture is read
"""
