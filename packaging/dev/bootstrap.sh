#!/usr/bin/env bash
# Prepare a checkout on a fresh Debian machine: system packages, .venv, the package itself.
# Usage: packaging/dev/bootstrap.sh [pip extra, e.g. test]
set -euo pipefail
cd "$(dirname "$0")/../.."
extra="${1:-}"

need_apt=()
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
pkg-config --exists libsystemd 2>/dev/null || need_apt+=(libsystemd-dev)
command -v cc >/dev/null || need_apt+=(gcc)               # durable-rules is built from source
[ -e /usr/include/stdio.h ] || need_apt+=(libc6-dev)
command -v systemd-analyze >/dev/null || need_apt+=(systemd)  # the unit checks in the tests
# zoneinfo reads the system's time zones (Asia/Shanghai); minimal Debian roots lack them.
[ -e /usr/share/zoneinfo/Asia/Shanghai ] || need_apt+=(tzdata)
# The page test (tests/test_http_browser.py) clicks in a real headless Chromium (playwright drives
# Debian's: `playwright install` cannot download one), with CJK fonts for the screenshot.
case ",$extra," in *,test,*)
    command -v chromium >/dev/null || need_apt+=(chromium)
    [ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || need_apt+=(fonts-noto-cjk)
esac

pick_python() {
    # Python 3.11-3.13 (Debian 12 ships 3.11, Debian 13 ships 3.13): the first that is one.
    for candidate in "${PYTHON:-}" python3 python3.13 python3.12 python3.11; do
        [ -n "$candidate" ] && command -v "$candidate" >/dev/null || continue
        if "$candidate" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] < (3, 14)))' \
            2>/dev/null
        then echo "$candidate"; return; fi
    done
}
python="$(pick_python)"
if [ -z "$python" ]; then
    need_apt+=(python3 python3-dev python3-venv)
elif ! "$python" -c 'import ensurepip, sysconfig, os, sys
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null
then
    need_apt+=(python3-dev python3-venv)
fi

if [ ${#need_apt[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "bootstrap: installing ${need_apt[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    [ -n "$python" ] || python="$(pick_python)"
fi
[ -n "$python" ] || { echo "bootstrap: no Python 3.11, 3.12 or 3.13 found" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
# durable-rules 2.0.28 patched for Python 3.13, built once per Python into build/wheels.
durable_wheel=$(packaging/durable-rules/build-wheel.sh .venv/bin/python build/wheels)
spec="."
[ -n "$extra" ] && spec=".[$extra]"
.venv/bin/python -m pip install -q "$durable_wheel" -e "$spec"
.venv/bin/python -c 'import durable.engine, systemd.daemon, yuqingd' \
    || { echo "bootstrap: the install is incomplete" >&2; exit 1; }
