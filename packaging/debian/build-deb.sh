#!/bin/bash
# Build the yuqingd .deb for one Debian release, inside a clean root of that release.
# Usage (root): packaging/debian/build-deb.sh RELEASE OUTDIR [REVISION]
#   RELEASE: bookworm (Debian 12, Python 3.11) or trixie (Debian 13, Python 3.13)
# Prints the .deb's path. `make deb` runs it for both releases.
#
# Why dpkg-deb around a venv rather than dh-virtualenv: the venv must be made with the target
# release's own python3 (its minor version is what the package Depends on), so the build runs in
# a root of that release either way; there, plain dpkg-deb needs no source package, no debhelper
# compat quirks (dh-virtualenv's sysusers step is missing before compat 14) and builds in about
# half the time. The maintainer scripts are the ones dh_installsystemd would write, by hand.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
release=${1:?usage: build-deb.sh RELEASE OUTDIR [REVISION]}
outdir=${2:?usage: build-deb.sh RELEASE OUTDIR [REVISION]}
revision=${3:-1}
[ "$(id -u)" = 0 ] || { echo "build-deb.sh: run as root (mmdebstrap, systemd-nspawn)" >&2; exit 1; }
need_debs mmdebstrap systemd-container
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

work=$(mktemp -d /var/tmp/yuqingd-deb.XXXXXX)
cleanup() { remove_own_cgroups; rm -rf "$work"; }
trap cleanup EXIT

# make-debs.sh builds the pages once for its parallel builds and says so.
[ -n "${YUQINGD_MAN_BUILT:-}" ] || "$repo/packaging/man/build.sh" "$repo/build/man" >/dev/null
"$here/root.sh" "$release" build "$work/buildroot"
mkdir -p "$work/buildroot/src" "$work/buildroot/out"
if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$repo" && git ls-files -co --exclude-standard -z | xargs -0 tar -cf - --no-recursion) |
        tar -xf - -C "$work/buildroot/src"
else
    tar -C "$repo" --exclude=./.venv --exclude=./build --exclude=./.git -cf - . |
        tar -xf - -C "$work/buildroot/src"
fi
mkdir -p "$work/buildroot/src/build"
cp -a "$repo/build/man" "$work/buildroot/src/build/"
pip_cache=${YUQINGD_PIP_CACHE:-$repo/build/pip-cache}
mkdir -p "$pip_cache"
in_root "$work/buildroot" --bind="$pip_cache:/var/cache/pip" --setenv=PIP_CACHE_DIR=/var/cache/pip -- \
    /src/packaging/debian/build-in-root.sh /src /out "$revision" >&2
deb=$(ls "$work"/buildroot/out/*.deb)
cp "$deb" "$outdir/"
echo "$outdir/$(basename "$deb")"
