#!/usr/bin/env python3
"""Turns what bench/e2e.sh measured into a Markdown table, ratios and PASS/FAIL per target.

Usage: e2e_report.py RESULTS.tsv INFO.tsv
  RESULTS: size, key, wall s, cpu s, peak RSS KiB, exit code (one line per run; repeated runs of
           one key are summarised by their median)
  INFO:    size, key, value
"""
import statistics
import sys
from collections import defaultdict

results = defaultdict(list)
for line in open(sys.argv[1]):
    size, key, wall, cpu, rss, rc = line.rstrip("\n").split("\t")
    results[(size, key)].append((float(wall), float(cpu), int(rss or 0), int(rc)))
info = {}
for line in open(sys.argv[2]):
    size, key, value = line.rstrip("\n").split("\t", 2)
    info[(size, key)] = value
sizes = [s for s in ("100k", "1M", "10M") if (s, "files") in info]
jd = info.get(("machine", "jobs_default"), "2")


def run(size, key):
    """(wall, cpu, rss KiB, worst rc, n) medians over the runs of `key`, or None."""
    rows = results.get((size, key))
    if not rows:
        return None
    return (statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows),
            int(statistics.median(r[2] for r in rows)), max(r[3] for r in rows), len(rows))


def num(size, key):
    try:
        return float(info[(size, key)])
    except (KeyError, ValueError):
        return None


def fmt_s(x):
    if x is None:
        return "–"
    return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"


# (key, label, jobs, cache, syscalls key, the run of ours it is compared with)
ROWS = [
    ("ours.protect.j1.warm", "ours: first protection", "1", "warm", None, None),
    ("ours.protect.jd.warm", "ours: first protection", jd, "warm", "ours.protect.jd", None),
    ("ours.protect.jd.cold", "ours: first protection", jd, "cold", None, None),
    ("ours.steady.j1.warm", "ours: steady state (no change)", "1", "warm", "ours.steady.j1", None),
    ("ours.steady.jd.warm", "ours: steady state (no change)", jd, "warm", "ours.steady.jd", None),
    ("ours.steady.j1.cold", "ours: steady state (no change)", "1", "cold", None, None),
    ("ours.steady.j2.cold", "ours: steady state (no change)", "2", "cold", None, None),
    ("ours.steady.deep.warm", "ours: steady state --deep", jd, "warm", None, None),
    ("ours.lift.j1.warm", "ours: lift everything (+30d)", "1", "warm", None, None),
    ("ours.lift.jd.warm", "ours: lift everything (+30d)", jd, "warm", "ours.lift.jd", None),
    ("ours.lift.jd.cold", "ours: lift everything (+30d)", jd, "cold", None, None),
    ("find.warm", "find (unpruned, whole remote)", "", "warm", "find", "ours.steady.jd.warm"),
    ("find.cold", "find (unpruned, whole remote)", "", "cold", None, "ours.steady.j2.cold"),
    ("lsattr.warm", "find globs | xargs lsattr -d", "", "warm", "lsattr", "ours.steady.jd.warm"),
    ("lsattr.cold", "find globs | xargs lsattr -d", "", "cold", None, "ours.steady.j2.cold"),
    ("ours.steady.deep.warm", "(ours --deep, vs lsattr)", jd, "warm", None, None),
    ("chattr.warm", "find globs | xargs chattr +i", "", "warm", "chattr", "ours.protect.jd.warm"),
    ("chattr.cold", "find globs | xargs chattr +i", "", "cold", None, "ours.protect.jd.cold"),
    ("chattr_lift.warm", "find globs | xargs chattr -i", "", "warm", "chattr_lift",
     "ours.lift.jd.warm"),
    ("chattr_lift.cold", "find globs | xargs chattr -i", "", "cold", None, "ours.lift.jd.cold"),
    ("xo.lift.first", "XO daemon 3.0.5: start-up lift pass (+90d)", "", "warm", "xo.lift.first",
     "ours.lift.jd.warm"),
    ("xo.lift.hourly", "XO daemon 3.0.5: hourly lift pass (+90d)", "", "warm", None,
     "ours.steady.jd.warm"),
]

