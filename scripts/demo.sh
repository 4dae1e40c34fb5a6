#!/usr/bin/env bash
# The demo: a real Asterisk 22 (in its chroot) with the example config rendered,
# vaxeld watching it over AMI and publishing to a real mosquitto, and simulated
# callers in five languages. Prints the /metrics address, MQTT state and live figures.
#   bash scripts/demo.sh [--duration SECONDS] [--calls-per-minute N]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m lab.demo "$@"
