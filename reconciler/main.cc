// xo-immutable: command-line parsing and wiring. Everything else lives in //lib.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/ascii.h"
#include "lib/config.h"
#include "lib/fs.h"
#include "lib/status.h"
#include "lib/audit_log.h"
#include "lib/backup_status.h"
#include "lib/junit.h"
#include "lib/metrics.h"
#include "lib/reconcile.h"
#include "lib/remote_session.h"
#include "lib/sweep.h"
#include "lib/time_guard.h"
#include "lib/report.h"

namespace xoi {
namespace {

constexpr char kVersion[] = "xo-immutable 0.1.0";

constexpr char kUsage[] = R"(Usage:
  xo-immutable [run] [--config FILE] [--remote ID]... [--dry-run] [--deep] [--allow-mass-lift]
               [--report text|json|junit] [--report-file FILE] [--metrics-file FILE] [--jobs N]
  xo-immutable check [--config FILE] [--remote ID]...
  xo-immutable verify [--config FILE] [--remote ID]... [--report text|json|junit]
                      [--report-file FILE] [--metrics-file FILE]
  xo-immutable status [--config FILE] [--remote ID]... [--vm UUID] [--report text|json]
  xo-immutable sweep [--config FILE] [--remote ID]... [--dry-run] [--report text|json]
                     [--report-file FILE]
  xo-immutable clear-time-shift [--config FILE]
  xo-immutable --help | --version

Makes every finished Xen Orchestra backup on the configured remotes immutable (chattr +i) for the
remote's immutabilityDuration, and lifts the flag once that has passed. One run converges and exits;
a systemd timer runs it every minute.

Commands:
  run               (default) walk each remote, protect finished backups, lift expired ones,
                    write the index and immutability.json
  check             only check that each remote can be protected (capabilities, filesystem
                    support, filesystem identity); writes nothing
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
  --vm UUID           status: only this VM
  --jobs N            walker threads (default: number of CPUs, at least 2)

Exit codes:
  0   converged (dry run: plan computed)
  1   some items could not be handled (the rest were)
  2   usage or configuration error (nothing touched)
  3   a remote is unusable (root missing or not mounted, no immutable attribute, missing
      capability, unsafe index folder)
  4   lifting held back: the wall clock moved (time shift) or the mass-lift guard tripped
  75  another run holds a remote's lock
)";

struct Args {
  std::string command = "run";
  std::string config;  // empty: DefaultConfigPath()
  std::vector<std::string> remotes;
  bool dry_run = false;
  bool deep = false;
  bool allow_mass_lift = false;
  std::string report = "text";
  std::string report_file;
  std::string metrics_file;
  std::string vm;
  int jobs = 0;
};

int UsageError(const std::string& message) {
  std::cerr << "xo-immutable: " << message << "\nTry 'xo-immutable --help'.\n";
  return kExitUsage;
}

// Returns -1 when parsing succeeded, else the exit code to leave with.
int ParseArgs(int argc, char** argv, Args* args) {
  std::vector<std::string> words(argv + 1, argv + argc);
  size_t i = 0;
  if (i < words.size() && (words[i] == "run" || words[i] == "check" || words[i] == "sweep" ||
                           words[i] == "verify" || words[i] == "status" ||
                           words[i] == "clear-time-shift")) {
    args->command = words[i++];
  }
  for (; i < words.size(); ++i) {
    std::string word = words[i];
    std::string value;
    bool has_value = false;
    if (const size_t eq = word.find('='); absl::StartsWith(word, "--") && eq != std::string::npos) {
      value = word.substr(eq + 1);
      word = word.substr(0, eq);
      has_value = true;
    }
    auto take = [&](std::string* out) {
      if (has_value) {
        *out = value;
        return true;
      }
      if (i + 1 >= words.size()) return false;
      *out = words[++i];
      return true;
    };
    if (word == "--help" || word == "-h") {
      std::cout << kUsage;
      return kExitOk;
    }
    if (word == "--version") {
      std::cout << kVersion << "\n";
      return kExitOk;
    }
    if (word == "--dry-run" && !has_value) {
      args->dry_run = true;
    } else if (word == "--deep" && !has_value) {
      args->deep = true;
    } else if (word == "--allow-mass-lift" && !has_value) {
      args->allow_mass_lift = true;
    } else if (word == "--config") {
      if (!take(&args->config)) return UsageError("--config needs a file");
    } else if (word == "--remote") {
      std::string id;
      if (!take(&id)) return UsageError("--remote needs a remote id");
      args->remotes.push_back(id);
    } else if (word == "--report") {
      if (!take(&args->report)) return UsageError("--report needs text or json");
      if (args->report != "text" && args->report != "json" && args->report != "junit") {
        return UsageError(absl::StrCat("--report: unknown format \"", args->report,
                                       "\" (use text, json or junit)"));
      }
    } else if (word == "--report-file") {
      if (!take(&args->report_file) || args->report_file.empty()) {
        return UsageError("--report-file needs a file");
      }
    } else if (word == "--vm") {
      if (!take(&args->vm) || args->vm.empty()) return UsageError("--vm needs a VM uuid");
    } else if (word == "--metrics-file") {
      if (!take(&args->metrics_file) || args->metrics_file.empty()) {
        return UsageError("--metrics-file needs a file");
      }
    } else if (word == "--jobs") {
      std::string n;
      if (!take(&n) || !absl::SimpleAtoi(n, &args->jobs) || args->jobs < 1 ||
          args->jobs > 256) {
        return UsageError("--jobs needs a number from 1 to 256");
      }
    } else {
      return UsageError(absl::StrCat("unknown argument \"", words[i], "\""));
    }
  }
  const bool run = args->command == "run", sweep = args->command == "sweep",
             verify = args->command == "verify", status = args->command == "status";
  if (!status && !args->vm.empty()) return UsageError("--vm goes with status");
  if (status) {
    if (args->dry_run || args->deep || args->allow_mass_lift || args->jobs != 0 ||
        !args->metrics_file.empty() || args->report == "junit") {
      return UsageError("status takes --config, --remote, --vm, --report text|json, --report-file");
    }
    return -1;
  }
  if (!run && (args->deep || args->allow_mass_lift || args->jobs != 0)) {
    return UsageError("--deep, --allow-mass-lift and --jobs go with run");
  }
  if (!run && !sweep && !verify &&
      (args->dry_run || args->report != "text" || !args->report_file.empty() ||
       !args->metrics_file.empty())) {
    return UsageError(absl::StrCat(args->command, " takes only --config and --remote"));
  }
  if (verify && args->dry_run) return UsageError("verify never changes anything: no --dry-run");
  if (sweep && args->report == "junit") return UsageError("--report junit goes with run and verify");
  if (args->command == "clear-time-shift" && !args->remotes.empty()) {
    return UsageError("clear-time-shift takes only --config");
  }
  return -1;
}

// The remotes to act on, in id order; exits 2 on an unknown id.
int SelectRemotes(const Config& config, const std::vector<std::string>& ids,
                  std::vector<const RemoteConfig*>* selected) {
  for (const RemoteConfig& remote : config.remotes) {
    if (ids.empty() || std::find(ids.begin(), ids.end(), remote.id) != ids.end()) {
      selected->push_back(&remote);
    }
  }
  for (const std::string& id : ids) {
    if (std::none_of(config.remotes.begin(), config.remotes.end(),
                     [&](const RemoteConfig& r) { return r.id == id; })) {
      return UsageError(absl::StrCat("--remote: no remote \"", id, "\" in ", config.source));
    }
  }
  return -1;
}

int Check(const Config& config, const std::vector<const RemoteConfig*>& remotes) {
  int code = kExitOk;
  for (const RemoteConfig* remote : remotes) {
    const std::string why = CheckRemote(config.index_path, *remote);
    std::cout << "remote " << remote->id << " (" << remote->root
              << "): " << (why.empty() ? "usable" : "unusable: " + why) << "\n";
    if (!why.empty()) code = kExitUnusable;
  }
  return code;
}

// Log lines on stderr. Under systemd (JOURNAL_STREAM set) each carries the journal's priority
// prefix, so `journalctl -p warning` finds problems; otherwise plain text.
enum Priority { kErr = 3, kWarning = 4, kNotice = 5, kInfo = 6 };

void Log(Priority priority, absl::string_view line) {
  static const bool journal = getenv("JOURNAL_STREAM") != nullptr;
  if (journal) std::cerr << "<" << static_cast<int>(priority) << ">";
  std::cerr << line << "\n";
}

// One line per change a real run made, per problem, and a summary line per remote.
void LogRemote(const RemoteReport& r, bool dry_run) {
  for (const ActionRecord& a : r.actions) {
    if (!a.executed) continue;
    const bool done = a.outcome == Outcome::kDone;
    Log(done ? kInfo : (a.outcome == Outcome::kFailed ? kErr : kWarning),
        absl::StrCat(r.id, ": ", ActionKindName(a.kind), " ", PrintablePath(a.path),
                     a.tree ? "/" : "", ": ",
                     done ? a.reason : absl::StrCat(OutcomeName(a.outcome), ": ", a.detail)));
  }
  for (const Problem& p : r.errors) {
    Log(kErr, absl::StrCat(r.id, ": error: ", PrintablePath(p.path), ": ", p.message));
  }
  if (r.state != RemoteState::kDone) {
    Log(r.state == RemoteState::kLocked ? kNotice : kErr, absl::StrCat(r.id, ": ", r.unusable_reason));
    return;
  }
  if (!r.lifts_held.empty()) Log(kWarning, absl::StrCat(r.id, ": lifts held back: ", r.lifts_held));
  const Counts& c = r.counts;
  Log(c.errors > 0 ? kWarning : kInfo,
      absl::StrFormat("%s: %s%d seen, %d protected, %d lifted, %d re-protected, %d waiting, "
                      "%d refused, %d errors",
                      r.id, dry_run ? "dry run: " : "", c.seen, c.protected_, c.lifted,
                      c.reprotected, c.waiting, c.refused, c.errors));
}

// Runs the time guard (time_guard.h) for a run or sweep: returns the reason lifting is suspended,
// or "". Records the clocks unless `dry_run`.
std::string GuardClock(const Config& config, const ClockReading& clocks, bool dry_run) {
  auto guard = TimeGuard::Load(config.index_path);
  if (!guard.ok()) {
    // The record cannot be read: the clock cannot be checked, so nothing is lifted this run.
    return absl::StrCat("cannot read the clock record: ", guard.status().message());
  }
  const std::string shift = guard->Check(clocks, config.time_shift_threshold);
  if (!dry_run) {
    if (absl::Status recorded = guard->Record(clocks, shift); !recorded.ok()) {
      Log(kErr, absl::StrCat("cannot record the clocks: ", recorded.message()));
    }
  }
  if (!shift.empty()) {
    Log(kErr, absl::StrCat("TIME SHIFT: lifting is suspended: ", shift,
                           ". Check the clock, then run `xo-immutable clear-time-shift` as root."));
  }
  return shift;
}

// Writes `content` to `path` atomically (a temporary file renamed over it).
absl::Status WriteWhole(const std::string& path, absl::string_view content) {
  const size_t slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  Fd dir_fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd.valid()) return ErrnoError(errno, "open folder", dir);
  return WriteFileAtomic(dir_fd.get(), name, content, 0644, /*sync=*/true, path);
}

