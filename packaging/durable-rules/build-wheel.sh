#!/usr/bin/env bash
# Build durable-rules 2.0.28 for one Python from its released sdist, patched for Python 3.13.
#
# Usage: packaging/durable-rules/build-wheel.sh PYTHON OUTDIR
#   PYTHON  an interpreter with the venv module and its headers (Debian: python3-venv python3-dev)
#   OUTDIR  where the wheel goes; a wheel already there for this Python is reused
# Prints the wheel's path on stdout.
#
# Why: 2.0.28 is the last release and ships only an sdist. Its C extension calls
# PyEval_CallObject(), which Python 3.13 removed: gcc 14 (Debian 13) stops at the implicit
# declaration, older compilers build a module that fails to import (undefined symbol). Upstream
# merged the same one-word fix (PyObject_CallObject, same semantics) but never released it.
# The result is versioned 2.0.28+yuqingd.1 (a local version, so `durable-rules==2.0.28` still
# matches) and is byte-for-byte reproducible for a given Python and compiler: the sdist and the
# build backend are pinned by hash, timestamps come from SOURCE_DATE_EPOCH, and build paths are
# mapped out of the debug info. Only the package index is contacted.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
python=${1:?usage: build-wheel.sh PYTHON OUTDIR}
outdir=${2:?usage: build-wheel.sh PYTHON OUTDIR}
version=2.0.28
local_version=$version+yuqingd.1

tag=$("$python" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
for existing in "$outdir"/durable_rules-"$local_version"-"$tag"-"$tag"-*.whl; do
    if [ -f "$existing" ]; then echo "$existing"; exit 0; fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/durable-rules-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
log() { echo "durable-rules: $*" >&2; }

log "building $local_version for $tag"
"$python" -m venv "$work/venv"
pip=("$work/venv/bin/python" -m pip --quiet --disable-pip-version-check --no-input)
"${pip[@]}" install --require-hashes --no-deps -r "$here/build-requirements.txt" >&2
"${pip[@]}" download --require-hashes --no-deps --no-binary :all: --no-build-isolation \
    -d "$work/sdist" -r "$here/requirements.txt" >&2

src=$work/durable_rules-$version
tar -xzf "$work/sdist/durable_rules-$version.tar.gz" -C "$work"
rules_c=$src/src/rulespy/rules.c
found=$(grep -c 'PyEval_CallObject(' "$rules_c" || true)
[ "$found" = 5 ] || { log "expected 5 calls of PyEval_CallObject in rules.c, found $found"; exit 1; }
sed -i 's/PyEval_CallObject(/PyObject_CallObject(/g' "$rules_c"
sed -i "s/version = '$version'/version = '$local_version'/" "$src/setup.py"
grep -q "version = '$local_version'" "$src/setup.py" || { log "could not set the version"; exit 1; }

# setup.py overwrites CFLAGS; CPPFLAGS is appended to every compile as well.
export SOURCE_DATE_EPOCH=1700000000
export CPPFLAGS="${CPPFLAGS:-} -ffile-prefix-map=$src=durable_rules-$version -ffile-prefix-map=$work=."
(cd "$src" && "${pip[@]}" wheel --no-deps --no-build-isolation -w "$work/out" . >&2)

wheel=$(ls "$work"/out/durable_rules-"$local_version"-"$tag"-"$tag"-*.whl)
"$work/venv/bin/python" -m pip install --quiet --no-deps --no-index "$wheel" >&2
"$work/venv/bin/python" -c 'import durable.engine' \
    || { log "the built wheel does not import"; exit 1; }
cp "$wheel" "$outdir/"
log "built $(basename "$wheel")"
echo "$outdir/$(basename "$wheel")"
