#!/usr/bin/env bash
# Installs xo-immutable from this checkout, or removes it again.
#
#   tools/install.sh                   build with -c opt, install (as root)
#   tools/install.sh --no-build        install the last -c opt build (bazel-out/k8-opt/bin/...)
#   tools/install.sh --binary PATH     install that binary (implies --no-build)
#   tools/install.sh --uninstall       remove what install.sh installed
#   DESTDIR=/some/root tools/install.sh ...   (or --root DIR) act below DIR instead of /
#
# Installs:
#   /usr/local/bin/xo-immutable                                   the program
#   /usr/local/lib/systemd/system/xo-immutable{,-sweep}.{service,timer}
#   /usr/local/share/man/man8/xo-immutable.8                      the man page
#   /etc/xo-immutable-backups/config.json                         sample, only if none exists
#   /etc/systemd/system/xo-immutable{,-sweep}.service.d/50-remote-roots.conf
#       ReadWritePaths= for every remote root of the configuration (the units are sandboxed with
#       ProtectSystem=strict); rewritten at every install, from the configuration then in place.
#
# Idempotent: a file already up to date is left alone (a second run changes nothing), and an
# existing configuration is never overwritten. --uninstall stops and disables the timers, removes
# those files (the configuration only if it is still the unedited sample) and never touches the
# remotes, the index (/var/lib/xo-immutable-backups) or drop-ins of your own (override.conf).
# systemctl daemon-reload runs only when systemd is the running init and no DESTDIR is given.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
root=${DESTDIR:-}
build=1
binary=
uninstall=0

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }
die() {
  echo "install.sh: $*" >&2
  exit 1
}

