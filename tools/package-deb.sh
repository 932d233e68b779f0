#!/usr/bin/env bash
# Builds the Debian package of xo-immutable with dpkg-deb.
#
#   tools/package-deb.sh [--binary PATH] [--output DIR|FILE.deb] [--revision N]
#
# Builds the program with -c opt (unless --binary gives one already built) and writes
# xo-immutable_<version>-<revision>_<arch>.deb into DIR (default: the current folder), or to
# FILE.deb. The version is the program's own (`xo-immutable --version`). The package holds:
#   /usr/bin/xo-immutable
#   /lib/systemd/system/xo-immutable{,-sweep}.{service,timer}   (ExecStart=/usr/bin/xo-immutable)
#   /etc/xo-immutable-backups/config.json                       the commented sample, a conffile
#   /usr/share/man/man8/xo-immutable.8.gz
#   /usr/share/doc/xo-immutable/copyright
# Depends comes from dpkg-shlibdeps (dpkg-dev) on the binary. The maintainer scripts only run
# systemctl (daemon-reload where systemd runs; on removal, disable and stop the timers): they never
# touch the remotes, their flags or the index. Installing enables nothing: see xo-immutable(8).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
binary=
output=.
revision=1
maintainer=${DEB_MAINTAINER:-"xo-immutable maintainers <root@localhost>"}

die() {
  echo "package-deb.sh: $*" >&2
  exit 1
}

