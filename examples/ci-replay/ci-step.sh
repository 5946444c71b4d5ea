#!/bin/sh
# The CI step: replay the recorded scan and check the exposure (no root, no network).
#   (GitHub Actions: `- run: sh examples/ci-replay/ci-step.sh`)
# The lab job (as root, where 198.18.0.2 is reachable) refreshes the capture first:
#   sudo .venv/bin/python -m pytest examples/ci-replay --rawscan-record
set -eu
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
"$PYTHON" -m pytest -q -p no:cacheprovider .
