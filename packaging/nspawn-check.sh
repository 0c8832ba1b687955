#!/bin/bash
# Tier-2 packaging check: run yuqingd under a real systemd (PID 1 in a systemd-nspawn container).
#
# Builds wheels of yuqingd and its dependencies, makes a Debian bookworm rootfs with mmdebstrap,
# installs the venv in /opt/yuqingd with the unit, sysusers.d, tmpfiles.d and the example config,
# boots the rootfs, then checks what an operator would see: the notify handshake and STATUS,
# the watchdog, an RSS fetch from a feed served in the container, an incident written by the jsonl
# notifier, `yuqingd status`/`ack` over the control socket as the yuqingd user (other users can't),
# reload (good and bad config), a bad config failing without a restart loop, restart after a
# crash, and a clean stop.
#
# Measured on a 2-core Debian 12 host: about 60-70 s, most of it mmdebstrap (25-30 s).
# Written for a host without systemd as PID 1 (hence --register=no --keep-unit) whose cgroups are
# the hybrid v1 layout (/sys/fs/cgroup/{systemd,unified}).
#
# Usage (as root):  packaging/nspawn-check.sh [WORKDIR]
#   WORKDIR defaults to a new folder under /var/tmp and is removed afterwards unless KEEP=1.
#   MIRROR overrides the Debian mirror (default: the first one apt is configured with).
# Needs: apt-get install --no-install-recommends systemd-container mmdebstrap
#        and, to build the wheels: python3-venv gcc python3-dev libsystemd-dev pkg-config
# Network: the build steps need the Debian mirror and the Python package index; the container
# itself runs with --private-network (only lo), so nothing it does leaves the machine.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
OWN_WORK=0
if [ -n "${1:-}" ]; then
    WORK=$1
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d /var/tmp/yuqingd-nspawn.XXXXXX)
    OWN_WORK=1
fi
ROOTFS=$WORK/rootfs
MACHINE=yuqingd-check-$$
CGROUP=yuqingd-nspawn-check.$$
NSPAWN_PID=
LEADER=
FAILED=0
T0=$SECONDS

