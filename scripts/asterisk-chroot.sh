#!/usr/bin/env bash
# Build (once) and cache a Debian sid chroot holding Asterisk 22.
# Debian bookworm ships no Asterisk; sid does. The mirror is the one apt on this
# host is already configured with, read from its sources at run time.
#
#   scripts/asterisk-chroot.sh [DIR]     (default: $VAXELD_CHROOT or /var/cache/vaxeld/sid-asterisk)
#
# Prints the chroot path on stdout when it is ready. Needs root.
set -euo pipefail

dir=${1:-${VAXELD_CHROOT:-/var/cache/vaxeld/sid-asterisk}}
stamp="$dir/.vaxeld-ready"

log() { printf 'asterisk-chroot: %s\n' "$*" >&2; }

if [[ -f "$stamp" && -x "$dir/usr/sbin/asterisk" ]]; then
    echo "$dir"
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    log "building the chroot needs root"
    exit 1
fi

mirror_from_apt() {
    # deb822 sources first ("URIs: ..."), then one-line sources ("deb URI suite ...").
    local uri=""
    shopt -s nullglob
    for f in /etc/apt/sources.list.d/*.sources; do
        uri=$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}' "$f")
        [[ -n "$uri" ]] && break
    done
    if [[ -z "$uri" ]]; then
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            [[ -f "$f" ]] || continue
            uri=$(awk '$1=="deb" { for (i=2;i<=NF;i++) if ($i !~ /^\[/ && $i ~ /\/debian\/?$/) {print $i; exit} }' "$f")
            [[ -n "$uri" ]] && break
        done
    fi
    printf '%s' "${uri%/}"
}

if ! command -v debootstrap >/dev/null; then
    log "installing debootstrap"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2
fi

mirror=$(mirror_from_apt)
if [[ -z "$mirror" ]]; then
    log "no Debian mirror found in /etc/apt/sources*; cannot build the chroot"
    exit 1
fi

log "building Debian sid chroot in $dir (about a minute)"
rm -rf "$dir.tmp"
mkdir -p "$(dirname "$dir")"
debootstrap --variant=minbase sid "$dir.tmp" "$mirror" >&2

cleanup() { umount "$dir.tmp/proc" 2>/dev/null || true; }
trap cleanup EXIT
mount --bind /proc "$dir.tmp/proc"
chroot "$dir.tmp" env DEBIAN_FRONTEND=noninteractive \
    apt-get -q -o Acquire::Check-Valid-Until=false update >&2
chroot "$dir.tmp" env DEBIAN_FRONTEND=noninteractive \
    apt-get -q -y -o Acquire::Check-Valid-Until=false install --no-install-recommends \
    asterisk asterisk-core-sounds-en-gsm asterisk-moh-opsound-gsm >&2
cleanup
trap - EXIT

chroot "$dir.tmp" asterisk -V >&2
rm -rf "$dir"
mv "$dir.tmp" "$dir"
touch "$stamp"
echo "$dir"
