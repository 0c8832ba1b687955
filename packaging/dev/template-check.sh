#!/usr/bin/env bash
# The template plugin as an outside author's package (issue 17): yuqingd built as a wheel and
# plugins/template installed beside it into a NEW venv, then the template's own tests run there
# — on virtual time, and `yuqingd run` end to end against loopback servers. Proves a plugin
# works from the public API and the shipped test tools alone (no editable install, no repo
# conftest, no path into this checkout).
#
# Usage: packaging/dev/template-check.sh   (after bootstrap: reuses .venv's interpreter and the
# durable-rules wheel in build/wheels; pip's cache makes the dependency installs local)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
work=build/template-check
T0=$SECONDS

base=$(.venv/bin/python -c 'import sys; print(sys._base_executable)')
# pip's notes about this machine's unreadable extra indexes are noise; its status is kept.
quiet() { "$@" 2> >(grep -v '^WARNING: Location' >&2); }
rm -rf "$work"
mkdir -p "$work/dist"
durable_wheel=$(packaging/durable-rules/build-wheel.sh .venv/bin/python build/wheels)
quiet .venv/bin/python -m pip wheel -q --no-deps -w "$work/dist" .
wheel=$(ls "$work"/dist/yuqingd-*.whl)
# Without its own pip (ensurepip is the slow part of a venv): .venv's pip installs into it.
"$base" -m venv --without-pip "$work/venv"
quiet .venv/bin/python -m pip --python "$work/venv/bin/python" install -q \
    "$durable_wheel" "$wheel" "./plugins/template[test]"
"$work/venv/bin/python" -c 'import yuqingd_example, yuqingd.plugin_api' \
    || { echo "template-check: the install is incomplete" >&2; exit 1; }
echo "template-check: venv ready ($((SECONDS - T0))s)" >&2
# Run from a copy of the tests only, so nothing from this checkout can be imported by accident.
mkdir -p "$work/run"
cp -r plugins/template/tests plugins/template/pyproject.toml "$work/run/"
cd "$work/run"
env -u PYTHONPATH -u YUQINGD_PLUGINS "$repo/$work/venv/bin/python" -m pytest -q -p no:cacheprovider
echo "template-check: done ($((SECONDS - T0))s)" >&2
