#!/bin/bash
# The booted check: install a built yuqingd .deb into a fresh Debian root booted with systemd
# (systemd-nspawn -b), and check what an operator would see.
#
# The .deb's postinst creates the user and starts the unit (READY, STATUS); then, with a feed
# served inside the container: an incident from the feed, the journal's structured fields,
# `yuqingd ack` as the service user (other users refused), `systemctl reload` with a broken rule
# (refused, said so in STATUS and by `yuqingd reload`, the old rules keep opening incidents), a
# bad config at start (exit 78, no restart loop), `kill -9` (restarted by systemd, nothing lost,
# no alert repeated), `apt install` of a newer build (upgraded in place: migrated, restarted,
# state and local config kept), `apt purge` (all gone), and the unit's exposure score.
#
# Usage (root): packaging/nspawn-check.sh RELEASE DEB [WORKDIR]
#   RELEASE bookworm or trixie (the release DEB was built for); WORKDIR defaults to a new folder
#   under /var/tmp, removed afterwards unless KEEP=1. Roots are cached as root.sh says.
# Written for a host without systemd as PID 1 (hence --register=no --keep-unit). The container
# runs with --private-network (only lo): apt fetches the .deb's dependencies before the boot.
# Measured on a 2-core Debian 12 host: about 60 s per release with a cached root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/debian/lib.sh"
RELEASE=${1:?usage: nspawn-check.sh RELEASE DEB [WORKDIR]}
DEB=$(realpath "${2:?usage: nspawn-check.sh RELEASE DEB [WORKDIR]}")
OWN_WORK=0
if [ -n "${3:-}" ]; then
    WORK=$3
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d /var/tmp/yuqingd-nspawn.XXXXXX)
    OWN_WORK=1
fi
ROOTFS=$WORK/rootfs
NSPAWN_PID=
LEADER=
FAILED=0
T0=$SECONDS

log() { printf '[%s %3ds] %s\n' "$RELEASE" $((SECONDS - T0)) "$*"; }
fail() { printf '[%s] FAIL: %s\n' "$RELEASE" "$*" >&2; FAILED=1; }
die() { printf '[%s] ERROR: %s\n' "$RELEASE" "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (systemd-nspawn)"
need_debs systemd-container mmdebstrap

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
    remove_own_cgroups
    if [ "${KEEP:-0}" != 1 ] && [ "$OWN_WORK" = 1 ]; then rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. A fresh root; the .deb and a newer build of it; the dependencies fetched. -----------------
t=$SECONDS
"$here/debian/root.sh" "$RELEASE" boot "$ROOTFS"
mkdir -p "$ROOTFS/debs" "$WORK/repack"
cp "$DEB" "$ROOTFS/debs/old.deb"
# The newer build: the same payload with the next Debian revision, as a rebuild would have.
dpkg-deb -R "$DEB" "$WORK/repack/pkg"
old_version=$(sed -n 's/^Version: //p' "$WORK/repack/pkg/DEBIAN/control")
new_version=$(echo "$old_version" | sed -E 's/-([0-9]+)(~|$)/-\1+rebuild1\2/')
sed -i "s/^Version: .*/Version: $new_version/" "$WORK/repack/pkg/DEBIAN/control"
dpkg-deb --root-owner-group -Zxz -z1 --build "$WORK/repack/pkg" "$ROOTFS/debs/new.deb" >/dev/null
in_root "$ROOTFS" -- sh -ec 'apt-get -qq update 2>/dev/null || true
    apt-get install -qq --download-only --no-install-recommends -y /debs/old.deb >/dev/null'
# A feed for the rss source, served in the container once the package brought a Python.
mkdir -p "$ROOTFS/srv/feed"
feed() { # feed GUID... : one negative item per GUID, about its entity
    {
        echo '<?xml version="1.0" encoding="UTF-8"?>'
        echo '<rss version="2.0"><channel><title>县新闻</title><link>http://127.0.0.1:8080/</link>'
        local guid
        for guid in "$@"; do
            case $guid in
                n*) echo "<item><guid>$guid</guid><title>六处学校教师体罚学生 $guid</title><description>家长反映体罚</description></item>" ;;
                c*) echo "<item><guid>$guid</guid><title>城关二中食堂饭菜变质 $guid</title><description>学生投诉无门</description></item>" ;;
            esac
        done
        echo '</channel></rss>'
    } >"$ROOTFS/srv/feed/feed.xml.new"
    mv "$ROOTFS/srv/feed/feed.xml.new" "$ROOTFS/srv/feed/feed.xml"
}
feed n1 n2 n3
cat >"$ROOTFS/etc/systemd/system/feed-server.service" <<'EOF'
[Unit]
Description=local RSS feed for the yuqingd check
[Service]
ExecStart=/opt/yuqingd/bin/python -m http.server 8080 --bind 127.0.0.1 --directory /srv/feed
EOF
T_PREPARE=$((SECONDS - t)); log "root ready, dependencies fetched (${T_PREPARE}s)"