// The last successful run per remote: this one where it succeeded (recorded unless dry run), else
// what <indexPath>/<id>/last-success says.
std::map<std::string, absl::Time> LastSuccess(const Config& config, const RunReport& report) {
  std::map<std::string, absl::Time> last;
  for (const RemoteReport& r : report.remotes) {
    const std::string file = absl::StrCat(config.index_path, "/", r.id, "/last-success");
    if (Succeeded(r)) {
      last[r.id] = report.started;
      if (!report.dry_run) {
        (void)WriteWhole(file, absl::StrCat(absl::ToUnixSeconds(report.started), "\n"));
      }
      continue;
    }
    auto recorded = ReadSmallFile(AT_FDCWD, file.c_str(), 64, file);
    int64_t seconds = 0;
    if (recorded.ok() &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(*recorded), &seconds)) {
      last[r.id] = absl::FromUnixSeconds(seconds);
    }
  }
  return last;
}

int WriteReport(const RunReport& report, const Args& args) {
  const std::string text = args.report == "json"    ? FormatJson(report)
                           : args.report == "junit" ? FormatJunit(report, args.command)
                                                    : FormatText(report);
  if (args.report_file.empty()) {
    std::cout << text << std::flush;
    return report.ExitCode();
  }
  if (absl::Status written = WriteWhole(args.report_file, text); !written.ok()) {
    Log(kErr, absl::StrCat("cannot write the report: ", written.message()));
    return std::max(report.ExitCode(), static_cast<int>(kExitItemErrors));
  }
  return report.ExitCode();
}

