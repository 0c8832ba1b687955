#!/bin/bash
# Runs inside a clean root of one Debian release (see build-deb.sh): builds the venv in
# /opt/yuqingd with that release's /usr/bin/python3 and packs the .deb with dpkg-deb.
# Usage: build-in-root.sh SRC OUTDIR REVISION   (SRC: a copy of the repository, with build/man)
set -euo pipefail
src=$1 out=$2 revision=$3
prefix=/opt/yuqingd
pkg=$(mktemp -d /tmp/yuqingd-pkg.XXXXXX)
chmod 0755 "$pkg"  # it becomes the package's / entry
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}

. /etc/os-release
codename=$VERSION_CODENAME
debian_major=${VERSION_ID%%.*}
pyminor=$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
pyfull=$(/usr/bin/python3 -c 'import platform; print(platform.python_version())')
upstream=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$src/yuqingd/__init__.py")
version=$upstream-$revision~deb$debian_major
arch=$(dpkg --print-architecture)

# 1. The venv, built where it will live, so no path in it needs rewriting.
rm -rf "$prefix"
/usr/bin/python3 -m venv "$prefix"
# The venv is tied to this minor version (its site-packages, the C extensions' ABI): name it.
ln -sf "/usr/bin/python$pyminor" "$prefix/bin/python3"
rm -f "$prefix/lib64" "$prefix/.gitignore"  # a symlink nothing uses; 3.13 writes a .gitignore
wheel=$("$src/packaging/durable-rules/build-wheel.sh" "$prefix/bin/python" /tmp/wheels)
"$prefix/bin/python" -m pip install --quiet --no-input --disable-pip-version-check \
    --no-compile "$wheel" "$src"
"$prefix/bin/python" -c 'import durable.engine, systemd.daemon, yuqingd'
# pip and setuptools are not needed at run time; bytecode is compiled by postinst.
"$prefix/bin/python" -m pip uninstall --quiet --yes pip setuptools 2>/dev/null || true
find "$prefix" -name __pycache__ -type d -prune -exec rm -rf {} +
# Every ELF file the wheels brought (extension modules, opencc's helper programs).
"$prefix/bin/python" - "$prefix" <<'PY' | xargs -0 -r strip --strip-unneeded
import os, sys
for folder, _, files in os.walk(sys.argv[1]):
    for name in files:
        path = os.path.join(folder, name)
        if not os.path.islink(path):
            with open(path, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    print(path, end="\0")
PY
rm -f "$prefix"/bin/activate* "$prefix"/bin/Activate.ps1
# Library files that carry an executable bit or a shebang but are not meant to be run.
find "$prefix/lib" -type f -perm /111 ! -name '*.so*' ! -path '*/bin/*' -exec chmod a-x {} +

# 2. The package tree.
mkdir -p "$pkg/DEBIAN" "$pkg/opt" "$pkg/usr/bin" "$pkg/usr/lib/systemd/system" \
    "$pkg/usr/lib/sysusers.d" "$pkg/usr/lib/tmpfiles.d" "$pkg/usr/share/yuqingd/rules" \
    "$pkg/usr/share/doc/yuqingd" "$pkg/usr/share/man/man5" "$pkg/usr/share/man/man8" \
    "$pkg/usr/share/lintian/overrides" "$pkg/etc/yuqingd/rules"
cp -a "$prefix" "$pkg/opt/"
ln -s /opt/yuqingd/bin/yuqingd "$pkg/usr/bin/yuqingd"
install -m 0644 "$src/packaging/systemd/yuqingd.service" "$pkg/usr/lib/systemd/system/"
install -m 0644 "$src/packaging/sysusers.d/yuqingd.conf" "$pkg/usr/lib/sysusers.d/"
install -m 0644 "$src/packaging/tmpfiles.d/yuqingd.conf" "$pkg/usr/lib/tmpfiles.d/"
install -m 0644 "$src"/rules/*.yaml "$pkg/usr/share/yuqingd/rules/"
# Conffiles: 0640 from the start (a config may hold inline secrets); postinst gives the group.
install -m 0640 "$src/etc/yuqingd.yaml" "$pkg/etc/yuqingd/yuqingd.yaml"
install -m 0640 "$src/packaging/debian/local.yaml" "$pkg/etc/yuqingd/rules/local.yaml"
chmod 0750 "$pkg/etc/yuqingd" "$pkg/etc/yuqingd/rules"
for page in "$src"/build/man/*.[58]; do
    section=${page##*.}
    gzip -9n <"$page" >"$pkg/usr/share/man/man$section/$(basename "$page").gz"
done
install -m 0644 "$src/packaging/debian/copyright" "$pkg/usr/share/doc/yuqingd/copyright"
{
    echo "yuqingd ($version) $codename; urgency=medium"
    echo
    echo "  * Built from the yuqingd repository for Debian $debian_major (Python $pyminor)."
    echo
    echo " -- yuqingd developers <yuqingd@example.org>  $(date -R -u -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$pkg/usr/share/doc/yuqingd/changelog.Debian.gz"
install -m 0644 "$src/packaging/debian/lintian-overrides" "$pkg/usr/share/lintian/overrides/yuqingd"

# 3. Maintainer scripts and control.
for script in postinst prerm postrm; do
    install -m 0755 "$src/packaging/debian/$script" "$pkg/DEBIAN/$script"
done
printf '%s\n' /etc/yuqingd/yuqingd.yaml /etc/yuqingd/rules/local.yaml >"$pkg/DEBIAN/conffiles"
# Shared libraries the venv's extension modules link against (libc6, libsystemd0, ...).
mkdir -p "$pkg/debian"
printf 'Source: yuqingd\n\nPackage: yuqingd\nArchitecture: any\n' >"$pkg/debian/control"
mapfile -t objects < <(find "$pkg/opt" -name '*.so*' -type f)
shlibs=$(cd "$pkg" && dpkg-shlibdeps -O --ignore-missing-info -e"${objects[@]}" 2>/dev/null |
    sed -n 's/^shlibs:Depends=//p')
rm -rf "$pkg/debian"
installed_size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat >"$pkg/DEBIAN/control" <<CONTROL
Package: yuqingd
Version: $version
Architecture: $arch
Maintainer: yuqingd developers <yuqingd@example.org>
Installed-Size: $installed_size
Depends: python$pyminor (>= $pyfull), ${shlibs:+$shlibs, }systemd, procps, tzdata
Section: net
Priority: optional
Description: public-opinion monitoring and escalation daemon (舆情监测)
 yuqingd watches what is said online about schools and education bureaus,
 decides with rules written by policy staff what is an incident, and
 escalates it level by level until a person acknowledges. It runs as a
 hardened systemd service (Type=notify, its own user, state in
 /var/lib/yuqingd).
 .
 This build carries its own Python environment in /opt/yuqingd, made for
 Debian $debian_major's Python $pyminor.
CONTROL

mkdir -p "$out"
deb="$out/yuqingd_${version}_$arch.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
rm -rf "$pkg"
echo "$deb"
