// xo-immutable: command-line parsing and wiring. Everything else lives in //lib.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/match.h"
#include "lib/config.h"
#include "lib/fs.h"
#include "lib/reconcile.h"
#include "lib/report.h"

namespace xoi {
namespace {

constexpr char kVersion[] = "xo-immutable 0.1.0";

constexpr char kUsage[] = R"(Usage:
  xo-immutable [run] [--config FILE] [--remote ID]... [--dry-run] [--deep]
               [--report text|json] [--report-file FILE] [--jobs N]
  xo-immutable check [--config FILE] [--remote ID]...
  xo-immutable --help | --version

Makes every finished Xen Orchestra backup on the configured remotes immutable (chattr +i) for the
remote's immutabilityDuration, and lifts the flag once that has passed. One run converges and exits;
a systemd timer runs it every minute.

Commands:
  run      (default) walk each remote, protect finished backups, lift expired ones, write the index
           and immutability.json
  check    only check that each remote can be protected (capabilities, filesystem support,
           filesystem identity); writes nothing

Options:
  --config FILE       configuration (default /etc/xo-immutable-backups/config.json)
  --remote ID         act on this remote only (repeatable; default: every remote)
  --dry-run           compute the plan and print every action with its reason; change nothing
  --deep              also check every member of protected VHD directories (a run otherwise
                      reads only the directory's own flag) and re-protect what was unlocked
  --report text|json  report format on stdout (default text)
  --report-file FILE  write the report to FILE instead of stdout
  --jobs N            walker threads (default: number of CPUs, at least 2)

Exit codes:
  0   converged (dry run: plan computed)
  1   some items could not be handled (the rest were)
  2   usage or configuration error (nothing touched)
  3   a remote is unusable (root missing or not mounted, no immutable attribute, missing capability)
  75  another run holds a remote's lock
)";

struct Args {
  std::string command = "run";
  std::string config = kDefaultConfigPath;
  std::vector<std::string> remotes;
  bool dry_run = false;
  bool deep = false;
  std::string report = "text";
  std::string report_file;
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
  if (i < words.size() && (words[i] == "run" || words[i] == "check")) args->command = words[i++];
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
    } else if (word == "--config") {
      if (!take(&args->config)) return UsageError("--config needs a file");
    } else if (word == "--remote") {
      std::string id;
      if (!take(&id)) return UsageError("--remote needs a remote id");
      args->remotes.push_back(id);
    } else if (word == "--report") {
      if (!take(&args->report)) return UsageError("--report needs text or json");
      if (args->report != "text" && args->report != "json") {
        return UsageError(absl::StrCat("--report: unknown format \"", args->report,
                                       "\" (use text or json)"));
      }
    } else if (word == "--report-file") {
      if (!take(&args->report_file) || args->report_file.empty()) {
        return UsageError("--report-file needs a file");
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
  if (args->command == "check" && (args->dry_run || args->deep || args->report != "text" ||
                                   !args->report_file.empty() || args->jobs != 0)) {
    return UsageError("check takes only --config and --remote");
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

// Logs what a real run changed, one line per action, on stderr (the journal under systemd).
void LogRemote(const RemoteReport& r) {
  for (const ActionRecord& a : r.actions) {
    if (!a.executed) continue;
    std::cerr << r.id << ": " << ActionKindName(a.kind) << " " << PrintablePath(a.path)
              << (a.tree ? "/" : "") << ": "
              << (a.outcome == Outcome::kDone ? a.reason
                                              : absl::StrCat(OutcomeName(a.outcome), ": ",
                                                             a.detail))
              << "\n";
  }
  for (const Problem& p : r.errors) {
    std::cerr << r.id << ": error: " << PrintablePath(p.path) << ": " << p.message << "\n";
  }
  if (r.state != RemoteState::kDone) std::cerr << r.id << ": " << r.unusable_reason << "\n";
}

int Run(const Config& config, const std::vector<const RemoteConfig*>& remotes, const Args& args) {
  RunReport report;
  report.dry_run = args.dry_run;
  report.started = WallClockNow();
  report.notices = config.notices;
  RunOptions options;
  options.dry_run = args.dry_run;
  options.deep = args.deep;
  options.now = report.started;
  options.jobs = args.jobs > 0 ? args.jobs
                               : std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
  for (const RemoteConfig* remote : remotes) {
    report.remotes.push_back(ReconcileRemote(config.index_path, *remote, options));
    LogRemote(report.remotes.back());
  }
  const std::string text = args.report == "json" ? FormatJson(report) : FormatText(report);
  if (args.report_file.empty()) {
    std::cout << text << std::flush;
  } else {
    const std::string& path = args.report_file;
    const size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    Fd dir_fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    const absl::Status written =
        dir_fd.valid() ? WriteFileAtomic(dir_fd.get(), path.substr(slash + 1), text, 0644, true, path)
                       : absl::NotFoundError(absl::StrCat("report folder ", dir, " is missing"));
    if (!written.ok()) {
      std::cerr << "xo-immutable: cannot write the report: " << written.message() << "\n";
      return kExitItemErrors;
    }
  }
  return report.ExitCode();
}

int Main(int argc, char** argv) {
  Args args;
  if (int code = ParseArgs(argc, argv, &args); code >= 0) return code;
  auto config = LoadConfig(args.config);
  if (!config.ok()) {
    std::cerr << "xo-immutable: configuration error: " << config.status().message() << "\n";
    return kExitUsage;
  }
  for (const std::string& notice : config->notices) std::cerr << "notice: " << notice << "\n";
  std::vector<const RemoteConfig*> remotes;
  if (int code = SelectRemotes(*config, args.remotes, &remotes); code >= 0) return code;
  return args.command == "check" ? Check(*config, remotes) : Run(*config, remotes, args);
}

}  // namespace
}  // namespace xoi

int main(int argc, char** argv) { return xoi::Main(argc, argv); }