// run, sweep and verify: the clock check, the audit log, then each remote in turn.
int RunOrSweep(const Config& config, const std::vector<const RemoteConfig*>& remotes,
               const Args& args) {
  const ClockReading clocks = ReadClocks();
  RunReport report;
  report.command = args.command;
  report.dry_run = args.dry_run || args.command == "verify";
  report.started = clocks.wall;
  report.notices = config.notices;
  if (absl::Status ready = PrepareIndexRoot(config.index_path, report.dry_run); !ready.ok()) {
    Log(kErr, absl::StrCat("index: ", ready.message()));
    return kExitUnusable;
  }
  RunOptions options;
  options.dry_run = report.dry_run;
  options.deep = args.deep;
  options.now = clocks.wall;
  options.allow_mass_lift = args.allow_mass_lift;
  options.max_lift_fraction = config.max_lift_fraction;
  options.jobs = args.jobs > 0 ? args.jobs
                               : std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
  report.time_shift = GuardClock(config, clocks, report.dry_run);
  if (!report.time_shift.empty()) options.lifting_suspended = "time shift: " + report.time_shift;
  std::unique_ptr<AuditLog> audit;
  if (!report.dry_run) {
    auto opened = AuditLog::Open(config.index_path);
    if (opened.ok()) {
      audit = *std::move(opened);
      options.audit = audit.get();
    } else {
      Log(kErr, absl::StrCat("audit log: ", opened.status().message()));
    }
  }
  for (const RemoteConfig* remote : remotes) {
    report.remotes.push_back(args.command == "sweep"
                                 ? SweepRemote(config.index_path, *remote, options)
                                 : ReconcileRemote(config.index_path, *remote, options));
    if (!report.dry_run && audit == nullptr) {
      report.remotes.back().errors.push_back(Problem{"", "the audit log could not be opened"});
      ++report.remotes.back().counts.errors;
    }
    LogRemote(report.remotes.back(), report.dry_run);
  }
  int code = WriteReport(report, args);
  if (!args.metrics_file.empty()) {
    const std::string metrics = FormatMetrics(report, LastSuccess(config, report));
    if (absl::Status written = WriteWhole(args.metrics_file, metrics); !written.ok()) {
      Log(kErr, absl::StrCat("cannot write the metrics: ", written.message()));
      code = std::max(code, static_cast<int>(kExitItemErrors));
    }
  }
  return code;
}

