// The text of `xo-immutable --help`: every command, option and exit code (the man page documents
// each of them; //tools:packaging_test checks it).
#ifndef XOI_RECONCILER_USAGE_H_
#define XOI_RECONCILER_USAGE_H_

namespace xoi {

inline constexpr char kUsage[] = R"(Usage:
  xo-immutable [run] [--config FILE] [--remote ID]... [--dry-run] [--deep] [--allow-mass-lift]
               [--report text|json|junit] [--report-file FILE] [--metrics-file FILE] [--jobs N]
  xo-immutable check [--config FILE] [--remote ID]...
  xo-immutable verify [--config FILE] [--remote ID]... [--report text|json|junit]
                      [--report-file FILE] [--metrics-file FILE]
  xo-immutable status [--config FILE] [--remote ID]... [--vm UUID] [--report text|json]
                      [--report-file FILE]
  xo-immutable sweep [--config FILE] [--remote ID]... [--dry-run] [--report text|json]
                     [--report-file FILE]
  xo-immutable clear-time-shift [--config FILE]
  xo-immutable index dump [--config FILE] [--remote ID]... [--day YYYY-MM-DD]
                          [--report text|json] [--report-file FILE]
  xo-immutable hold [--config FILE] [--remote ID]... (--all | --vm UUID... | --path PATH...)
                    --reason TEXT
  xo-immutable release [--config FILE] [--remote ID]... (--all | --vm UUID... | --path PATH... |
                       --id N...) [--reason TEXT]
  xo-immutable --help | --version

Makes every finished Xen Orchestra backup on the configured remotes immutable (chattr +i) for the
remote's immutabilityDuration, and lifts the flag once that has passed. One run converges and exits;
a systemd timer runs it every minute.

Commands:
  run               (default) walk each remote, protect finished backups, lift expired ones,
                    write the index and immutability.json
  check             only check that each remote can be protected (capabilities, filesystem
                    support, filesystem identity) and that XO's daemon xo-immutable-remote is
                    stopped (exit 1 while it runs); writes nothing
  verify            read-only compliance check for CI and monitoring: fails (exit 1) when a
                    finished backup is not immutable, an expired one is still locked more than a
                    day after it expired, the index disagrees with the flags, or
                    immutability.json is wrong
  status            per VM, each backup run with its files, whether all are locked and until
                    when, and whether each delta chain is locked back to its key backup (the
                    K/d timeline); read-only
  sweep             walk each whole remote for locked inodes no glob reaches any more (a renamed
                    folder); lift those the index knows once expired (run it daily)
  clear-time-shift  after checking the clock, let runs lift again (logged in the audit log)
  index dump        print what the index records (day, state, inode, reference, expiry,
                    path); read-only
  hold              set a hold: nothing it covers is lifted (not at expiry, not with duration 0,
                    not by sweep) until it is released; for incident response
  release           remove the holds with exactly these selectors (or ids); the ordinary rules
                    apply again at the next run

Options:
  --config FILE       configuration, JSON or (*.toml) XO's TOML (default
                      /etc/xo-immutable-backups/config.json, else .../config.toml)
  --remote ID         act on this remote only (repeatable; default: every remote)
  --dry-run           compute the plan and print every action with its reason; change nothing
  --deep              also check every member of protected VHD directories (a run otherwise
                      reads only the directory's own flag) and re-protect what was unlocked
  --allow-mass-lift   lift even when more than maxLiftFraction of a remote's protected items
                      (more than 100) expire in one run
  --report text|json|junit
                      report format on stdout (default text); junit: one testsuite per remote,
                      one testcase per compliance check (run and verify)
  --report-file FILE  write the report to FILE instead of stdout
  --metrics-file FILE write Prometheus metrics to FILE (for node_exporter's textfile collector)
  --vm UUID           status: only this VM; hold, release: the VM's folder xo-vm-backups/UUID
  --all               hold, release: the whole remote
  --path PATH         hold, release: PATH (relative to the remote root) and everything below it
  --reason TEXT       hold (required), release: why, for the holds and the audit log
  --id N              release: the hold with this id (as status and the reports show it)
  --day YYYY-MM-DD    index dump: only the records of this day (UTC)
  --jobs N            walker threads (default: number of CPUs, at least 2)

Exit codes:
  0   converged (dry run: plan computed)
  1   some items could not be handled (the rest were)
  2   usage or configuration error (nothing touched)
  3   a remote is unusable (root missing or not mounted, no immutable attribute, missing
      capability, unsafe index folder)
  4   lifting held back: the wall clock moved (time shift), the mass-lift guard tripped, or a
      hold file is damaged
  75  another run holds a remote's lock (hold, release: that remote was left as it was)
)";

}  // namespace xoi

#endif  // XOI_RECONCILER_USAGE_H_
