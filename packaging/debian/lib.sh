# Shell functions shared by the Debian build and check scripts (sourced, bash).
# They run systemd-nspawn on a host without systemd as PID 1 (hence --register=no --keep-unit),
# whose cgroups may be the hybrid v1 layout.

# The Debian mirror apt is configured with (MIRROR overrides it).
debian_mirror() {
    if [ -n "${MIRROR:-}" ]; then echo "$MIRROR"; return; fi
    local found
    found=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
        grep -v -e security -e '^$' | grep -i debian | head -n1 || true)
    [ -n "$found" ] || found=$(sed -n 's/^deb \(\[[^]]*\] \)\?\([^ ]*\) .*/\2/p' \
        /etc/apt/sources.list 2>/dev/null | grep -v security | head -n1 || true)
    echo "${found:-http://deb.debian.org/debian}"
}

# Install the Debian tools a step needs, once (apt-get update only when something is missing).
need_debs() {
    local missing=() tool
    for tool in "$@"; do
        case $tool in
            mmdebstrap) command -v mmdebstrap >/dev/null || missing+=(mmdebstrap) ;;
            systemd-container) command -v systemd-nspawn >/dev/null || missing+=(systemd-container) ;;
            pandoc) command -v pandoc >/dev/null || missing+=(pandoc) ;;
            lintian) command -v lintian >/dev/null || missing+=(lintian) ;;
            man-db) command -v man >/dev/null || missing+=(man-db groff-base) ;;
            *) dpkg -s "$tool" >/dev/null 2>&1 || missing+=("$tool") ;;
        esac
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing ${missing[*]}" >&2
    # Several scripts may run at once (CI builds in parallel); apt takes one at a time.
    flock /var/lib/apt/yuqingd-need-debs.lock sh -c '
        apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"' \
        sh "${missing[@]}" >/dev/null
}

# nspawn --keep-unit leaves payload/ and supervisor/ cgroups next to its own; running each
# nspawn from a cgroup of ours makes them ours to remove. Call in a subshell: it moves it.
NSPAWN_CGROUP=yuqingd-nspawn.$$
join_own_cgroup() {
    local hierarchy
    for hierarchy in systemd unified; do
        if [ -d "/sys/fs/cgroup/$hierarchy" ] && [ -w "/sys/fs/cgroup/$hierarchy" ]; then
            mkdir -p "/sys/fs/cgroup/$hierarchy/$NSPAWN_CGROUP"
            echo "$BASHPID" >"/sys/fs/cgroup/$hierarchy/$NSPAWN_CGROUP/cgroup.procs"
        fi
    done
}
remove_own_cgroups() {
    local hierarchy
    for hierarchy in systemd unified; do
        [ -d "/sys/fs/cgroup/$hierarchy/$NSPAWN_CGROUP" ] || continue
        find "/sys/fs/cgroup/$hierarchy/$NSPAWN_CGROUP" -depth -type d -exec rmdir {} + \
            2>/dev/null || true
    done
}

# The CA bundle this machine trusts, for pip inside a root (the host may reach the package
# index through a proxy with its own CA).
host_ca_bundle() {
    local bundle=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
    [ -f "$bundle" ] && echo "$bundle"
}

# Run a command in ROOT (not booted), with the host's network, as root.
#   in_root ROOT [nspawn options...] -- command...
in_root() {
    local root=$1
    shift
    local opts=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
    shift
    local ca
    ca=$(host_ca_bundle || true)
    [ -z "$ca" ] || opts+=("--bind-ro=$ca:/etc/ssl/certs/ca-certificates.crt")
    (
        join_own_cgroup
        exec systemd-nspawn -q -D "$root" --machine="yuqingd-root-$BASHPID" --register=no --keep-unit --pipe \
            --setenv=CI="${CI:-}" --setenv=LANG=C.UTF-8 "${opts[@]}" "$@" </dev/null
    )
}
