#!/bin/bash
# `make deb`: build the .deb of each named Debian release (in parallel) and run lintian on each.
# Usage (root): packaging/debian/make-debs.sh OUTDIR RELEASE...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
out=${1:?usage: make-debs.sh OUTDIR RELEASE...}
shift
need_debs mmdebstrap systemd-container pandoc lintian
mkdir -p "$out"
"$here/../man/build.sh" "$here/../../build/man" >/dev/null  # once, before the parallel builds
export YUQINGD_MAN_BUILT=1
pids=()
for release in "$@"; do
    "$here/build-deb.sh" "$release" "$out" >"$out/.$release.path" 2>"$out/.$release.log" &
    pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
    release=${*:i+1:1}
    if wait "${pids[$i]}"; then
        echo "built $(cat "$out/.$release.path")"
    else
        echo "FAILED: the $release .deb; its log:" >&2
        tail -n 40 "$out/.$release.log" >&2
        failed=1
    fi
done
[ "$failed" = 0 ] || exit 1
for release in "$@"; do
    deb=$(cat "$out/.$release.path")
    # Errors fail the build; warnings are shown. Overrides are justified in lintian-overrides.
    if lintian --fail-on error --tag-display-limit 0 "$deb" >"$out/.lintian.log" 2>&1; then
        grep -v "root privileges" "$out/.lintian.log" || true
        echo "lintian: $(basename "$deb"): no errors"
    else
        cat "$out/.lintian.log" >&2
        echo "FAILED: lintian reports errors for $(basename "$deb")" >&2
        exit 1
    fi
    rm -f "$out/.lintian.log"
    rm -f "$out/.$release.path" "$out/.$release.log"
done
