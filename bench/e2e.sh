#!/usr/bin/env bash
# bench/e2e.sh: xo-immutable end to end, against its peers, on generated XO remotes.
#
# Builds with -c opt, generates remotes of about 100k and 1M files with //tools:gen_remote (VM
# backups with VHD directories of 128 blocks, config and pool backups), and measures on the same
# tree, side by side:
#   ours   `xo-immutable run`: first protection, no-change steady state, and a run with the wall
#          clock moved 30 days ahead (libfaketime) that lifts everything; --jobs 1 and the default;
#   peers  an unpruned `find` of the whole remote; `find | xargs lsattr -d` and
#          `find | xargs chattr +i` over the glob set (every file the default globs cover, members
#          of VHD directories included: what must end up immutable); XO's own daemon
#          @xen-orchestra/immutable-backups@3.0.5 from npm (its lift pass, its memory, and what it
#          does with backups written before it started);
# warm and cold cache (drop_caches before each cold run). Wall time, CPU time and peak RSS come from
# /usr/bin/time (wall also from the shell's clock, for sub-10 ms resolution); system calls from a
# separate `strace -c -f` run. Prints a Markdown table, the ratios, and PASS/FAIL per target.
#
# Usage: sudo bench/e2e.sh [--quick | --huge | --backup] [--save DIR]
#   --quick     only the ~100k remote, and 100k junk names instead of 1M
#   --huge      only the ~10M-path remote (about 10 paths an item, 1M items): ours, cold and warm,
#               and an unpruned find; about an hour (removing 10M files is a third of it) and 11M
#               inodes on /var/tmp
#   --backup    only the large full backup (one VHD directory of 1M blocks), ours against chattr
#   --save DIR  also copy the raw measurements (TSV) and strace summaries to DIR
#
# Everything happens below one scratch folder (mktemp -d /var/tmp/xoi-bench.XXXXXX); on any exit
# (success, failure, Ctrl-C) every flag below it is lifted (chattr -R -i -a: the program's audit
# log is append-only) and it is removed.
set -uo pipefail
export LC_ALL=C

QUICK=0
HUGE=0
BACKUP=0
SAVE=""
while (($#)); do
  arg=$1
  shift
  case "$arg" in
    --quick) QUICK=1 ;;
    --huge) HUGE=1 ;;
    --backup) BACKUP=1 ;;
    --save)
      SAVE=${1:?--save needs a folder}
      shift
      ;;
    -h | --help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "e2e.sh: unknown argument $arg (try --help)" >&2; exit 2 ;;
  esac
done

say() { printf '\n== %s\n' "$*" >&2; }
note() { printf '   %s\n' "$*" >&2; }
die() { echo "e2e.sh: $*" >&2; exit 1; }

[[ -z $SAVE ]] || SAVE=$(realpath -m "$SAVE")
[[ $(id -u) -eq 0 ]] || die "needs root: it sets and clears immutable flags (on its scratch trees only)"
cd "$(dirname "$0")/.." || die "cannot enter the checkout"
CHECKOUT=$PWD