# 2. Boot. ---------------------------------------------------------------------------------------
t=$SECONDS
(
    join_own_cgroup
    exec systemd-nspawn -q -b -D "$ROOTFS" --machine="yuqingd-check-$RELEASE-$$" --register=no --keep-unit --private-network \
        --system-call-filter=bpf --console=pipe
) >"$WORK/console.log" 2>&1 </dev/null &
NSPAWN_PID=$!
for _ in $(seq 100); do
    LEADER=$(pgrep -P "$NSPAWN_PID" | head -n1 || true)
    [ -n "$LEADER" ] && break
    sleep 0.1
done
[ -n "$LEADER" ] || die "container did not start; see $WORK/console.log"
ct() { nsenter -t "$LEADER" -a env SYSTEMD_PAGER= SYSTEMD_COLORS=0 LANG=C.UTF-8 "$@"; }
state=
for _ in $(seq 120); do
    state=$(ct systemctl is-system-running 2>/dev/null || true)
    case $state in running | degraded) break ;; esac
    sleep 0.25
done
case $state in running | degraded) ;; *) die "container did not boot (state: $state)" ;; esac
T_BOOT=$((SECONDS - t)); log "booted: $state (${T_BOOT}s)"

# 3. The checks. ------------------------------------------------------------------------------
t=$SECONDS
show() { ct systemctl show -P "$1" yuqingd.service; }
expect() { # expect DESCRIPTION ACTUAL PATTERN (a grep -E pattern)
    if printf '%s\n' "$2" | grep -Eq -- "$3"; then log "ok: $1"; else fail "$1: got '$2'"; fi
}
same() { # same DESCRIPTION ACTUAL EXPECTED : exact comparison, any number of lines
    if [ "$2" = "$3" ]; then log "ok: $1"; else fail "$1: got '$2', expected '$3'"; fi
}
wait_for() { # wait_for DESCRIPTION SECONDS COMMAND... : until COMMAND succeeds
    local what=$1 limit=$2
    shift 2
    for _ in $(seq $((limit * 4))); do "$@" >/dev/null 2>&1 && { log "ok: $what"; return 0; }; sleep 0.25; done
    fail "$what (waited ${limit}s)"
}
as_yuqingd() { ct runuser -u yuqingd -- yuqingd "$@"; }
status_has() { show StatusText | grep -q -- "$1"; }
# Notification ids in the jsonl file, sorted, one a line (each must appear once).
alert_ids() { ct /opt/yuqingd/bin/python -c 'import json
for line in open("/var/lib/yuqingd/alerts.jsonl", encoding="utf-8"): print(json.loads(line)["id"])' | sort; }
alerts_about() { ct grep -q -- "$1" /var/lib/yuqingd/alerts.jsonl; }
apt_in() { ct env DEBIAN_FRONTEND=noninteractive apt-get -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confold "$@"; }

# Install: postinst creates the user and starts the unit with the packaged config.
apt_in install /debs/old.deb >"$WORK/apt-install.log" 2>&1 || { cat "$WORK/apt-install.log" >&2; die "apt install"; }
expect "installed $old_version" "$(ct dpkg-query -W -f '${Version}' yuqingd)" "^${old_version//+/\\+}\$"
expect "started by postinst: active (READY=1 received)" "$(ct systemctl is-active yuqingd || true)" '^active$'
expect "Type=notify" "$(show Type)" '^notify$'
expect "runs as yuqingd" "$(show User)" '^yuqingd$'
expect "systemctl status shows the STATUS line" \
    "$(ct systemctl status yuqingd --no-pager | grep 'Status:' || true)" 'Status: "信息源 '
expect "config root:yuqingd 0640" "$(ct stat -c '%a %U:%G' /etc/yuqingd/yuqingd.yaml)" '^640 root:yuqingd$'
expect "man pages installed" "$(ct ls /usr/share/man/man8/yuqingd.8.gz /usr/share/man/man5/yuqingd.yaml.5.gz /usr/share/man/man5/yuqingd-rules.5.gz | wc -l)" '^3$'
exposure=$(ct systemd-analyze security --no-pager yuqingd.service 2>/dev/null | sed -n 's/.*Overall exposure level for yuqingd.service: \([0-9.]*\).*/\1/p')
expect "systemd-analyze security exposure $exposure <= 1.2" "$(awk -v e="${exposure:-99}" 'BEGIN {print (e <= 1.2) ? "ok" : "too high"}')" '^ok$'
expect "packaged config passes check as yuqingd" "$(as_yuqingd check 2>&1 || true)" '配置正确'

# The operator's configuration: the local feed, fast polling, the demo rules as local rules.
ct sed -i -e 's|^\( *\)url: https://[^ ]*|\1url: http://127.0.0.1:8080/feed.xml|' \
    -e 's|interval: 5m |interval: 2s |' -e 's|^  - /usr/share/yuqingd/rules/education-bureau.yaml.*||' \
    /etc/yuqingd/yuqingd.yaml
ct cp /usr/share/yuqingd/rules/demo.yaml /etc/yuqingd/rules/local.yaml
ct systemctl start feed-server.service
ct systemctl restart yuqingd || fail "restart with the local config"
wait_for "feed fetched: STATUS shows 1/1 sources healthy" 30 status_has '信息源 1/1 正常'
wait_for "incident written by the jsonl notifier" 30 alerts_about '六处学校'
expect "state dir 0700 yuqingd" "$(ct stat -c '%a %U' /var/lib/yuqingd)" '^700 yuqingd$'
expect "journal field YUQINGD_EVENT=daemon.ready" \
    "$(ct journalctl -u yuqingd -o verbose --no-pager YUQINGD_EVENT=daemon.ready | grep -c 'YUQINGD_EVENT=daemon.ready' || true)" '^[1-9]'
status_out=$(as_yuqingd status 2>&1) || fail "yuqingd status as yuqingd: $status_out"
incident=$(printf '%s\n' "$status_out" | awk -F'\t' '$2 == "待确认" || $2 == "open" {print $1; exit}')
expect "yuqingd status lists the incident" "$incident" '^[0-9]{8}-[0-9]{3}$'
expect "yuqingd ack as the service user" "$(as_yuqingd ack "$incident" --by 张明 2>&1 || true)" '已确认'
if other=$(ct runuser -u nobody -- yuqingd status 2>&1); then
    fail "another user could use the control socket"
else
    log "ok: another user is refused: $(printf '%s\n' "$other" | tail -n1)"
fi

# Reload with a broken rule: refused, said so; the old rules keep working.
pid=$(show MainPID)
ct cp -p /etc/yuqingd/rules/local.yaml /etc/yuqingd/local.yaml.good
printf '  - id: broken\n    title: 坏规则\n    match: {entity: any}\n    threshold: {count: many}\n' |
    ct tee -a /etc/yuqingd/rules/local.yaml >/dev/null
ct systemctl reload yuqingd
wait_for "bad reload reported in STATUS" 20 status_has '重新加载失败'
reload_code=0
reload_out=$(as_yuqingd reload 2>&1) || reload_code=$?
expect "yuqingd reload refuses (exit 78)" "$reload_code" '^78$'
expect "yuqingd reload says where the error is" "$reload_out" 'local.yaml:[0-9]+:[0-9]+: '
expect "journal: reload.rejected" "$(ct journalctl -u yuqingd -o verbose --no-pager YUQINGD_EVENT=reload.rejected | grep -c 'YUQINGD_EVENT=reload.rejected' || true)" '^[1-9]'
expect "still active, same process" "$(ct systemctl is-active yuqingd) $(show MainPID)" "^active $pid\$"
feed n1 n2 n3 c1 c2 c3
wait_for "old rules still open incidents after the refused reload" 30 alerts_about '城关第二中学'
ct mv /etc/yuqingd/local.yaml.good /etc/yuqingd/rules/local.yaml

# A bad config at start: exit 78, unit failed, no restart loop.
ct cp -p /etc/yuqingd/yuqingd.yaml /etc/yuqingd/yuqingd.yaml.good
echo 'shutdown_grase: 5s' | ct tee -a /etc/yuqingd/yuqingd.yaml >/dev/null
ct systemctl stop yuqingd
if ct systemctl start yuqingd 2>/dev/null; then fail "start with a bad config succeeded"; fi
sleep 6  # longer than RestartSec=, to see that no restart happens
expect "bad config: exit 78, no restart, failed" \
    "$(show ExecMainStatus) $(show NRestarts) $(ct systemctl is-active yuqingd || true)" '^78 0 failed$'
ct mv /etc/yuqingd/yuqingd.yaml.good /etc/yuqingd/yuqingd.yaml
ct systemctl reset-failed yuqingd
ct systemctl start yuqingd || fail "start after fixing the config"
wait_for "running again" 20 status_has '信息源 1/1 正常'

# kill -9: systemd restarts it; nothing lost, no alert repeated.
before_incidents=$(as_yuqingd incidents --all 2>&1 | cut -f1,2 | sort)
before_alerts=$(alert_ids)
pid=$(show MainPID)
ct systemctl kill -s KILL yuqingd
restarted() { [ "$(show NRestarts)" -ge 1 ] && [ "$(ct systemctl is-active yuqingd)" = active ] &&
    [ "$(show MainPID)" != "$pid" ]; }
wait_for "restarted by systemd after kill -9" 20 restarted
wait_for "serving again after the crash" 20 status_has '信息源 1/1 正常'
sleep 3  # a few polls of the same feed: they must open nothing new and repeat nothing
[ "$(printf '%s\n' "$before_incidents" | wc -l)" -ge 3 ] ||  # header + two incidents
    fail "expected two incidents before the crash: $before_incidents"
same "incidents kept across kill -9" "$(as_yuqingd incidents --all 2>&1 | cut -f1,2 | sort)" \
    "$before_incidents"
after_alerts=$(alert_ids)
same "every alert sent before the crash is still recorded" \
    "$(comm -23 <(echo "$before_alerts") <(echo "$after_alerts"))" ""
same "no alert repeated (each notification id once)" "$(echo "$after_alerts" | uniq -d)" ""

# Upgrade in place with apt: prerm stops, postinst migrates and starts; state and config kept.
pid=$(show MainPID)
apt_in install /debs/new.deb >"$WORK/apt-upgrade.log" 2>&1 || { cat "$WORK/apt-upgrade.log" >&2; fail "apt upgrade"; }
expect "upgraded to $new_version" "$(ct dpkg-query -W -f '${Version}' yuqingd)" "^${new_version//+/\\+}\$"
expect "postinst migrated the database" "$(cat "$WORK/apt-upgrade.log")" '数据库架构版本 [0-9]+ → [0-9]+'
expect "restarted by the upgrade" "$(ct systemctl is-active yuqingd) $(show MainPID)" "^active [0-9]+\$"
[ "$(show MainPID)" != "$pid" ] || fail "same process after the upgrade"
expect "local config kept by the upgrade" "$(ct grep -c '127.0.0.1:8080' /etc/yuqingd/yuqingd.yaml)" '^1$'
same "incidents kept by the upgrade" "$(as_yuqingd incidents --all 2>&1 | cut -f1,2 | sort)" \
    "$before_incidents"
expect "the acknowledgement kept" "$(as_yuqingd incident "$incident" 2>&1 || true)" '张明'

# Purge: everything goes.
apt_in purge yuqingd >"$WORK/apt-purge.log" 2>&1 || { cat "$WORK/apt-purge.log" >&2; fail "apt purge"; }
same "purged: nothing left" "$(ct sh -c 'dpkg-query -W -f "\${db:Status-Abbrev}" yuqingd 2>/dev/null | grep -q "^ii" && echo installed
    for p in /opt/yuqingd /etc/yuqingd /var/lib/yuqingd /usr/lib/systemd/system/yuqingd.service; do
        if [ -e $p ]; then echo "left: $p"; fi; done')" ""
expect "service gone" "$(ct systemctl is-active yuqingd 2>&1 || true)" '^(inactive|unknown)$'
T_CHECKS=$((SECONDS - t))

if [ "$FAILED" != 0 ]; then
    echo "---- journalctl -u yuqingd ----" >&2
    ct journalctl -u yuqingd --no-pager -n 60 >&2 || true
fi

# 4. Power off (cleanup also handles the failure paths). ---------------------------------------
t=$SECONDS
ct systemctl --no-block poweroff || true
for _ in $(seq 80); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.25; done
wait "$NSPAWN_PID" 2>/dev/null || true
NSPAWN_PID=
T_OFF=$((SECONDS - t))

log "timings: prepare=${T_PREPARE}s boot=${T_BOOT}s checks=${T_CHECKS}s poweroff=${T_OFF}s total=$((SECONDS - T0))s"
if [ "$FAILED" != 0 ]; then
    echo "[$RELEASE] booted check FAILED" >&2
    exit 1
fi
echo "[$RELEASE] booted check passed"
