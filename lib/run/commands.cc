#include "lib/run/commands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <thread>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "lib/core/guards.h"
#include "lib/core/iso_time.h"
#include "lib/core/status.h"
#include "lib/fs/audit_log.h"
#include "lib/fs/clocks.h"
#include "lib/fs/file_system.h"
#include "lib/fs/helper_threads.h"
#include "lib/fs/index.h"
#include "lib/fs/probes.h"
#include "lib/fs/state_dir.h"
#include "lib/fs/xo_daemon.h"
#include "lib/report/escape.h"
#include "lib/report/index_dump.h"
#include "lib/report/json_report.h"
#include "lib/report/junit.h"
#include "lib/report/metrics.h"
#include "lib/report/status_report.h"
#include "lib/report/text_report.h"
#include "lib/run/holds.h"
#include "lib/run/reconcile.h"
#include "lib/run/session.h"
#include "lib/run/status.h"
#include "lib/run/sweep.h"

namespace xoi {
namespace {

constexpr size_t kLogChunk = size_t{64} << 10;

// What the time guard says about this run's clock.
struct ClockCheck {
  std::string shift;   // non-empty: lifting is suspended, and why
  absl::Duration lag;  // how far the wall clock is behind what the record proves
  // Non-empty: this run lifts nothing, and why, though no shift was seen (not sticky).
  std::string unchecked;
};

// The time guard for a run or sweep (lib/core/guards.h). Records the clocks, durably, unless
// `dry_run`. A record that cannot be read or is damaged fails closed: the clock cannot be checked,
// so nothing is lifted until root looks (clear-time-shift).
ClockCheck GuardClock(const StateDir& state, const Config& config, const ClockReading& clocks,
                      bool dry_run) {
  auto marker = state.ReadTimeShift();
  auto text = state.ReadClockRecord();
  if (!marker.ok() || !text.ok()) {
    const std::string why =
        absl::StrCat("cannot read the clock record: ",
                     (!marker.ok() ? marker.status() : text.status()).message());
    Log(Priority::kErr, absl::StrCat("TIME SHIFT: lifting is suspended: ", why));
    return ClockCheck{why, absl::ZeroDuration()};
  }
  std::optional<ClockRecord> record;
  std::string damaged;
  if (text->has_value()) {
    record = DecodeClockRecord(**text);
    if (!record) {
      damaged = absl::StrCat("the clock record in ", state.path(),
                             "/clock.json is damaged: the clock cannot be checked");
    }
  }
  const ClockVerdict verdict = JudgeClock(record, clocks, config.time_shift_threshold);
  const std::string detected = !damaged.empty() ? damaged : verdict.shift;
  std::string shift;
  if (marker->has_value()) {
    const std::string& recorded = **marker;
    shift = absl::StrCat(
        recorded.empty() ? "time shift recorded" : absl::StripTrailingAsciiWhitespace(recorded),
        " (recorded in ", state.TimeShiftPath(), ")");
  } else {
    shift = detected;
  }
  std::string unchecked;
  if (!dry_run) {
    absl::Status recorded;
    if (!detected.empty() && !marker->has_value()) {
      recorded = state.WriteTimeShift(
          absl::StrCat("time shift detected at ", IsoTime(clocks.wall), ": ", detected, "\n"));
    }
    if (recorded.ok()) {
      recorded = state.WriteClockRecord(EncodeClockRecord(NextClockRecord(record, clocks)),
                                        /*sync=*/true);
    }
    if (!recorded.ok()) {
      Log(Priority::kErr, absl::StrCat("cannot record the clocks: ", recorded.message()));
      if (!HasBaseline(record, clocks)) {
        unchecked = absl::StrCat(
            "the clocks could not be recorded (", recorded.message(),
            ") and this boot has none recorded yet: a wall clock moved ahead could not be told "
            "from time passing; lifting waits until they can be recorded");
      }
    }
  }
  if (!shift.empty()) {
    Log(Priority::kErr,
        absl::StrCat("TIME SHIFT: lifting is suspended: ", shift,
                     ". Check the clock, then run `xo-immutable clear-time-shift` as root."));
  }
  return ClockCheck{shift, verdict.lag, unchecked};
}

// Two reconcilers on one remote fight over its flags: XO's daemon still running is said loudly,
// on every run (and in the report's notices). Returns what was found.
// The lines saying that XO's daemon still runs; logged too unless `log` is false (check prints
// them as its report).
std::vector<std::string> WarnIfXoDaemonRuns(bool log = true) {
  const std::vector<std::string> found = XoDaemonRunning();
  std::vector<std::string> lines;
  for (const std::string& sign : found) {
    lines.push_back(absl::StrCat(
        "XO's immutability daemon is still running (", sign,
        "): two programs now lock and unlock the same remotes. Stop and disable it: systemctl "
        "disable --now xo-immutable-remote (see \"Switching from XO's daemon\" in the README)"));
    if (log) Log(Priority::kErr, lines.back());
  }
  return lines;
}

// Whether `file` (unless empty) can be written where it is named, checked before a command does
// anything: a run that changed the remotes and then could not say so is worse than one that did
// not start.
absl::Status CheckOutputFolder(const std::string& file) {
  if (file.empty()) return absl::OkStatus();
  const std::string dir = FolderOf(file);
  absl::StatusOr<Fd> opened = RealFileSystem().OpenDirByPath(dir);
  if (!opened.ok()) return opened.status();
  struct stat st;
  if (stat(file.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(file, " is a directory"));
  }
  if (faccessat(opened->get(), ".", W_OK, AT_EACCESS) != 0) {
    return ErrnoError(errno, "write in the folder", dir);
  }
  return absl::OkStatus();
}

int WriteReport(const std::string& text, const std::string& report_file, int code) {
  if (report_file.empty()) {
    std::cout << text << std::flush;
    return code;
  }
  if (absl::Status written = WriteWholeFile(RealFileSystem(), report_file, text, 0644);
      !written.ok()) {
    Log(Priority::kErr, absl::StrCat("cannot write the report: ", written.message()));
    return std::max(code, static_cast<int>(kExitItemErrors));
  }
  return code;
}

// The last successful run per remote: this one where it succeeded (recorded unless dry run), else
// what the state folder says.
std::map<std::string, absl::Time> LastSuccess(const StateDir& state, const RunReport& report) {
  std::map<std::string, absl::Time> last;
  for (const RemoteReport& r : report.remotes) {
    if (Succeeded(r)) {
      last[r.id] = report.started;
      if (!report.dry_run) (void)state.WriteLastSuccess(r.id, report.started);
    } else if (std::optional<absl::Time> recorded = state.ReadLastSuccess(r.id)) {
      last[r.id] = *recorded;
    }
  }
  return last;
}

// One remote's work, such that nothing that goes wrong in it stops the others: content a writer put
// on a remote is parsed without exceptions, but should one escape all the same, that remote is
// reported unusable with the reason and the next is handled.
RemoteReport UnusableReport(const RemoteConfig& remote, std::string why) {
  RemoteReport unusable;
  unusable.id = remote.id;
  unusable.root = remote.root;
  unusable.state = RemoteState::kUnusable;
  unusable.unusable_reason = std::move(why);
  return unusable;
}

template <typename Work>
RemoteReport Guarded(const RemoteConfig& remote, const Work& work) {
  try {
    return work();
  } catch (const std::exception& e) {
    return UnusableReport(
        remote, absl::StrCat("internal error, nothing more done on this remote: ", e.what()));
  }
}

std::string Hostname() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  return name;
}

// run, sweep and verify: the clock check, the audit log, then each remote in turn.
int RunOrSweep(const Config& config, const std::vector<const RemoteConfig*>& remotes,
               const CommandArgs& args) {
  FileSystem& fs = RealFileSystem();
  const StateDir state(fs, config.index_path);
  const ClockReading clocks = ReadClocks();
  RunReport report;
  report.command = args.command;
  report.dry_run = args.dry_run || args.command == "verify";
  report.started = clocks.wall;
  report.hostname = Hostname();
  report.notices = config.notices;
  for (std::string& line : WarnIfXoDaemonRuns()) report.notices.push_back(std::move(line));
  // An index folder that cannot be used makes every remote unusable, in a report like any other
  // (a JSON or JUnit reader, the metrics, must see it); nothing in it is read or written.
  const std::string index_unusable = PrepareIndex(fs, config, state, /*create=*/!report.dry_run);
  if (!index_unusable.empty()) Log(Priority::kErr, absl::StrCat("index: ", index_unusable));
  const std::map<std::string, std::string> overlapping = OverlappingRoots(fs, config);
  RunOptions options;
  options.dry_run = report.dry_run;
  // verify looks inside every protected tree: a member unlocked, or odd, fails it.
  options.deep = args.deep || args.command == "verify";
  options.now = clocks.wall;
  options.allow_mass_lift = args.allow_mass_lift;
  options.max_lift_fraction = config.max_lift_fraction;
  options.max_entries = config.max_entries_per_run;
  options.jobs = args.jobs > 0 ? args.jobs
                               : std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
  if (index_unusable.empty() && !report.dry_run) state.RemoveLeftoverTemporaries();
  const ClockCheck clock =
      index_unusable.empty() ? GuardClock(state, config, clocks, report.dry_run) : ClockCheck{};
  report.time_shift = clock.shift;
  if (!report.time_shift.empty()) {
    options.lifting_suspended = "time shift: " + report.time_shift;
  } else if (!clock.unchecked.empty()) {
    options.lifting_suspended = clock.unchecked;
  }
  options.clock_lag = clock.lag;
  std::unique_ptr<AuditLog> audit;
  // Without the capabilities every remote is unusable for that reason, which the report says
  // first; the audit log's own failure to be made append-only would only hide it.
  const bool able = MissingCapabilities().empty();
  if (!report.dry_run && able && index_unusable.empty()) {
    auto opened = AuditLog::Open(fs, config.index_path);
    if (opened.ok()) {
      audit = *std::move(opened);
      options.audit = audit.get();
    } else {
      Log(Priority::kErr, absl::StrCat("audit log: ", opened.status().message()));
    }
  }
  const bool journal = getenv("JOURNAL_STREAM") != nullptr;
  for (const RemoteConfig* remote : remotes) {
    report.remotes.push_back(Guarded(*remote, [&] {
      if (!index_unusable.empty()) {
        return UnusableReport(*remote, absl::StrCat("index: ", index_unusable));
      }
      if (auto it = overlapping.find(remote->id); it != overlapping.end()) {
        return UnusableReport(*remote, it->second);
      }
      return args.command == "sweep" ? SweepRemote(fs, state, *remote, options)
                                     : ReconcileRemote(fs, state, *remote, options);
    }));
    RemoteReport& r = report.remotes.back();
    if (!report.dry_run && able && index_unusable.empty() && audit == nullptr) {
      r.errors.push_back(Problem{"", "the audit log could not be opened"});
      ++r.counts.errors;
    }
    // Whole lines in writes of about 64 KiB: a first protection of a million items is not a
    // million system calls to the journal.
    std::string lines;
    const absl::string_view unchanged_by = args.command == "verify" ? "verify"
                                           : report.dry_run         ? "dry run"
                                                                    : "";
    ForEachLogLine(r, unchanged_by, [&](const LogLine& line) {
      lines += FormatLogLine(line, journal);
      if (lines.size() >= kLogChunk) {
        std::cerr.write(lines.data(), static_cast<std::streamsize>(lines.size()));
        lines.clear();
      }
    });
    std::cerr.write(lines.data(), static_cast<std::streamsize>(lines.size()));
  }
  if (const uint64_t refused = RefusedHelperThreads(); refused > 0) {
    std::string notice = absl::StrCat(
        "the system refused ", refused, " helper thread(s) (", FirstHelperThreadRefusal(),
        "): this run went on with fewer threads than --jobs ", options.jobs,
        "; see systemd's TasksMax or the pids limit of the service");
    Log(Priority::kWarning, absl::StrCat("warning: ", notice));
    report.notices.push_back(std::move(notice));
  }
  const std::string text = args.report == "json"    ? FormatJson(report)
                           : args.report == "junit" ? FormatJunit(report, args.command)
                                                    : FormatText(report);
  int code = WriteReport(text, args.report_file, report.ExitCode());
  // A run that found every remote locked by another one (a run by hand beside the timer's) did
  // nothing: the run holding the locks writes the metrics. Written over, they would say every
  // remote unusable and its counts, unprotected items included, zero.
  const bool all_locked =
      std::all_of(report.remotes.begin(), report.remotes.end(),
                  [](const RemoteReport& r) { return r.state == RemoteState::kLocked; });
  if (!args.metrics_file.empty() && !(all_locked && !report.remotes.empty())) {
    const std::string metrics = FormatMetrics(report, LastSuccess(state, report));
    if (absl::Status written = WriteWholeFile(fs, args.metrics_file, metrics, 0644);
        !written.ok()) {
      Log(Priority::kErr, absl::StrCat("cannot write the metrics: ", written.message()));
      code = std::max(code, static_cast<int>(kExitItemErrors));
    }
  }
  return code;
}

int Check(const Config& config, const std::vector<const RemoteConfig*>& remotes) {
  FileSystem& fs = RealFileSystem();
  const StateDir state(fs, config.index_path);
  int code = kExitOk;
  const std::string index_unusable = PrepareIndex(fs, config, state, /*create=*/false);
  if (!index_unusable.empty()) {
    std::cout << "index: " << index_unusable << "\n";
    code = kExitUnusable;
  }
  const std::map<std::string, std::string> overlapping = OverlappingRoots(fs, config);
  for (const RemoteConfig* remote : remotes) {
    const auto overlap = overlapping.find(remote->id);
    std::vector<std::string> notes;
    // As a run would find it: no remote is usable without its index.
    const std::string why = !index_unusable.empty() ? absl::StrCat("index: ", index_unusable)
                            : overlap != overlapping.end()
                                ? overlap->second
                                : CheckRemote(fs, state, *remote, &notes);
    std::cout << "remote " << remote->id << " (" << remote->root
              << "): " << (why.empty() ? "usable" : "unusable: " + why) << "\n";
    for (const std::string& note : notes) std::cout << "  but: " << note << "\n";
    if (!why.empty()) code = kExitUnusable;
    if (!notes.empty() && code == kExitOk) code = kExitItemErrors;
  }
  // The remotes are fine, but not ready to be handed over: exit 1 unless one is unusable.
  for (const std::string& line : WarnIfXoDaemonRuns(/*log=*/false)) {
    std::cout << line << "\n";
    if (code == kExitOk) code = kExitItemErrors;
  }
  return code;
}

int Status(const Config& config, const std::vector<const RemoteConfig*>& remotes,
           const CommandArgs& args) {
  const StateDir state(RealFileSystem(), config.index_path);
  std::vector<RemoteStatus> status;
  int code = kExitOk;
  for (const RemoteConfig* remote : remotes) {
    status.push_back(ReadBackupStatus(RealFileSystem(), state, *remote, args.vm, 2));
    if (!status.back().error.empty()) code = kExitUnusable;
    if (!status.back().holds_error.empty() && code == kExitOk) code = kExitItemErrors;
  }
  const std::string text =
      args.report == "json" ? FormatStatusJson(status) : FormatStatusText(status);
  return WriteReport(text, args.report_file, code);
}

// Reads each remote's index as it stands (no lock: every day file is replaced atomically) and
// prints its records. A script must not take a partial dump for the whole: exit 3 when an index
// cannot be read (missing, unsafe, unreadable), 1 when a day file of it is damaged or unreadable
// (its records are left out).
int IndexDumpCommand(const Config& config, const std::vector<const RemoteConfig*>& remotes,
                     const CommandArgs& args) {
  FileSystem& fs = RealFileSystem();
  const StateDir state(fs, config.index_path);
  std::vector<IndexDump> dumps;
  int code = kExitOk;
  auto unusable = [&](IndexDump& dump, absl::string_view why) {
    dump.error = std::string(why);
    code = kExitUnusable;
  };
  for (const RemoteConfig* remote : remotes) {
    IndexDump& dump = dumps.emplace_back();
    dump.id = remote->id;
    dump.root = remote->root;
    dump.dir = state.RemoteDir(remote->id);
    dump.duration = remote->immutability_duration;
    // Records in a folder others can write are anyone's: a run refuses them, and so does this.
    if (absl::Status safe = state.PrepareRemote(remote->id, /*create=*/false); !safe.ok()) {
      unusable(dump, safe.message());
      continue;
    }
    if (!fs.StatAt(AT_FDCWD, dump.dir.c_str(), dump.dir).ok()) {
      unusable(dump, absl::StrCat("no index at ", dump.dir, ": no run has recorded anything for ",
                                  "this remote with this indexPath"));
      continue;
    }
    auto index = Index::Open(fs, dump.dir, remote->root, /*create=*/false);
    if (!index.ok()) {
      unusable(dump, index.status().message());
      continue;
    }
    for (const Warning& notice : (*index)->notices()) {
      dump.notices.push_back(notice.message);
      if (notice.kind == WarningKind::kIndexEntryUnreadable && code == kExitOk) {
        code = kExitItemErrors;
      }
    }
    // Day by day, by path within a day: the order of the day files.
    const absl::Status read = (*index)->ForEach(
        [&](const RecordSummary& summary) { return !args.day || summary.day() == *args.day; },
        [&](const IndexRecord& record) { dump.records.push_back(record); });
    if (!read.ok()) unusable(dump, read.message());
  }
  const std::string text =
      args.report == "json" ? FormatIndexDumpJson(dumps) : FormatIndexDumpText(dumps);
  return WriteReport(text, args.report_file, code);
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
  FileSystem& fs = RealFileSystem();
  const StateDir state(fs, config.index_path);
  if (std::string why = PrepareIndex(fs, config, state, /*create=*/true); !why.empty()) {
    Log(Priority::kErr, absl::StrCat("index: ", why));
    return kExitUnusable;
  }
  const ClockReading clocks = ReadClocks();
  auto marker = state.ReadTimeShift();
  const std::string was = marker.ok() && marker->has_value()
                              ? std::string(absl::StripTrailingAsciiWhitespace(**marker))
                              : "";
  absl::Status cleared = state.RemoveTimeShift();
  if (cleared.ok()) {
    cleared = state.WriteClockRecord(EncodeClockRecord(NextClockRecord(std::nullopt, clocks)),
                                     /*sync=*/true);
  }
  if (!cleared.ok()) {
    Log(Priority::kErr, absl::StrCat("clear-time-shift: ", cleared.message()));
    return kExitItemErrors;
  }
  const std::string who = Requester();
  auto audit = AuditLog::Open(fs, config.index_path);
  if (audit.ok()) {
    (void)(*audit)->Append(
        AuditRecord{clocks.wall, "", config.index_path, 0, "clear-time-shift",
                    absl::StrCat("by ", who, was.empty() ? "" : ": was: ", was)});
  }
  Log(Priority::kNotice, absl::StrCat("time shift cleared by ", who, " at ", IsoTime(clocks.wall),
                                      "; the clock record starts afresh"));
  return kExitOk;
}

}  // namespace