# ---------------------------------------------------------------------------------------------
# Tools. Missing ones are installed from Debian (bookworm package names).
need=()
command -v strace >/dev/null || need+=(strace)
[[ -x /usr/bin/time ]] || need+=(time)
command -v chattr >/dev/null && command -v lsattr >/dev/null || need+=(e2fsprogs)
[[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 ]] || need+=(libfaketime)
command -v python3 >/dev/null || need+=(python3)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if ((${#need[@]})); then
  say "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2 ||
    { apt-get update -qq >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2; } ||
    note "could not install some of ${need[*]}: the runs needing them are reported as not run"
fi
command -v strace >/dev/null || die "strace is required"
[[ -x /usr/bin/time ]] || die "/usr/bin/time (Debian package time) is required"
FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
[[ -e $FAKETIME_LIB ]] || die "$FAKETIME_LIB (Debian package libfaketime) is required"

# ---------------------------------------------------------------------------------------------
# Scratch folder and the cleanup that always runs.
SCRATCH=$(mktemp -d /var/tmp/xoi-bench.XXXXXX) || die "mktemp failed"
[[ $SCRATCH =~ ^/var/tmp/xoi-bench\.[A-Za-z0-9]{6}$ ]] || die "unexpected scratch path $SCRATCH"
DAEMON_PID=""
XO_DIST=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [[ -n $DAEMON_PID ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill "$DAEMON_PID" 2>/dev/null
    wait "$DAEMON_PID" 2>/dev/null
  fi
  if [[ -d $SCRATCH && $SCRATCH =~ ^/var/tmp/xoi-bench\.[A-Za-z0-9]{6}$ ]]; then
    echo "e2e.sh: lifting every flag below $SCRATCH and removing it" >&2
    # -a too: the program's audit log (<indexPath>/audit.log) is append-only.
    chattr -R -f -i -a "$SCRATCH" 2>/dev/null
    rm -rf "$SCRATCH" 2>/dev/null
    if [[ -e $SCRATCH ]]; then
      echo "e2e.sh: could not remove $SCRATCH; immutable or append-only inodes left:" >&2
      find "$SCRATCH" -xdev -print0 2>/dev/null | xargs -0 -r lsattr -d 2>/dev/null |
        awk '$1 ~ /[ia]/' | head >&2
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

RESULTS=$SCRATCH/results.tsv  # size, key, wall s, cpu s, peak RSS KiB, exit code
INFO=$SCRATCH/info.tsv        # size, key, value
: >"$RESULTS"
: >"$INFO"
SIZE=""
info() { printf '%s\t%s\t%s\n' "$SIZE" "$1" "$2" >>"$INFO"; }

# ---------------------------------------------------------------------------------------------
# Build, and copy the binaries out of bazel-out (another build may replace them meanwhile).
say "building (bazel -c opt)"
bazel build -c opt --jobs=2 //reconciler:xo-immutable //tools:gen_remote >&2 || die "build failed"
BIN=$(bazel info -c opt bazel-bin 2>/dev/null) || die "bazel info failed"
mkdir -p "$SCRATCH/bin"
cp "$BIN/reconciler/xo-immutable" "$BIN/tools/gen_remote" "$SCRATCH/bin/" || die "copy failed"
XOI=$SCRATCH/bin/xo-immutable
GEN=$SCRATCH/bin/gen_remote
JOBS_DEFAULT=$(($(nproc) > 2 ? $(nproc) : 2))  # the program's default: CPUs, at least 2

# ---------------------------------------------------------------------------------------------
# Measurement helpers.
# Cold cache: the remote's (and the index's) inodes, dentries and pages are dropped; the programs
# measured are then loaded again at once (not timed), since the cold case that matters is a remote
# whose metadata left the cache, not a program that is never in it.
DROP_OK=1
drop_caches() {
  sync
  if ! echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then
    DROP_OK=0
    return 1
  fi
  "$XOI" --version
  find --version
  lsattr -V /dev/null
  chattr -V /dev/null
  xargs --version
  env true
  bash -c true
  [[ -z $XO_DIST ]] || node --version
} >/dev/null 2>&1

# measure KEY CMD...: one timed run; stdout and stderr of CMD are discarded.
measure() {
  local key=$1
  shift
  sync  # what the previous run left dirty is not this run's cost
  local t0=$EPOCHREALTIME
  /usr/bin/time -o "$SCRATCH/time.out" -f '%e %U %S %M' "$@" >/dev/null 2>"$SCRATCH/last.err"
  local rc=$?
  local t1=$EPOCHREALTIME
  local e u s m
  read -r e u s m < <(tail -n 1 "$SCRATCH/time.out")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$SIZE" "$key" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')" \
    "$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')" "$m" "$rc" >>"$RESULTS"
  note "$(printf '%-26s %8.3f s wall  rc %s' "$key" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$rc")"
  return "$rc"
}

# measure_cold KEY CMD...: the same after dropping the page, dentry and inode caches.
measure_cold() {
  if drop_caches; then measure "$@"; else note "$1: drop_caches not allowed, not run"; fi
}

# count_syscalls KEY CMD...: a separate run under strace -c -f; records the total.
count_syscalls() {
  local key=$1
  shift
  strace -f -c -o "$SCRATCH/strace.$SIZE.$key" "$@" >/dev/null 2>&1
  local calls
  calls=$(awk '$NF == "total" { print $4 }' "$SCRATCH/strace.$SIZE.$key")
  info "syscalls.$key" "${calls:-0}"
  note "$(printf '%-26s %8s system calls' "$key" "${calls:-?}")"
}

# Prefix running a program with its wall clock moved: "${FAKED[@]}" FAKETIME=+30d PROGRAM ...
# Only the wall clock moves: file times come from statx, and the monotonic clocks stay real.
FAKED=(env LD_PRELOAD="$FAKETIME_LIB" NO_FAKE_STAT=1 FAKETIME_DONT_FAKE_MONOTONIC=1)

# Every path the default glob set covers below remote $1, NUL-separated: the backup files, and
# each VHD directory with everything below it. What must end up immutable (gen_remote's manifest
# minus the root's metadata.json). Not pruned: find cannot know a directory is an item's member.
glob_find() {
  local r=$1 w='[^/.][^/]*' er
  er=$(printf '%s' "$r" | sed 's/[][\.*^$()+?{}|]/\\&/g')
  find "$r" -regextype posix-extended \( \
    -regex "$er/xo-config-backups/$w/$w/(data|data\.json|metadata\.json)" -o \
    -regex "$er/xo-pool-metadata-backups/$w/$w/$w/(metadata\.json|data)" -o \
    -regex "$er/xo-vm-backups/$w/$w\.(json|xva|xva\.checksum)" -o \
    -regex "$er/xo-vm-backups/$w/vdis/$w/$w/$w\.vhd" -o \
    -regex "$er/xo-vm-backups/$w/vdis/$w/$w/data/$w\.vhd(/.*)?" \) -print0
}
export -f glob_find

count_immutable() {
  find "$1" -xdev \( -type f -o -type d \) -print0 | xargs -0 -r lsattr -d 2>/dev/null |
    awk '$1 ~ /i/ { n++ } END { print n + 0 }'
}

# remove_remote: lifts every flag of the current remote, records how many were left, removes it.
remove_remote() {
  chattr -R -f -i "$REMOTE"
  info "left_locked_at_end" "$(count_immutable "$REMOTE")"
  rm -rf "$REMOTE"
}

json_get() {  # json_get FILE EXPR: a value of our --report json (python expression on r)
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); r=d["remotes"][0]; print(eval(sys.argv[2]))' "$1" "$2"
}
text_count() {  # text_count FILE WORDS: a count of our text report ("... 3140 items seen, ...")
  sed -n "s/.* \([0-9][0-9]*\) $2[,:].*/\1/p" "$1" | head -n 1
}

# ---------------------------------------------------------------------------------------------
# Our configuration. The product may guard lifting against a moved clock or a mass lift; the
# +30 days run is exactly that, on purpose, so those guards are opened when the program knows them.
# A run takes on at most maxEntriesPerRun entries (15,000 by default, a bound on its memory): the
# figures compare one run that does everything with one chattr over everything, so it is raised.
write_config() {  # write_config FILE INDEX ROOT
  local extra=""
  [[ -n ${GUARD_KEYS:-} ]] && extra=$GUARD_KEYS
  cat >"$1" <<EOF
{"indexPath": "$2",$extra
 "remotes": {"bench": {"root": "$3", "immutabilityDuration": "7d", "settle": "0s"}}}
EOF
}
GUARD_KEYS=' "timeShiftThreshold": "400d", "maxLiftFraction": 1, "maxEntriesPerRun": 1000000000,'
mkdir -p "$SCRATCH/probe-root"
write_config "$SCRATCH/probe.json" "$SCRATCH/probe-index" "$SCRATCH/probe-root"
"$XOI" check --config "$SCRATCH/probe.json" >/dev/null 2>&1
[[ $? -eq 2 ]] && GUARD_KEYS=""
LIFT_ARGS=()
"$XOI" --help 2>/dev/null | grep -q -- '--allow-mass-lift' && LIFT_ARGS+=(--allow-mass-lift)
rm -rf "$SCRATCH/probe-root" "$SCRATCH/probe-index" "$SCRATCH/probe.json"

ROUND=0
ours() {  # ours KEY OFFSET|- [ARGS...]: one timed `xo-immutable run` of the current round
  # The text report, as the systemd timer runs it (--report json builds a document of every
  # action in memory: on a first protection of the 1M remote that is about 20 MiB more).
  local key=$1 offset=$2
  shift 2
  local cmd=("$XOI" run --config "$CFG" --report-file "$SCRATCH/report.$key.txt" "$@")
  [[ $offset == - ]] || cmd=("${FAKED[@]}" FAKETIME="$offset" "${cmd[@]}")
  measure "$key" "${cmd[@]}"
}
new_round() {  # a fresh index, as on a first run
  ROUND=$((ROUND + 1))
  CFG=$SCRATCH/config.$ROUND.json
  write_config "$CFG" "$SCRATCH/index.$ROUND" "$REMOTE"
}
protect_untimed() { "$XOI" run --config "$CFG" >/dev/null 2>&1; }
lift_untimed() { "${FAKED[@]}" FAKETIME=+30d "$XOI" run --config "$CFG" "${LIFT_ARGS[@]}" >/dev/null 2>&1; }

# ---------------------------------------------------------------------------------------------
# XO's daemon, installed from npm into the scratch folder.
XO_DIR=$SCRATCH/npm
install_xo() {
  if [[ -n $XO_DIST ]]; then return 0; fi
  if [[ -e $XO_DIR/failed ]]; then return 1; fi
  say "installing @xen-orchestra/immutable-backups@3.0.5 with npm"
  mkdir -p "$XO_DIR/stub-backups" "$XO_DIR/home/.config/xo-immutable-backups"
  # The daemon's dist/ never imports @xen-orchestra/backups, whose own dependencies do not install
  # (E404 on @vates/cached-dns.lookup): replaced by an empty local package.
  echo '{"name": "@xen-orchestra/backups", "version": "0.0.0-stub"}' >"$XO_DIR/stub-backups/package.json"
  cat >"$XO_DIR/package.json" <<'EOF'
{"name": "xoi-bench-peer", "private": true,
 "dependencies": {"@xen-orchestra/immutable-backups": "3.0.5"},
 "overrides": {"@xen-orchestra/backups": "file:./stub-backups"}}
EOF
  if ! (cd "$XO_DIR" && npm install --no-audit --no-fund --loglevel=error >"$XO_DIR/npm.log" 2>&1); then
    note "npm install failed (see the table); last lines:"
    tail -n 5 "$XO_DIR/npm.log" >&2
    touch "$XO_DIR/failed"
    return 1
  fi
  XO_DIST=$XO_DIR/node_modules/@xen-orchestra/immutable-backups/dist
  # One lift pass, as the daemon runs it: `first` is its start-up pass (a full scan), `hourly`
  # the pass it repeats every liftEvery (checks each expired json with lsattr first).
  cat >"$XO_DIR/lift.mjs" <<'EOF'
const [dist, root, durationMs, mode] = process.argv.slice(2);
const { liftImmutability } = await import(`${dist}/liftProtection.mjs`);
if (mode === 'hourly') await liftImmutability({});  // spends the start-up full scan on nothing
const t0 = performance.now();
await liftImmutability({ bench: { root, immutabilityDuration: Number(durationMs) } });
console.log(JSON.stringify({ mode, ms: performance.now() - t0 }));
EOF
  return 0
}

proc_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }
proc_status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }

# Starts the daemon on the remote as it stands (nothing immutable, every backup finished), waits
# until it is idle, and records what it locked, its memory, and how it treats one new backup.
xo_daemon_phase() {
  if [[ -e /etc/xo-immutable-backups ]]; then
    info "xo.daemon" "not run: /etc/xo-immutable-backups exists and XO's daemon would act on its remotes"
    return
  fi
  install_xo || { info "xo.daemon" "not run: npm install failed"; return; }
  say "$SIZE: XO's daemon on a remote whose backups were written while it was not running"
  cat >"$XO_DIR/home/.config/xo-immutable-backups/config.json" <<EOF
{"liftEvery": "1h", "remotes": {"bench": {"root": "$REMOTE", "immutabilityDuration": "7d"}}}
EOF
  local before_locked t0 t_idle=""
  before_locked=$(count_immutable "$REMOTE")
  t0=$EPOCHREALTIME
  (cd "$XO_DIR" && exec env -u XDG_CONFIG_HOME HOME="$XO_DIR/home" \
    node "$XO_DIST/protectRemotes.mjs" >"$XO_DIR/daemon.log" 2>&1) &
  DAEMON_PID=$!
  # Idle: no CPU used and no child (chattr/lsattr) for 3 s in a row; at most 15 minutes.
  local last=-1 still=0 now ticks
  for ((i = 0; i < 1800; i++)); do
    sleep 0.5
    kill -0 "$DAEMON_PID" 2>/dev/null || break
    ticks=$(proc_cpu_ticks "$DAEMON_PID")
    if [[ $ticks == "$last" ]] && ! pgrep -P "$DAEMON_PID" >/dev/null; then
      still=$((still + 1))
    else
      still=0
      t_idle=$EPOCHREALTIME
    fi
    last=$ticks
    ((still >= 6)) && break
  done
  if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
    info "xo.daemon" "not run: the daemon exited: $(tail -n 3 "$XO_DIR/daemon.log" | tr '\n\t' '  ')"
    DAEMON_PID=""
    return
  fi
  info "xo.daemon.startup_s" "$(awk -v a="$t0" -v b="${t_idle:-$t0}" 'BEGIN { printf "%.2f", b - a }')"
  info "xo.daemon.cpu_s" "$(awk -v t="$(proc_cpu_ticks "$DAEMON_PID")" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }')"
  info "xo.daemon.rss_kb" "$(proc_status_kb "$DAEMON_PID" VmRSS)"
  info "xo.daemon.hwm_kb" "$(proc_status_kb "$DAEMON_PID" VmHWM)"
  local after_locked
  after_locked=$(count_immutable "$REMOTE")
  # immutability.json is the daemon's own file, locked at start.
  info "xo.daemon.locked_preexisting" "$((after_locked - before_locked - 1))"
  # A backup written while it runs: an XVA run in the first VM folder.
  local vm dt
  vm=$(find "$REMOTE/xo-vm-backups" -mindepth 1 -maxdepth 1 -type d | sort | head -n 1)
  dt=$(date -u +%Y%m%dT%H%M%SZ)
  head -c 65536 /dev/zero >"$vm/$dt.xva"
  echo '{"mode":"full"}' >"$vm/$dt.json"
  local t_new=$EPOCHREALTIME locked_new=""
  for ((i = 0; i < 100; i++)); do
    if lsattr -d "$vm/$dt.xva" 2>/dev/null | awk '$1 ~ /i/ { ok = 1 } END { exit !ok }'; then
      locked_new=$(awk -v a="$t_new" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
      break
    fi
    sleep 0.1
  done
  info "xo.daemon.new_backup_locked_after_s" "${locked_new:-not within 10 s}"
  info "xo.daemon.hwm_kb" "$(proc_status_kb "$DAEMON_PID" VmHWM)"
  kill "$DAEMON_PID"
  wait "$DAEMON_PID" 2>/dev/null
  DAEMON_PID=""
  # Put the tree back as generated.
  chattr -f -i "$vm/$dt.xva" "$vm/$dt.json" "$REMOTE/immutability.json" 2>/dev/null
  rm -f "$vm/$dt.xva" "$vm/$dt.json" "$REMOTE/immutability.json" "$REMOTE/.test-immut"
}

# XO's lift pass on the remote, protected by us beforehand, with the clock moved past the dates in
# the file names (which is what it judges expiry by) plus the duration.
xo_lift_phase() {
  [[ -e /etc/xo-immutable-backups ]] && return
  install_xo || { info "xo.lift" "not run: npm install failed"; return; }
  say "$SIZE: XO's lift pass"
  local lift=(node "$XO_DIR/lift.mjs" "$XO_DIST" "$REMOTE" 604800000)
  new_round
  protect_untimed
  local locked
  locked=$(count_immutable "$REMOTE")
  measure xo.lift.first "${FAKED[@]}" FAKETIME=+90d "${lift[@]}" first
  info "xo.lift.locked_before" "$locked"
  info "xo.lift.left_locked" "$(count_immutable "$REMOTE")"
  measure xo.lift.hourly "${FAKED[@]}" FAKETIME=+90d "${lift[@]}" hourly
  lift_untimed  # ours lifts what XO's pass left locked
  new_round
  protect_untimed
  count_syscalls xo.lift.first "${FAKED[@]}" FAKETIME=+90d "${lift[@]}" first
  lift_untimed
}

# ---------------------------------------------------------------------------------------------
# One remote, everything measured on it.
bench_remote() {
  SIZE=$1
  shift
  REMOTE=$SCRATCH/remote-$SIZE
  say "$SIZE: generating ($*)"
  local t0=$EPOCHREALTIME
  "$GEN" --root "$REMOTE" --manifest "$SCRATCH/manifest-$SIZE" "$@" || die "gen_remote failed"
  sync  # setting +i on a file with dirty pages writes them back first: not the program's cost
  info "gen_s" "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')"
  info "gen_args" "$*"
  info "files" "$(find "$REMOTE" -type f | wc -l)"
  info "dirs" "$(find "$REMOTE" -type d | wc -l)"
  info "manifest" "$(tr -cd '\0' <"$SCRATCH/manifest-$SIZE" | wc -c)"
  info "glob_find" "$(glob_find "$REMOTE" | tr -cd '\0' | wc -c)"
  note "$(awk -F'\t' -v s="$SIZE" '$1 == s { printf "%s=%s  ", $2, $3 }' "$INFO")"

  # Protection and lift rewrite a million inodes: the journal makes single runs noisy, so each
  # is repeated (2 cycles with --jobs 1, 3 with the default; medians).
  say "$SIZE: ours, --jobs 1: first protection, then the lift (2 cycles)"
  for ((i = 0; i < 2; i++)); do
    new_round
    ours ours.protect.j1.warm - --jobs 1
    ours ours.lift.j1.warm +30d --jobs 1 "${LIFT_ARGS[@]}"
  done
  say "$SIZE: ours, default jobs ($JOBS_DEFAULT): first protection, then the lift (2 more cycles)"
  for ((i = 0; i < 2; i++)); do
    new_round
    ours ours.protect.jd.warm -
    ours ours.lift.jd.warm +30d "${LIFT_ARGS[@]}"
  done

  say "$SIZE: ours, default jobs ($JOBS_DEFAULT): first protection, steady state, peers, lift"
  new_round
  ours ours.protect.jd.warm -
  info "items" "$(text_count "$SCRATCH/report.ours.protect.jd.warm.txt" 'items seen')"
  info "protected" "$(text_count "$SCRATCH/report.ours.protect.jd.warm.txt" protected)"
  for ((i = 0; i < 5; i++)); do
    ours ours.steady.j1.warm - --jobs 1
    ours ours.steady.jd.warm -
  done
  # The walk's own figures, from one more (untimed) steady-state run with the JSON report.
  "$XOI" run --config "$CFG" --report json --report-file "$SCRATCH/steady.json" >/dev/null 2>&1
  for k in dirsListed literalLookups statxCalls; do
    info "walk.$k" "$(json_get "$SCRATCH/steady.json" "r['walk']['$k']")"
  done
  info "steady.actions" "$(json_get "$SCRATCH/steady.json" 'len(r["actions"])')"
  for ((i = 0; i < 3; i++)); do ours ours.steady.deep.warm - --deep; done
  for ((i = 0; i < 3; i++)); do
    measure_cold ours.steady.j1.cold "$XOI" run --config "$CFG" --jobs 1
    measure_cold ours.steady.j2.cold "$XOI" run --config "$CFG" --jobs 2
  done
  # The ceiling for --jobs 2 on this machine's storage: two cold finds over halves of the VM
  # folders, one after the other, then both at once.
  find "$REMOTE/xo-vm-backups" -mindepth 1 -maxdepth 1 | sort >"$SCRATCH/vms"
  split -n l/2 "$SCRATCH/vms" "$SCRATCH/vms."
  measure_cold io.sequential bash -c 'xargs -a "$1" find >/dev/null; xargs -a "$2" find >/dev/null' \
    _ "$SCRATCH/vms.aa" "$SCRATCH/vms.ab"
  measure_cold io.parallel bash -c 'xargs -a "$1" find >/dev/null & xargs -a "$2" find >/dev/null; wait' \
    _ "$SCRATCH/vms.aa" "$SCRATCH/vms.ab"
  for ((i = 0; i < 3; i++)); do measure find.warm find "$REMOTE"; done
  measure_cold find.cold find "$REMOTE"
  for ((i = 0; i < 3; i++)); do
    measure lsattr.warm bash -c 'glob_find "$1" | xargs -0 -r lsattr -d' _ "$REMOTE"
  done
  measure_cold lsattr.cold bash -c 'glob_find "$1" | xargs -0 -r lsattr -d' _ "$REMOTE"
  ours ours.lift.jd.warm +30d "${LIFT_ARGS[@]}"
  info "lifted" "$(text_count "$SCRATCH/report.ours.lift.jd.warm.txt" lifted)"
  info "left_locked_after_lift" "$(count_immutable "$REMOTE")"

  say "$SIZE: first protection and lift, cold cache"
  new_round
  drop_caches && ours ours.protect.jd.cold -
  drop_caches && ours ours.lift.jd.cold +30d "${LIFT_ARGS[@]}"


  say "$SIZE: system calls (strace -c -f, separate runs)"
  new_round
  count_syscalls ours.protect.jd "$XOI" run --config "$CFG"
  count_syscalls ours.steady.jd "$XOI" run --config "$CFG"
  count_syscalls ours.steady.j1 "$XOI" run --config "$CFG" --jobs 1
  count_syscalls find find "$REMOTE"
  count_syscalls lsattr bash -c 'glob_find "$1" | xargs -0 -r lsattr -d' _ "$REMOTE"
  count_syscalls ours.lift.jd "${FAKED[@]}" FAKETIME=+30d "$XOI" run --config "$CFG" "${LIFT_ARGS[@]}"

  say "$SIZE: find | xargs chattr +i over the same items (and lifted again)"
  local chattr_on='glob_find "$1" | xargs -0 -r chattr +i' chattr_off='glob_find "$1" | xargs -0 -r chattr -i'
  measure chattr.warm bash -c "$chattr_on" _ "$REMOTE"
  measure chattr_lift.warm bash -c "$chattr_off" _ "$REMOTE"
  drop_caches && measure chattr.cold bash -c "$chattr_on" _ "$REMOTE"
  drop_caches && measure chattr_lift.cold bash -c "$chattr_off" _ "$REMOTE"
  count_syscalls chattr bash -c "$chattr_on" _ "$REMOTE"
  count_syscalls chattr_lift bash -c "$chattr_off" _ "$REMOTE"
  chattr -R -f -i "$REMOTE"

  xo_daemon_phase
  xo_lift_phase

  say "$SIZE: checking that nothing is left immutable, removing the remote"
  remove_remote
}

# bench_junk N: what an attacker with XO's access can do to our costs: N empty *.json files in one
# VM folder (each one an item to lock, index and report), first protection, steady state and lift,
# beside find | xargs chattr +i over the same names.
bench_junk() {
  SIZE=junk-$1
  REMOTE=$SCRATCH/remote-$SIZE
  local vm=$REMOTE/xo-vm-backups/6f1c2d3e-4a5b-4c6d-8e7f-8091a2b3c4d5
  say "$SIZE: $1 empty *.json files in one VM folder"
  mkdir -p "$vm" || die "mkdir failed"
  (cd "$vm" && seq -f '%.0f.json' 1 "$1" | xargs touch) || die "touch failed"
  sync
  info "files" "$1"
  new_round
  ours ours.protect.jd.warm -
  for ((i = 0; i < 3; i++)); do ours ours.steady.jd.warm -; done
  info "index_bytes" "$(du -sb "$SCRATCH/index.$ROUND/bench" | cut -f1)"
  ours ours.lift.jd.warm +30d "${LIFT_ARGS[@]}"
  local chattr_on='find "$1" -name "*.json" -print0 | xargs -0 -r chattr +i'
  measure chattr.warm bash -c "$chattr_on" _ "$vm"
  remove_remote
}

# bench_huge: the 10M-path remote (issue 12): 3,200 VMs whose VHD directories hold 32 blocks, about
# 10 paths an item and 1M items. Ours (first protection, steady state warm and cold, the lift) and
# an unpruned find only: at this size the xargs peers take tens of minutes each, and their ratios
# are those of the 1M remote's shape.
bench_huge() {
  SIZE=10M
  REMOTE=$SCRATCH/remote-$SIZE
  local args=(--vms 3200 --runs 76 --vdis 2 --blocks 32 --config-backups 200 --pool-backups 200)
  say "$SIZE: generating (${args[*]})"
  local t0=$EPOCHREALTIME
  "$GEN" --root "$REMOTE" "${args[@]}" >/dev/null || die "gen_remote failed"
  sync
  info "gen_s" "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')"
  info "gen_args" "${args[*]}"
  info "files" "$(find "$REMOTE" -type f | wc -l)"
  info "dirs" "$(find "$REMOTE" -type d | wc -l)"
  say "$SIZE: ours: first protection, steady state warm and cold, lift"
  new_round
  ours ours.protect.jd.warm -
  info "items" "$(text_count "$SCRATCH/report.ours.protect.jd.warm.txt" 'items seen')"
  info "protected" "$(text_count "$SCRATCH/report.ours.protect.jd.warm.txt" protected)"
  info "index_bytes" "$(du -sb "$SCRATCH/index.$ROUND/bench" | cut -f1)"
  for ((i = 0; i < 3; i++)); do ours ours.steady.jd.warm -; done
  for ((i = 0; i < 2; i++)); do
    measure_cold ours.steady.j2.cold "$XOI" run --config "$CFG" --jobs 2
  done
  measure find.warm find "$REMOTE"
  measure_cold find.cold find "$REMOTE"
  ours ours.lift.jd.warm +30d "${LIFT_ARGS[@]}"
  info "lifted" "$(text_count "$SCRATCH/report.ours.lift.jd.warm.txt" lifted)"
  say "$SIZE: removing the remote"
  remove_remote
}

# bench_backup N: a large full backup landing (issue 12): one VM whose one run is a VHD directory
# of N blocks (a 2 TB disk is about 1M), locked by a first protection, against
# `find | xargs chattr +i` over the same paths. Settle is 0s, so both lock the same tree.
bench_backup() {
  SIZE=backup-$1
  REMOTE=$SCRATCH/remote-$SIZE
  say "$SIZE: one VHD directory of $1 blocks"
  "$GEN" --root "$REMOTE" --vms 1 --runs 2 --vdis 1 --blocks "$1" --config-backups 0 \
    --pool-backups 0 >/dev/null || die "gen_remote failed"
  sync
  info "files" "$(find "$REMOTE" -type f | wc -l)"
  info "glob_find" "$(glob_find "$REMOTE" | tr -cd '\0' | wc -c)"
  for ((i = 0; i < 2; i++)); do
    new_round
    ours ours.protect.jd.warm -
    chattr -R -f -i "$REMOTE"
  done
  info "items" "$(text_count "$SCRATCH/report.ours.protect.jd.warm.txt" 'items seen')"
  local chattr_on='glob_find "$1" | xargs -0 -r chattr +i'
  for ((i = 0; i < 2; i++)); do
    measure chattr.warm bash -c "$chattr_on" _ "$REMOTE"
    chattr -R -f -i "$REMOTE"
  done
  remove_remote
}

# ---------------------------------------------------------------------------------------------
# The remotes: VMs of 76 runs (a cycle of 4: XVA, VHD directories named by timestamp, VHD
# directories named by UUID with aliases, plain VHD files), 2 VDIs, VHD directories of 128 blocks;
# 540 files per VM and cycle. 100k: 10 VMs; 1M: 100 VMs. Same shape, ten times the VMs.
SHAPE=(--runs 76 --vdis 2 --blocks 128)
if [[ $HUGE -eq 1 ]]; then
  bench_huge
elif [[ $BACKUP -eq 1 ]]; then
  bench_backup 1000000
else
  bench_remote 100k --vms 10 "${SHAPE[@]}" --config-backups 20 --pool-backups 20
  [[ $QUICK -eq 1 ]] || bench_remote 1M --vms 100 "${SHAPE[@]}" --config-backups 200 --pool-backups 200
  if [[ $QUICK -eq 1 ]]; then bench_junk 100000; else bench_junk 1000000; fi
  if [[ $QUICK -eq 1 ]]; then bench_backup 100000; else bench_backup 1000000; fi
fi

# ---------------------------------------------------------------------------------------------
say "report"
{
  echo "machine	cpus	$(nproc) x $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
  echo "machine	ram	$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "machine	kernel	$(uname -r)"
  echo "machine	disk	$(df -T /var/tmp | awk 'NR == 2 { print $1 " (" $2 ", " $3 / 1048576 " GiB)" }'), rotational=$(cat /sys/block/"$(basename "$(df /var/tmp | awk 'NR == 2 { print $1 }')")"/queue/rotational 2>/dev/null || echo '?')"
  echo "machine	jobs_default	$JOBS_DEFAULT"
  echo "machine	drop_caches	$DROP_OK"
  echo "machine	build	$(cd "$CHECKOUT" && git rev-parse --short HEAD 2>/dev/null)$(cd "$CHECKOUT" && [[ -n $(git status --porcelain -- lib reconciler 2>/dev/null) ]] && echo ' + uncommitted changes in lib/ or reconciler/')"
  echo "machine	guards	${GUARD_KEYS:+config keys timeShiftThreshold/maxLiftFraction opened for the +30d run}${LIFT_ARGS[*]:+ and ${LIFT_ARGS[*]}}"
  echo "machine	quick	$QUICK"
} >>"$INFO"
if [[ -n $SAVE ]]; then
  mkdir -p "$SAVE" && cp "$RESULTS" "$INFO" "$SCRATCH"/strace.* "$SAVE"/ && note "raw data in $SAVE"
fi
python3 "$CHECKOUT/bench/e2e_report.py" "$RESULTS" "$INFO"