out = []
p = out.append
p("## Machine\n")
for k in ("cpus", "ram", "disk", "kernel", "jobs_default", "drop_caches", "build", "guards"):
    if ("machine", k) in info:
        p(f"- {k}: {info[('machine', k)]}")
p("")
for size in sizes:
    p(f"## Remote {size}: {info[(size, 'files')]} files, {info[(size, 'dirs')]} directories, "
      f"{info.get((size, 'items'), '?')} items\n")
    p(f"gen_remote {info.get((size, 'gen_args'), '')} ({info.get((size, 'gen_s'), '?')} s). "
      f"The glob set covers {info.get((size, 'glob_find'), '?')} paths (what the find peers "
      f"pass to lsattr/chattr; gen_remote's manifest: {info.get((size, 'manifest'), '?')}, "
      f"which adds the root's metadata.json).\n")
    p("Peers are compared with our run doing the same job, same cache state: find and lsattr "
      "with the steady state (default jobs warm, --jobs 2 cold), chattr +i with the first "
      "protection, chattr -i and XO's start-up pass with the lift, XO's hourly pass with the "
      "steady state.\n")
    p("| run | jobs | cache | wall | CPU | peak RSS | syscalls | peer ÷ ours (wall) |")
    p("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for key, label, jobs, cache, sys_key, versus in ROWS:
        if key == "ours.steady.deep.warm" and label.startswith("("):
            continue  # listed once, above
        r = run(size, key)
        if r is None:
            why = info.get((size, "xo.lift" if key.startswith("xo.") else key), "not run")
            if key.startswith("xo."):
                p(f"| {label} | | {cache} | {why} | | | | |")
            continue
        wall, cpu, rss, rc, n = r
        sc = info.get((size, f"syscalls.{sys_key}"), "") if sys_key else ""
        ratio = ""
        if versus and run(size, versus):
            ratio = f"{wall / run(size, versus)[0]:.1f}×"
        flag = "" if rc == 0 else f" (exit {rc})"
        if key == "xo.lift.first" and (size, "xo.lift.left_locked") in info:
            flag += f" (leaves {info[(size, 'xo.lift.left_locked')]} inodes locked)"
        reps = f" (median of {n})" if n > 1 else ""
        label = label.replace("|", "\\|")  # a pipe in a Markdown table cell
        p(f"| {label}{flag} | {jobs} | {cache} | {fmt_s(wall)}{reps} | {cpu:.2f} s | "
          f"{rss / 1024:.1f} MiB | {sc} | {ratio} |")
    if (size, "xo.daemon.hwm_kb") in info:
        p(f"| XO daemon 3.0.5: start until idle | | warm | "
          f"{info.get((size, 'xo.daemon.startup_s'), '?')} s | "
          f"{info.get((size, 'xo.daemon.cpu_s'), '?')} s | "
          f"{int(info[(size, 'xo.daemon.hwm_kb')]) / 1024:.1f} MiB | | |")
    elif (size, "xo.daemon") in info:
        p(f"| XO daemon 3.0.5 | | | {info[(size, 'xo.daemon')]} | | | | |")
    p("")
    # What the walk had to do, and the system calls that allows.
    dl, ll, sx = (num(size, f"walk.{k}") for k in ("dirsListed", "literalLookups", "statxCalls"))
    ours_sc = num(size, "syscalls.ours.steady.jd")
    if None not in (dl, sx, ours_sc):
        minimum = dl + sx
        p(f"Steady state: the walk listed {int(dl)} directories and made {int(sx)} statx calls "
          f"({int(ll)} of them literal lookups, the rest one per candidate). Minimum the tree "
          f"allows (one listing per directory + one statx per name): {int(minimum)}; ours "
          f"{int(ours_sc)} in all (process start-up included) = {ours_sc / minimum:.2f}× the "
          f"minimum. Counting a listing as what it really costs (open, getdents64 until empty, "
          f"close: 4 calls), the floor is {int(4 * dl + sx)} = {ours_sc / (4 * dl + sx):.2f}×.\n")
    seq, par = run(size, "io.sequential"), run(size, "io.parallel")
    if seq and par:
        p(f"Storage parallelism (two cold `find`s over halves of the VM folders): one after the "
          f"other {fmt_s(seq[0])}, both at once {fmt_s(par[0])}: {seq[0] / par[0]:.2f}×, the "
          f"ceiling for what a second walker thread can gain on a cold cache here.\n")
    if (size, "xo.daemon.locked_preexisting") in info:
        p(f"XO's daemon, started on this remote with every backup finished and none immutable, "
          f"locked {info[(size, 'xo.daemon.locked_preexisting')]} of the "
          f"{info.get((size, 'glob_find'), '?')} pre-existing backup paths (it only reacts to "
          f"filesystem events); a backup written while it ran was locked after "
          f"{info.get((size, 'xo.daemon.new_backup_locked_after_s'), '?')} s.")
    if (size, "xo.lift.left_locked") in info:
        p(f"Its start-up lift pass (clock +90 days, past every date in the names) left "
          f"{info[(size, 'xo.lift.left_locked')]} of {info.get((size, 'xo.lift.locked_before'), '?')}"
          f" immutable inodes locked (VHD directories named by UUID, and the root's files).")
    p(f"After our lift: {info.get((size, 'left_locked_after_lift'), '?')} immutable inodes left "
      f"(the root's metadata.json and immutability.json, kept while the remote is protected); "
      f"at the end: {info.get((size, 'left_locked_at_end'), '?')}.\n")

# The junk-names case: what an attacker filling a VM folder with empty *.json files costs us.
for size in sorted(s for (s, k) in info if s.startswith("junk-") and k == "files"):
    p(f"## {size}: {info[(size, 'files')]} empty *.json files in one VM folder\n")
    p("| run | wall | CPU | peak RSS | chattr ÷ ours (wall) |")
    p("| --- | ---: | ---: | ---: | ---: |")
    chattr = run(size, "chattr.warm")
    for key, label in (("ours.protect.jd.warm", "ours: first protection"),
                       ("ours.steady.jd.warm", "ours: steady state"),
                       ("ours.lift.jd.warm", "ours: lift everything (+30d)"),
                       ("chattr.warm", "find \\| xargs chattr +i")):
        r = run(size, key)
        if r is None:
            continue
        versus = f"{chattr[0] / r[0]:.2f}×" if chattr and key == "ours.protect.jd.warm" else ""
        p(f"| {label}{'' if r[3] == 0 else f' (exit {r[3]})'} | {fmt_s(r[0])} | {r[1]:.2f} s | "
          f"{r[2] / 1024:.1f} MiB | {versus} |")
    files, index_bytes = num(size, "files"), num(size, "index_bytes")
    if files and index_bytes:
        p(f"\nIndex on disk: {int(index_bytes)} bytes, {index_bytes / files:.0f} bytes an item. "
          f"Left immutable at the end: {info.get((size, 'left_locked_at_end'), '?')}.\n")

# The large full backup: one VHD directory, ours against chattr over the same paths.
for size in sorted(s for (s, k) in info if s.startswith("backup-") and k == "files"):
    p(f"## {size}: a large full backup, one VHD directory ({info[(size, 'files')]} files, "
      f"{info.get((size, 'glob_find'), '?')} paths to lock)\n")
    p("| run | wall | CPU | peak RSS | chattr ÷ ours (wall) |")
    p("| --- | ---: | ---: | ---: | ---: |")
    chattr = run(size, "chattr.warm")
    for key, label in (("ours.protect.jd.warm", "ours: first protection"),
                       ("chattr.warm", "find \\| xargs chattr +i")):
        r = run(size, key)
        if r is None:
            continue
        versus = f"{chattr[0] / r[0]:.2f}×" if chattr and key == "ours.protect.jd.warm" else ""
        reps = f" (median of {r[4]})" if r[4] > 1 else ""
        p(f"| {label}{'' if r[3] == 0 else f' (exit {r[3]})'} | {fmt_s(r[0])}{reps} | "
          f"{r[1]:.2f} s | {r[2] / 1024:.1f} MiB | {versus} |")
    p(f"\nLeft immutable at the end: {info.get((size, 'left_locked_at_end'), '?')}.\n")

# Targets: on the 1M remote (on the 100k one with --quick).
big = "1M" if "1M" in sizes else (sizes[-1] if sizes else None)
if big is None:  # --backup alone: no remote to judge the targets on
    print("\n".join(out))
    sys.exit(0)
caveat = {"1M": "", "10M": ", --huge: ours and find only"}.get(big, ", --quick: not the official figures")
p(f"## Targets (remote {big}{caveat})\n")


def ratio(a, b):
    ra, rb = run(big, a), run(big, b)
    return None if ra is None or rb is None else ra[0] / rb[0]


def verdict(name, value, ok, shown):
    p(f"- {'PASS' if ok else 'FAIL' if value is not None else 'N/A '} {name}: {shown}")


r = ratio("find.warm", "ours.steady.jd.warm")
verdict("steady state ≥ 40× faster than an unpruned find", r, r is not None and r >= 40,
        f"{r:.1f}×" if r else "not measured")
r = ratio("lsattr.warm", "ours.steady.jd.warm")
verdict("steady state ≥ 200× faster than find | xargs lsattr", r, r is not None and r >= 200,
        f"{r:.1f}×" if r else "not measured")
dl, sx, sc = num(big, "walk.dirsListed"), num(big, "walk.statxCalls"), num(big,
                                                                          "syscalls.ours.steady.jd")
r = sc / (dl + sx) if None not in (dl, sx, sc) else None
verdict("steady-state system calls ≤ 1.3× the minimum", r, r is not None and r <= 1.3,
        f"{r:.2f}× ({int(sc)} for a minimum of {int(dl + sx)})" if r else "not measured")
r = ratio("ours.steady.j1.cold", "ours.steady.j2.cold")
verdict("--jobs 2 ≥ 1.6× faster than --jobs 1, cold cache", r, r is not None and r >= 1.6,
        f"{r:.2f}×" if r else "not measured (drop_caches not allowed?)")
ours_keys = [k for (s, k) in results if s == big and k.startswith("ours.")]
peak = max((run(big, k)[2] for k in ours_keys), default=None)
peak_key = max(ours_keys, key=lambda k: run(big, k)[2]) if ours_keys else ""
verdict("peak RSS < 64 MiB", peak, peak is not None and peak < 64 * 1024,
        f"{peak / 1024:.1f} MiB at most ({peak_key})" if peak else "not measured")
if "100k" in sizes and "1M" in sizes:
    growth = None
    parts = []
    for k in ("ours.steady.jd.warm", "ours.protect.jd.warm", "ours.lift.jd.warm"):
        a, b = run("100k", k), run("1M", k)
        if a and b:
            if growth is None:
                growth = b[2] / a[2]  # the steady state decides; the others are shown
            parts.append(f"{k.split('.')[1]} {a[2] / 1024:.1f} → {b[2] / 1024:.1f} MiB")
    verdict("steady-state peak RSS not growing with size (1M ÷ 100k ≤ 1.25)", growth,
            growth is not None and growth <= 1.25,
            f"×{growth:.2f}: " + "; ".join(parts) if growth else "not measured")
else:
    p("- N/A  peak RSS not growing with size: needs both remotes (run without --quick)")
r = ratio("chattr.warm", "ours.protect.jd.warm")
verdict("first protection ≥ 3× faster than find | xargs chattr +i", r, r is not None and r >= 3,
        f"{r:.2f}×" if r else "not measured")
print("\n".join(out))
