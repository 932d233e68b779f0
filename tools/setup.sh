#!/usr/bin/env bash
# Installs everything xo-immutable needs to build, test and benchmark on Debian 12.
# Idempotent: packages already present are left alone, so re-running is cheap and safe.
set -euo pipefail

packages=(
  bazel-bootstrap            # Bazel 4.2.3, Debian's offline build
  g++                        # GCC 12: the C++20 compiler Bazel's auto-configured toolchain uses
  libabsl-dev                # Abseil (Status, StatusOr, Time, strings, flat_hash_map)
  libboost-json1.81-dev      # Boost.JSON: configuration and reports
  libtomlplusplus-dev        # toml++: XO's config.toml
  libssl-dev                 # libcrypto: SHA-256 of index entry names
  libgtest-dev libgmock-dev  # GoogleTest
  libbenchmark-dev           # Google Benchmark (bench/)
  pkg-config                 # link flags of Abseil's modules (tools/fuzz.sh)
  e2fsprogs                  # chattr/lsattr: demo and benchmarks show flags with them
  strace                     # bench/e2e.sh: system-call counts (strace -c -f)
  time                       # bench/e2e.sh: /usr/bin/time, CPU time and peak RSS
  faketime                   # integration tests move the wall clock past the duration
  util-linux                 # setpriv (least-privilege tests), mount, flock, losetup
  xfsprogs                   # mkfs.xfs, xfs_db: tests on real XFS loop filesystems
  btrfs-progs                # mkfs.btrfs: tests on real btrfs loop filesystems
  libxml2-utils              # xmllint: tests validate the JUnit report against its schema
  clang libclang-rt-14-dev   # libFuzzer targets (tools/fuzz.sh)
  systemd                    # systemd-analyze: tests verify and score the units
  man-db                     # man: systemd-analyze verify checks the units' man: pages
  groff-base                 # groff: tests check the man page for warnings
  dpkg-dev                   # dpkg-shlibdeps: the .deb's Depends (tools/package-deb.sh)
  python3                    # tools/install.sh reads the remote roots from the configuration
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup.sh: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "setup.sh: all build and test dependencies are installed"