void Log(Priority priority, absl::string_view text) {
  static const bool journal = getenv("JOURNAL_STREAM") != nullptr;
  std::cerr << FormatLogLine(LogLine{priority, Printable(text)}, journal);
}

int RunCommand(const Config& config, const std::vector<const RemoteConfig*>& remotes,
               const CommandArgs& args) {
  for (const auto& [file, option] :
       {std::pair<const std::string&, const char*>{args.report_file, "--report-file"},
        {args.metrics_file, "--metrics-file"}}) {
    if (absl::Status usable = CheckOutputFolder(file); !usable.ok()) {
      Log(Priority::kErr, absl::StrCat("xo-immutable: ", option, ": ", usable.message()));
      return kExitUsage;
    }
  }
  if (args.command == "check") return Check(config, remotes);
  if (args.command == "status") return Status(config, remotes, args);
  if (args.command == "hold" || args.command == "release") {
    return HoldOrRelease(config, remotes,
                         HoldRequest{args.command == "release", args.selectors, args.hold_ids,
                                     args.reason, Requester()});
  }
  if (args.command == "clear-time-shift") return ClearTimeShift(config);
  if (args.command == "index-dump") return IndexDumpCommand(config, remotes, args);
  return RunOrSweep(config, remotes, args);
}

}  // namespace xoi
