#!/usr/bin/env bash
# Install what vaxeld's demo and tests need, on Debian bookworm as root. Idempotent:
# a second run only checks. Creates .venv with vaxeld and its test tools, and the
# cached Debian sid chroot holding Asterisk 22 (scripts/asterisk-chroot.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup: %s\n' "$*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
    log "run as root: the Asterisk lab runs in a chroot and packages are installed with apt"
    exit 1
fi

packages=(debootstrap sip-tester mosquitto prometheus systemd python3 python3-venv python3-pip
          ca-certificates postgresql chromium chromium-driver)
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$pkg")
done
if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${missing[@]}" >&2
fi

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    log "$python is older than 3.11"
    exit 1
fi
stamp=.venv/.vaxeld-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [[ ! -x .venv/bin/python || ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
    log "creating .venv and installing vaxeld with its test tools"
    rm -rf .venv
    "$python" -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip >&2
    .venv/bin/python -m pip install -q -e '.[test]' >&2
    echo "$want" > "$stamp"
else
    .venv/bin/python -m pip install -q --no-deps -e . >&2
fi

# The development tooling in lab/ (the demo's and the tests' Asterisk, callers, fakes) is
# not part of the package: the venv finds it through the repository root.
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$PWD" > "$site/vaxeld-dev-root.pth"

bash scripts/asterisk-chroot.sh >/dev/null
log "ready"