while (($#)); do
  case $1 in
    --binary)
      (($# >= 2)) || die "--binary needs a path"
      binary=$2
      shift
      ;;
    --binary=*) binary=${1#*=} ;;
    --output)
      (($# >= 2)) || die "--output needs a folder or a .deb path"
      output=$2
      shift
      ;;
    --output=*) output=${1#*=} ;;
    --revision)
      (($# >= 2)) || die "--revision needs a number"
      revision=$2
      shift
      ;;
    -h | --help)
      sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument \"$1\" (see --help)" ;;
  esac
  shift
done

command -v dpkg-deb >/dev/null || die "dpkg-deb is missing (apt-get install dpkg)"
if [[ -z $binary ]]; then
  (cd "$repo" && bazel build -c opt --jobs=2 //reconciler:xo-immutable)
  binary=$(cd "$repo" && bazel info -c opt bazel-bin 2>/dev/null)/reconciler/xo-immutable
fi
[[ -f $binary && -x $binary ]] || die "$binary: no such executable"
version_line=$("$binary" --version) || die "$binary --version failed"
version=${version_line##* }
[[ $version =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "cannot read a version from \"$version_line\""
arch=$(dpkg --print-architecture)
deb_version=$version-$revision

if [[ -d $output || $output == */ ]]; then
  mkdir -p "$output"
  out=$output/xo-immutable_${deb_version}_$arch.deb
else
  [[ $output == *.deb ]] || die "--output: a folder, or a file name ending in .deb"
  mkdir -p "$(dirname "$output")"
  out=$output
fi

umask 022
stage=$(mktemp -d "${TMPDIR:-/tmp}/xo-immutable-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
pkg=$stage/pkg
mkdir -p "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/lib/systemd/system" "$pkg/etc/xo-immutable-backups" \
  "$pkg/usr/share/man/man8" "$pkg/usr/share/doc/xo-immutable"

install -m 0755 "$binary" "$pkg/usr/bin/xo-immutable"
if command -v strip >/dev/null; then
  strip --strip-unneeded --remove-section=.comment --remove-section=.note "$pkg/usr/bin/xo-immutable"
fi

# The units in tools/systemd name /usr/local/bin (tools/install.sh's path); the package's binary
# is /usr/bin.
for unit in xo-immutable.service xo-immutable.timer xo-immutable-sweep.service \
  xo-immutable-sweep.timer; do
  sed 's#/usr/local/bin/xo-immutable#/usr/bin/xo-immutable#g' "$repo/tools/systemd/$unit" \
    >"$pkg/lib/systemd/system/$unit"
  chmod 0644 "$pkg/lib/systemd/system/$unit"
  if grep -q /usr/local/ "$pkg/lib/systemd/system/$unit"; then
    die "$unit still names /usr/local after the path rewrite"
  fi
done
grep -q '^ExecStart=/usr/bin/xo-immutable ' "$pkg/lib/systemd/system/xo-immutable.service" ||
  die "xo-immutable.service: ExecStart does not start /usr/bin/xo-immutable"

install -m 0644 "$repo/tools/config.sample.json" "$pkg/etc/xo-immutable-backups/config.json"
gzip -9n <"$repo/tools/xo-immutable.8" >"$pkg/usr/share/man/man8/xo-immutable.8.gz"
chmod 0644 "$pkg/usr/share/man/man8/xo-immutable.8.gz"

cat >"$pkg/usr/share/doc/xo-immutable/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: xo-immutable
Comment: Built from the xo-immutable repository with tools/package-deb.sh. The program links
 dynamically against Abseil, Boost.JSON, OpenSSL's libcrypto and the GNU C and C++ libraries,
 whose copyright files ship with their own packages.

Files: *
Copyright: the xo-immutable authors
License: Apache-2.0
 Licensed under the Apache License, Version 2.0 (the "License"); you may not use this
 program except in compliance with the License. Unless required by applicable law or agreed
 to in writing, software distributed under the License is distributed on an "AS IS" BASIS,
 WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 .
 On Debian systems, the full text of the Apache License, Version 2.0 can be found in
 /usr/share/common-licenses/Apache-2.0 (the repository's LICENSE file holds the same text).
EOF
chmod 0644 "$pkg/usr/share/doc/xo-immutable/copyright"

# Depends: what the binary links against, as dpkg-shlibdeps maps it to this system's packages.
command -v dpkg-shlibdeps >/dev/null || die "dpkg-shlibdeps is missing (apt-get install dpkg-dev)"
mkdir -p "$stage/src/debian"
printf 'Source: xo-immutable\n\nPackage: xo-immutable\nArchitecture: any\n' >"$stage/src/debian/control"
if ! line=$(cd "$stage/src" && dpkg-shlibdeps -O "$pkg/usr/bin/xo-immutable" 2>"$stage/shlibdeps.err"); then
  cat "$stage/shlibdeps.err" >&2
  die "dpkg-shlibdeps failed"
fi
depends=${line#shlibs:Depends=}
[[ -n $depends ]] || die "dpkg-shlibdeps found no dependency"

installed_size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat >"$pkg/DEBIAN/control" <<EOF
Package: xo-immutable
Version: $deb_version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_size
Depends: $depends
Recommends: systemd
Suggests: e2fsprogs
Section: admin
Priority: optional
Homepage: https://xen-orchestra.com
Description: makes Xen Orchestra backup remotes immutable (chattr +i)
 A batch reconciler, run every minute by a systemd timer on the storage server
 that holds a Xen Orchestra backup remote: it sets the Linux immutable
 attribute on every finished backup for the remote's immutability duration,
 and lifts it once that has passed, so that nobody reaching the storage
 through XO can delete, overwrite or encrypt a backup in the meantime.
 .
 Nothing is enabled on installation: edit /etc/xo-immutable-backups/config.json,
 give the services write access to the remote roots (xo-immutable(8),
 SYSTEMD), then systemctl enable --now xo-immutable.timer.
EOF

echo /etc/xo-immutable-backups/config.json >"$pkg/DEBIAN/conffiles"

cat >"$pkg/DEBIAN/postinst" <<'EOF'
#!/bin/sh
# Reloads systemd's units where systemd runs. Enables nothing, and never touches the remotes or
# the index.
set -e
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
  systemctl --system daemon-reload >/dev/null || true
fi
exit 0
EOF

cat >"$pkg/DEBIAN/prerm" <<'EOF'
#!/bin/sh
# On removal: disables the timers (so that no enablement link is left dangling) and stops a run
# in progress, which is safe: the next run converges. Never touches the remotes or the index.
set -e
if [ "$1" = remove ] && command -v systemctl >/dev/null 2>&1; then
  systemctl --no-reload disable xo-immutable.timer xo-immutable-sweep.timer >/dev/null 2>&1 || true
  if [ -d /run/systemd/system ]; then
    systemctl --system stop xo-immutable.timer xo-immutable-sweep.timer \
      xo-immutable.service xo-immutable-sweep.service >/dev/null 2>&1 || true
  fi
fi
exit 0
EOF

cat >"$pkg/DEBIAN/postrm" <<'EOF'
#!/bin/sh
# Reloads systemd's units where systemd runs; on purge, drops the timers' Persistent= stamps.
# The remotes, their flags and the index (/var/lib/xo-immutable-backups or the configured
# indexPath) are never touched, not even on purge.
set -e
case "$1" in
  remove | purge)
    if [ -d /run/systemd/system ]; then
      systemctl --system daemon-reload >/dev/null || true
      systemctl --system reset-failed xo-immutable.service xo-immutable-sweep.service \
        >/dev/null 2>&1 || true
    fi
    ;;
esac
if [ "$1" = purge ]; then
  rm -f /var/lib/systemd/timers/stamp-xo-immutable.timer \
    /var/lib/systemd/timers/stamp-xo-immutable-sweep.timer
fi
exit 0
EOF
chmod 0755 "$pkg/DEBIAN/postinst" "$pkg/DEBIAN/prerm" "$pkg/DEBIAN/postrm"

(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
  xargs -0 md5sum) >"$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/md5sums" "$pkg/DEBIAN/control" "$pkg/DEBIAN/conffiles"

dpkg-deb --build --root-owner-group "$pkg" "$out" >/dev/null
echo "$out"
