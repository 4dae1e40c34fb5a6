#!/usr/bin/env bash
# The whole test suite: lint, types, unit tests and the real stack (Asterisk 22 in a
# chroot, SIPp). Does its own set-up on a fresh Debian bookworm machine as root.
#   bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy --strict"
.venv/bin/mypy
echo "== import layers (lint-imports: shell > adapters > core > contract)"
.venv/bin/lint-imports --no-cache
echo "== pytest"
set +e
.venv/bin/pytest -ra "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
    echo "pytest collected no tests: that is a failure here, not a pass" >&2
    exit 1
fi
exit $rc