while (($#)); do
  case $1 in
    --no-build) build=0 ;;
    --binary)
      (($# >= 2)) || die "--binary needs a path"
      binary=$2 build=0
      shift
      ;;
    --binary=*) binary=${1#*=} build=0 ;;
    --root)
      (($# >= 2)) || die "--root needs a folder"
      root=$2
      shift
      ;;
    --root=*) root=${1#*=} ;;
    --uninstall) uninstall=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown argument \"$1\" (see --help)" ;;
  esac
  shift
done

if [[ -n $root ]]; then
  [[ -d $root ]] || die "$root: no such folder"
  root=$(cd "$root" && pwd)
  [[ $root == / ]] && root=
fi
if [[ -z $root && $(id -u) -ne 0 ]]; then
  die "installing into / needs root (or give DESTDIR=/some/root)"
fi

# Final paths (as the running system sees them); each is written below $root.
bin_path=/usr/local/bin/xo-immutable
unit_dir=/usr/local/lib/systemd/system
man_path=/usr/local/share/man/man8/xo-immutable.8
config_dir=/etc/xo-immutable-backups
config_path=$config_dir/config.json
toml_path=$config_dir/config.toml  # XO's daemon's: the program reads it when config.json is missing
dropin_name=50-remote-roots.conf
services=(xo-immutable.service xo-immutable-sweep.service)
timers=(xo-immutable.timer xo-immutable-sweep.timer)
units=("${services[@]}" "${timers[@]}")

# systemd is the running init (what sd_booted() checks), and we act on this machine.
systemd_running() { [[ -z $root && -d /run/systemd/system ]]; }

# install_file SRC DEST MODE: installs SRC at $root/DEST unless it is already there, identical,
# with that mode. Prints what it did.
install_file() {
  local src=$1 dest=$root$2 mode=$3
  if [[ -f $dest && ! -L $dest ]] && cmp -s "$src" "$dest" &&
    [[ $(stat -c %a "$dest") == "${mode#0}" ]]; then
    echo "  unchanged  $2"
    return
  fi
  mkdir -p "$(dirname "$dest")"
  install -m "$mode" "$src" "$dest"
  echo "  installed  $2"
}

# remove_file DEST: removes $root/DEST if it is there.
remove_file() {
  if [[ -e $root$1 || -L $root$1 ]]; then
    rm -f "$root$1"
    echo "  removed    $1"
  fi
}

# remove_dir_if_empty DIR
remove_dir_if_empty() {
  if [[ -d $root$1 ]] && rmdir "$root$1" 2>/dev/null; then echo "  removed    $1/"; fi
}

# Prints "root<TAB>PATH" per remote and "index<TAB>PATH" for a non-default indexPath, read from
# the configuration $1 (JSON with // and /* */ comments and trailing commas). Fails when no
# parser is available or the file cannot be parsed.
config_paths() {
  local config=$1
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$config" <<'PY'
import json, sys

def strip(text):
    # Drops // and /* */ comments and trailing commas outside strings (Boost.JSON's
    # allow_comments and allow_trailing_commas, as the program parses it).
    out, i, n, in_string = [], 0, len(text), False
    while i < n:
        c = text[i]
        if in_string:
            out.append(c)
            if c == '\\' and i + 1 < n:
                out.append(text[i + 1])
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
            out.append(c)
        elif text.startswith('//', i):
            while i < n and text[i] != '\n':
                i += 1
            continue
        elif text.startswith('/*', i):
            end = text.find('*/', i + 2)
            if end < 0:
                raise ValueError('unterminated /* comment')
            i = end + 2
            continue
        elif c in '}]':
            j = len(out) - 1
            while j >= 0 and out[j] in ' \t\r\n':
                j -= 1
            if j >= 0 and out[j] == ',':
                del out[j]
            out.append(c)
        else:
            out.append(c)
        i += 1
    return ''.join(out)

path = sys.argv[1]
if path.endswith('.toml'):
    import tomllib  # Python 3.11, Debian 12's
    with open(path, 'rb') as f:
        doc = tomllib.load(f)
else:
    with open(path, encoding='utf-8') as f:
        doc = json.loads(strip(f.read()))
index = doc.get('indexPath')
if isinstance(index, str) and index.rstrip('/') not in ('', '/var/lib/xo-immutable-backups'):
    print('index\t' + index)
for remote in (doc.get('remotes') or {}).values():
    if isinstance(remote, dict) and isinstance(remote.get('root'), str):
        print('root\t' + remote['root'])
PY
  elif [[ $config != *.toml ]] && command -v jq >/dev/null 2>&1; then
    # jq knows no comments: drop whole-line // comments (as in the sample) and hope for the best.
    sed -e 's#^[[:space:]]*//.*$##' "$config" | jq -r '
      (if (.indexPath // "" | rtrimstr("/")) as $i
          | $i != "" and $i != "/var/lib/xo-immutable-backups"
       then "index\t" + .indexPath else empty end),
      (.remotes // {} | to_entries[] | .value.root // empty | "root\t" + .)'
  else
    echo "install.sh: no python3 (nor jq for JSON) to read $config" >&2
    return 1
  fi
}

# One ReadWritePaths= value: "-" (a missing path is no error: the run reports that remote
# unusable and goes on), quoted when it holds blanks, "%" doubled (a systemd specifier).
# Fails for paths systemd could misread.
rw_value() {
  local path=$1
  [[ $path == /* ]] || return 1
  [[ $path =~ [\"\\[:cntrl:]] ]] && return 1
  path=${path//%/%%}
  if [[ $path =~ [[:space:]] ]]; then
    printf '"-%s"' "$path"
  else
    printf -- '-%s' "$path"
  fi
}

manual_dropin_help() {
  cat <<EOF
  Give the service write access to every remote root yourself:
    systemctl edit ${services[*]}
  and add, in each:
    [Service]
    ReadWritePaths=-/path/of/remote/root ...
EOF
}

# Writes the ReadWritePaths= drop-in of both services from the installed configuration.
write_dropins() {
  local config=$config_path lines kind path value body warnings=()
  [[ -e $root$config_path || ! -e $root$toml_path ]] || config=$toml_path
  if ! lines=$(config_paths "$root$config"); then
    echo "install.sh: could not read the remote roots from $config; no drop-in written." >&2
    manual_dropin_help >&2
    return 0
  fi
  body="# Written by xo-immutable's install.sh from $config at every install:
# the remote roots (and a non-default indexPath) the sandboxed service may write to.
# Put settings of your own in another drop-in (systemctl edit writes override.conf).
[Service]
"
  while IFS=$'\t' read -r kind path; do
    [[ -n $kind ]] || continue
    if ! value=$(rw_value "$path"); then
      warnings+=("$path: not a path this script can write into a unit; add it by hand")
      continue
    fi
    body+="ReadWritePaths=$value"$'\n'
    case $path in
      /tmp | /tmp/* | /var/tmp | /var/tmp/*)
        warnings+=("$path: below /tmp or /var/tmp, which the service sees private (PrivateTmp=yes)")
        ;;
    esac
    if [[ $kind == index && ! -d $root$path ]]; then
      # shellcheck disable=SC2174  # 0700 for the index folder itself; its parents as usual
      mkdir -p -m 0700 "$root$path"
      echo "  created    $path/ (indexPath)"
    fi
    if [[ $kind == root && -d $root$path && $(stat -c %u "$root$path") != 0 ]]; then
      warnings+=("$path: not owned by root; the service has no CAP_DAC_OVERRIDE and must create files in it: see xo-immutable(8), SYSTEMD")
    fi
  done <<<"$lines"
  local tmp
  tmp=$(mktemp)
  printf '%s' "$body" >"$tmp"
  for service in "${services[@]}"; do
    install_file "$tmp" "/etc/systemd/system/$service.d/$dropin_name" 0644
  done
  rm -f "$tmp"
  local w
  for w in ${warnings[@]+"${warnings[@]}"}; do echo "install.sh: warning: $w" >&2; done
}

do_install() {
  if ((build)); then
    (cd "$repo" && bazel build -c opt --jobs=2 //reconciler:xo-immutable)
    binary=$(cd "$repo" && bazel info -c opt bazel-bin 2>/dev/null)/reconciler/xo-immutable
  elif [[ -z $binary ]]; then
    binary=$repo/bazel-out/k8-opt/bin/reconciler/xo-immutable
  fi
  [[ -f $binary && -x $binary ]] || die "$binary: no such executable (build it, or give --binary)"
  "$binary" --version >/dev/null || die "$binary --version failed: not a working xo-immutable"

  echo "Installing xo-immutable${root:+ below $root}:"
  install_file "$binary" "$bin_path" 0755
  local unit
  for unit in "${units[@]}"; do
    install_file "$repo/tools/systemd/$unit" "$unit_dir/$unit" 0644
  done
  install_file "$repo/tools/xo-immutable.8" "$man_path" 0644
  if [[ -e $root$config_path ]]; then
    echo "  kept       $config_path (exists)"
  elif [[ -e $root$toml_path ]]; then
    echo "  kept       $toml_path (exists; no sample config.json, which would take precedence)"
  else
    install_file "$repo/tools/config.sample.json" "$config_path" 0644
  fi
  write_dropins

  if systemd_running; then
    systemctl daemon-reload
    echo "  ran        systemctl daemon-reload"
  fi
  local config=$config_path
  [[ -e $root$config_path || ! -e $root$toml_path ]] || config=$toml_path
  cat <<EOF

Next steps:
  1. Edit $config: one entry per remote (root, immutabilityDuration).
  2. Re-run tools/install.sh --no-build so that the service may write to the remote roots
     ($dropin_name), or add them with: systemctl edit ${services[*]}
  3. Check:   xo-immutable check && xo-immutable run --dry-run
  4. Enable:  systemctl enable --now xo-immutable.timer
              systemctl enable --now xo-immutable-sweep.timer   (the daily sweep)
  5. Watch:   journalctl -u xo-immutable -f
EOF
}

do_uninstall() {
  echo "Removing xo-immutable${root:+ below $root}:"
  if systemd_running; then
    systemctl disable --now "${timers[@]}" 2>/dev/null || true
    systemctl stop "${services[@]}" 2>/dev/null || true
  fi
  local unit service
  for unit in "${timers[@]}"; do
    # Left by `systemctl enable` (when systemd did not run to disable it) and by Persistent=.
    [[ -L $root/etc/systemd/system/timers.target.wants/$unit ]] &&
      remove_file "/etc/systemd/system/timers.target.wants/$unit"
    remove_file "/var/lib/systemd/timers/stamp-$unit"
  done
  remove_file "$bin_path"
  for unit in "${units[@]}"; do remove_file "$unit_dir/$unit"; done
  remove_file "$man_path"
  for service in "${services[@]}"; do
    remove_file "/etc/systemd/system/$service.d/$dropin_name"
    remove_dir_if_empty "/etc/systemd/system/$service.d"
  done
  if [[ -f $root$config_path ]]; then
    if cmp -s "$repo/tools/config.sample.json" "$root$config_path"; then
      remove_file "$config_path"
    else
      echo "  kept       $config_path (edited: remove it yourself if you no longer need it)"
    fi
  fi
  remove_dir_if_empty "$config_dir"
  if systemd_running; then
    systemctl daemon-reload
    systemctl reset-failed "${services[@]}" 2>/dev/null || true
    echo "  ran        systemctl daemon-reload"
  fi
  echo "The remotes, their flags and the index (/var/lib/xo-immutable-backups or indexPath) are untouched."
}

if ((uninstall)); then do_uninstall; else do_install; fi
