#!/bin/bash
# Make DEST a fresh Debian root of RELEASE for PURPOSE, from a cached mmdebstrap tarball.
# Usage (root): packaging/debian/root.sh RELEASE PURPOSE DEST
#   RELEASE  bookworm (Debian 12) or trixie (Debian 13)
#   PURPOSE  build: what building and testing yuqingd needs (Python, compiler, dpkg-dev)
#            boot:  a minimal system to boot with systemd-nspawn -b and install the .deb into
# The tarball is kept in $YUQINGD_ROOT_CACHE (default: build/roots of the checkout) for a week,
# named after the package list, so a changed list makes a new one. apt's package lists are kept:
# the booted check resolves the .deb's Depends from them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
release=${1:?release} purpose=${2:?purpose} dest=${3:?dest}
cache=${YUQINGD_ROOT_CACHE:-$here/../../build/roots}

case $purpose in
    build) packages=python3,python3-venv,python3-dev,gcc,libc6-dev,libsystemd-dev,pkg-config,make,systemd,tzdata,ca-certificates,dpkg-dev,binutils,procps,git ;;
    boot) packages=systemd,systemd-sysv,dbus ;;
    *) echo "root.sh: unknown purpose $purpose" >&2; exit 64 ;;
esac
mkdir -p "$cache"
key=$(printf '%s %s %s' "$release" "$purpose" "$packages" | sha256sum | cut -c1-12)
tarball=$cache/$release-$purpose-$key.tar
partial=$cache/$release-$purpose-$key.partial.tar  # mmdebstrap picks the format by the suffix
(
    flock 9
    if [ -f "$tarball" ] && [ -z "$(find "$tarball" -mtime +7)" ]; then exit 0; fi
    need_debs mmdebstrap
    t=$SECONDS
    mmdebstrap --quiet --mode=root --variant=minbase --include="$packages" \
        --skip=cleanup/apt/lists \
        "$release" "$partial" "$(debian_mirror)" </dev/null
    mv "$partial" "$tarball"
    echo "root.sh: made $release $purpose root in $((SECONDS - t))s" >&2
) 9>"$tarball.lock"
rm -rf "$dest"
mkdir -p "$dest"
tar -xf "$tarball" -C "$dest"