log() { printf '[%3ds] %s\n' $((SECONDS - T0)) "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILED=1; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap --mode=root and systemd-nspawn)"
for tool in mmdebstrap systemd-nspawn nsenter /usr/bin/python3; do
    command -v "$tool" >/dev/null || die "missing $tool"
done

if [ -z "${MIRROR:-}" ]; then
    MIRROR=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
        grep -v security | head -n1 || true)
    MIRROR=${MIRROR:-http://deb.debian.org/debian}
fi

# nspawn --keep-unit puts payload/ and supervisor/ cgroups next to its own and leaves them behind;
# running every nspawn from a cgroup of ours makes them ours to remove.
# Call it in a subshell only: it moves the calling process.
join_own_cgroup() {
    for hierarchy in systemd unified; do
        if [ -d "/sys/fs/cgroup/$hierarchy" ]; then
            mkdir -p "/sys/fs/cgroup/$hierarchy/$CGROUP"
            echo "$BASHPID" >"/sys/fs/cgroup/$hierarchy/$CGROUP/cgroup.procs"
        fi
    done
}
NSPAWN_RUN_EXISTED=0
[ -e /run/systemd/nspawn ] && NSPAWN_RUN_EXISTED=1

cleanup() {
    local rc=$?
    if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
        [ -n "$LEADER" ] && nsenter -t "$LEADER" -a systemctl --no-block poweroff 2>/dev/null || true
        for _ in $(seq 40); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.5; done
        kill -TERM "$NSPAWN_PID" 2>/dev/null || true
        for _ in $(seq 20); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$NSPAWN_PID" 2>/dev/null || true
        wait "$NSPAWN_PID" 2>/dev/null || true
    fi
    for hierarchy in systemd unified; do
        [ -d "/sys/fs/cgroup/$hierarchy/$CGROUP" ] || continue
        find "/sys/fs/cgroup/$hierarchy/$CGROUP" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
    [ "$NSPAWN_RUN_EXISTED" = 1 ] || rm -rf /run/systemd/nspawn
    if [ "${KEEP:-0}" != 1 ] && [ "$OWN_WORK" = 1 ]; then rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. Wheels, built with Debian's python3 so they match the container's python3.11. ---------------
t=$SECONDS
/usr/bin/python3 -m venv "$WORK/build-venv"
"$WORK/build-venv/bin/pip" wheel -q --wheel-dir "$WORK/wheels" "$REPO"
ls "$WORK"/wheels/yuqingd-*.whl >/dev/null || die "no yuqingd wheel was built"
T_WHEELS=$((SECONDS - t)); log "wheels built (${T_WHEELS}s)"

# 2. Root file system. procps provides /bin/kill for ExecReload=. ------------------------------------
t=$SECONDS
mmdebstrap --quiet --mode=root --variant=minbase \
    --include=systemd,systemd-sysv,dbus,python3,python3-venv,procps \
    bookworm "$ROOTFS" "$MIRROR" </dev/null
T_ROOTFS=$((SECONDS - t)); log "rootfs made (${T_ROOTFS}s)"

# 3. Install: venv in /opt, unit, sysusers, tmpfiles, config and a rule file, a local feed. -------
t=$SECONDS
mkdir -p "$ROOTFS/wheels"
cp "$WORK"/wheels/*.whl "$ROOTFS/wheels/"
(
    join_own_cgroup
    exec systemd-nspawn -q -D "$ROOTFS" --register=no --keep-unit --private-network \
        /bin/sh -ec 'python3 -m venv /opt/yuqingd
            /opt/yuqingd/bin/pip install -q --no-index --find-links /wheels yuqingd
            rm -rf /wheels'
)
install -m 0644 "$REPO/packaging/systemd/yuqingd.service" "$ROOTFS/lib/systemd/system/"
install -D -m 0644 "$REPO/packaging/sysusers.d/yuqingd.conf" "$ROOTFS/usr/lib/sysusers.d/yuqingd.conf"
install -D -m 0644 "$REPO/packaging/tmpfiles.d/yuqingd.conf" "$ROOTFS/usr/lib/tmpfiles.d/yuqingd.conf"
mkdir -p "$ROOTFS/etc/yuqingd/rules"
# The shipped example, with its feed pointed at the server below.
sed 's|url: https://[^ ]*|url: http://127.0.0.1:8080/feed.xml|' "$REPO/etc/yuqingd.yaml" \
    >"$ROOTFS/etc/yuqingd/yuqingd.yaml"
grep -q 'url: http://127.0.0.1:8080/feed.xml' "$ROOTFS/etc/yuqingd/yuqingd.yaml" ||
    die "could not point the example config's rss source at the local feed"
cp "$REPO/rules/demo.yaml" "$ROOTFS/etc/yuqingd/rules/local.yaml"
mkdir -p "$ROOTFS/srv/feed"
cat >"$ROOTFS/srv/feed/feed.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>县新闻</title><link>http://127.0.0.1:8080/</link>
<item><guid>n1</guid><title>六处学校教师体罚学生</title><description>家长反映体罚</description></item>
<item><guid>n2</guid><title>六处学校食堂食物中毒</title><description>多名学生送医</description></item>
<item><guid>n3</guid><title>耒阳六处学校被指隐瞒</title><description>校方隐瞒情况</description></item>
</channel></rss>
EOF
cat >"$ROOTFS/etc/systemd/system/feed-server.service" <<'EOF'
[Unit]
Description=local RSS feed for the yuqingd check
Before=yuqingd.service
[Service]
ExecStart=/usr/bin/python3 -m http.server 8080 --bind 127.0.0.1 --directory /srv/feed
[Install]
WantedBy=multi-user.target
EOF
T_INSTALL=$((SECONDS - t)); log "installed into rootfs (${T_INSTALL}s)"

# 4. Boot. --system-call-filter=bpf lets systemd in the container enforce IPAddressDeny=. -------
t=$SECONDS
(
    join_own_cgroup
    exec systemd-nspawn -q -b -D "$ROOTFS" --machine="$MACHINE" --register=no --keep-unit \
        --private-network --system-call-filter=bpf --console=pipe
) >"$WORK/console.log" 2>&1 </dev/null &
NSPAWN_PID=$!
for _ in $(seq 100); do
    LEADER=$(pgrep -P "$NSPAWN_PID" | head -n1 || true)
    [ -n "$LEADER" ] && break
    sleep 0.1
done
[ -n "$LEADER" ] || die "container did not start; see $WORK/console.log"

ct() { nsenter -t "$LEADER" -a env SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"; }
state=
for _ in $(seq 120); do
    state=$(ct systemctl is-system-running 2>/dev/null || true)
    case $state in running | degraded) break ;; esac
    sleep 0.25
done
case $state in running | degraded) ;; *) die "container did not boot (state: $state)" ;; esac
T_BOOT=$((SECONDS - t)); log "booted: $state (${T_BOOT}s)"

# 5. What the package's postinst would do, then the checks. ------------------------------------
t=$SECONDS
show() { ct systemctl show -P "$1" yuqingd.service; }
expect() { # expect DESCRIPTION ACTUAL PATTERN (a grep -E pattern)
    if printf '%s\n' "$2" | grep -Eq -- "$3"; then log "ok: $1"; else fail "$1: got '$2'"; fi
}
wait_for() { # wait_for DESCRIPTION SECONDS COMMAND... : until COMMAND succeeds
    local what=$1 limit=$2
    shift 2
    for _ in $(seq $((limit * 4))); do "$@" >/dev/null 2>&1 && { log "ok: $what"; return 0; }; sleep 0.25; done
    fail "$what (waited ${limit}s)"
}
as_yuqingd() { ct runuser -u yuqingd -- /opt/yuqingd/bin/yuqingd "$@"; }
status_has() { show StatusText | grep -q -- "$1"; }
watchdog_pinged() { [ "$(show WatchdogTimestampMonotonic)" -gt 0 ]; }
journal_has() { ct journalctl -u yuqingd --no-pager -o cat | grep -q -- "$1"; }

ct systemd-sysusers
ct systemd-tmpfiles --create /usr/lib/tmpfiles.d/yuqingd.conf
ct chown -R root:yuqingd /etc/yuqingd
ct chmod 0640 /etc/yuqingd/yuqingd.yaml /etc/yuqingd/rules/local.yaml
ct systemctl daemon-reload
ct systemctl enable --now feed-server.service
as_yuqingd check --config /etc/yuqingd/yuqingd.yaml >/dev/null || fail "yuqingd check as yuqingd"
t_start=$SECONDS
# Type=notify: `systemctl start` returns once READY=1 arrived (or the start failed).
if ct systemctl enable --now yuqingd.service; then
    log "ok: started in $((SECONDS - t_start))s"
else
    fail "systemctl start yuqingd"
fi
expect "active" "$(ct systemctl is-active yuqingd || true)" '^active$'
expect "Type=notify" "$(show Type)" '^notify$'
expect "runs as yuqingd" "$(show User)" '^yuqingd$'
expect "watchdog 30s" "$(show WatchdogUSec)" '^30s$'
expect "STATUS= text" "$(show StatusText)" '^信息源 '
wait_for "feed fetched: status shows 1/1 sources healthy" 30 status_has '信息源 1/1 正常'
wait_for "watchdog pinged" 20 watchdog_pinged
expect "state dir 0700 yuqingd" "$(ct stat -c '%a %U' /var/lib/yuqingd)" '^700 yuqingd$'
expect "control socket 0600 yuqingd" "$(ct stat -c '%a %U %F' /run/yuqingd/control.sock)" '^600 yuqingd socket$'
wait_for "incident written by the jsonl notifier" 30 ct grep -q '六处学校' /var/lib/yuqingd/alerts.jsonl
expect "database in the state dir" "$(ct stat -c '%U' /var/lib/yuqingd/yuqingd.sqlite3 || true)" '^yuqingd$'

status_out=$(as_yuqingd status 2>&1) || fail "yuqingd status as the yuqingd user: $status_out"
expect "yuqingd status lists the incident" "$status_out" $'\topen\t'
incident=$(printf '%s\n' "$status_out" | awk -F'\t' '$2 == "open" {print $1; exit}')
if [ -n "$incident" ]; then
    expect "yuqingd ack as the yuqingd user" "$(as_yuqingd ack "$incident" --by 张明 2>&1 || true)" '已确认'
fi
if other_out=$(ct runuser -u nobody -- /opt/yuqingd/bin/yuqingd status 2>&1); then
    fail "another user could use the control socket"
else
    log "ok: another user is refused (cannot read the config): $(printf '%s\n' "$other_out" | tail -n1)"
fi
expect "journald fields" "$(ct journalctl -u yuqingd -o verbose --no-pager | grep -m1 'YUQINGD_EVENT=daemon.ready' || true)" 'daemon.ready'

# Reload: a good config is applied; a bad one is rejected and the old one keeps running.
pid=$(show MainPID)
ct systemctl reload yuqingd
wait_for "reload applied" 20 journal_has reload.done
ct cp -p /etc/yuqingd/yuqingd.yaml /etc/yuqingd/yuqingd.yaml.good
echo 'shutdown_grase: 5s' | ct tee -a /etc/yuqingd/yuqingd.yaml >/dev/null
ct systemctl reload yuqingd
wait_for "bad reload reported in STATUS" 20 status_has '重新加载失败'
expect "still active after a bad reload" "$(ct systemctl is-active yuqingd || true)" '^active$'
expect "same process after reloads" "$(show MainPID)" "^$pid\$"

# A bad config at start: exit 78, unit failed, no restart loop.
ct systemctl stop yuqingd
if ct systemctl start yuqingd 2>/dev/null; then fail "start with a bad config succeeded"; fi
sleep 6  # longer than RestartSec=, to see that no restart happens
expect "bad config: exit status 78" "$(show ExecMainStatus)" '^78$'
expect "bad config: no restart" "$(show NRestarts)" '^0$'
expect "bad config: failed" "$(ct systemctl is-active yuqingd || true)" '^failed$'
ct mv /etc/yuqingd/yuqingd.yaml.good /etc/yuqingd/yuqingd.yaml
ct systemctl reset-failed yuqingd

# Restart, then a clean stop: STOPPING=1, drain, exit 0, runtime dir removed.
ct systemctl restart yuqingd || fail "restart"
expect "active after restart" "$(ct systemctl is-active yuqingd || true)" '^active$'
# A crash (SIGKILL) is restarted after RestartSec=, with a fresh control socket.
pid=$(show MainPID)
ct systemctl kill -s KILL yuqingd
restarted() { [ "$(show NRestarts)" = 1 ] && [ "$(ct systemctl is-active yuqingd)" = active ]; }
wait_for "restarted after SIGKILL" 20 restarted
expect "new process after the crash" "$(show MainPID)" "^[1-9][0-9]*\$"
[ "$(show MainPID)" != "$pid" ] || fail "same MainPID after SIGKILL"
expect "yuqingd status after the crash" "$(as_yuqingd status 2>&1 | head -n1)" '^信息源 '
t_stop=$SECONDS
ct systemctl stop yuqingd
log "stopped in $((SECONDS - t_stop))s"
expect "clean stop: Result" "$(show Result)" '^success$'
expect "clean stop: exit status 0" "$(show ExecMainStatus)" '^0$'
expect "runtime dir removed" "$(ct sh -c 'test -e /run/yuqingd && echo present || echo gone')" '^gone$'
T_CHECKS=$((SECONDS - t))

if [ "$FAILED" != 0 ]; then
    echo "---- journalctl -u yuqingd ----" >&2
    ct journalctl -u yuqingd --no-pager -n 80 >&2 || true
fi

# 6. Power off (cleanup also handles the failure paths). ---------------------------------------
t=$SECONDS
ct systemctl --no-block poweroff || true
for _ in $(seq 80); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.25; done
wait "$NSPAWN_PID" 2>/dev/null || true
NSPAWN_PID=
T_OFF=$((SECONDS - t))

log "timings: wheels=${T_WHEELS}s rootfs=${T_ROOTFS}s install=${T_INSTALL}s boot=${T_BOOT}s checks=${T_CHECKS}s poweroff=${T_OFF}s total=$((SECONDS - T0))s"
if [ "$FAILED" != 0 ]; then
    echo "nspawn check FAILED" >&2
    exit 1
fi
echo "nspawn check passed"