int Status(const Config& config, const std::vector<const RemoteConfig*>& remotes,
           const Args& args) {
  std::vector<RemoteStatus> status;
  int code = kExitOk;
  for (const RemoteConfig* remote : remotes) {
    status.push_back(ReadBackupStatus(*remote, args.vm, 2));
    if (!status.back().error.empty()) code = kExitUnusable;
  }
  const std::string text =
      args.report == "json" ? FormatStatusJson(status) : FormatStatusText(status);
  if (args.report_file.empty()) {
    std::cout << text << std::flush;
  } else if (absl::Status written = WriteWhole(args.report_file, text); !written.ok()) {
    Log(kErr, absl::StrCat("cannot write the report: ", written.message()));
    return kExitItemErrors;
  }
  return code;
}

// Who asked, for the audit log: the login behind sudo where there is one.
std::string Requester() {
  std::string who = absl::StrCat("uid ", getuid());
  for (const char* var : {"SUDO_USER", "LOGNAME", "USER"}) {
    if (const char* value = getenv(var); value != nullptr && *value != '\0') {
      absl::StrAppend(&who, " (", var, "=", value, ")");
      break;
    }
  }
  return who;
}

int ClearTimeShift(const Config& config) {
  if (absl::Status ready = PrepareIndexRoot(config.index_path, false); !ready.ok()) {
    Log(kErr, absl::StrCat("index: ", ready.message()));
    return kExitUnusable;
  }
  const ClockReading clocks = ReadClocks();
  auto guard = TimeGuard::Load(config.index_path);
  const std::string was = guard.ok() ? guard->Check(clocks, config.time_shift_threshold) : "";
  if (absl::Status cleared = TimeGuard::Clear(config.index_path, clocks); !cleared.ok()) {
    Log(kErr, absl::StrCat("clear-time-shift: ", cleared.message()));
    return kExitItemErrors;
  }
  const std::string who = Requester();
  auto audit = AuditLog::Open(config.index_path);
  if (audit.ok()) {
    (void)(*audit)->Append(AuditRecord{clocks.wall, "", config.index_path, 0, "clear-time-shift",
                                       absl::StrCat("by ", who, was.empty() ? "" : ": was: ", was)});
  }
  Log(kNotice, absl::StrCat("time shift cleared by ", who, " at ",
                            absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", clocks.wall,
                                             absl::UTCTimeZone()),
                            "; the clock record starts afresh"));
  return kExitOk;
}

int Main(int argc, char** argv) {
  Args args;
  if (int code = ParseArgs(argc, argv, &args); code >= 0) return code;
  auto config = LoadConfig(args.config.empty() ? DefaultConfigPath() : args.config);
  if (!config.ok()) {
    Log(kErr, absl::StrCat("xo-immutable: configuration error: ", config.status().message()));
    return kExitUsage;
  }
  for (const std::string& notice : config->notices) Log(kNotice, absl::StrCat("notice: ", notice));
  std::vector<const RemoteConfig*> remotes;
  if (int code = SelectRemotes(*config, args.remotes, &remotes); code >= 0) return code;
  if (args.command == "check") return Check(*config, remotes);
  if (args.command == "status") return Status(*config, remotes, args);
  if (args.command == "clear-time-shift") return ClearTimeShift(*config);
  return RunOrSweep(*config, remotes, args);
}

}  // namespace
}  // namespace xoi

int main(int argc, char** argv) { return xoi::Main(argc, argv); }
