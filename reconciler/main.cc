// xo-immutable: command-line parsing and dispatch. Everything else lives in //lib
// (lib/run/commands.h wires the commands).
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "lib/core/config.h"
#include "lib/core/expiry.h"
#include "lib/report/run_report.h"
#include "lib/run/commands.h"
#include "lib/run/config_file.h"

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
  xo-immutable index dump [--config FILE] [--remote ID]... [--day YYYY-MM-DD]
                          [--report text|json] [--report-file FILE]
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
  index dump        print what the index records (day, state, inode, reference, expiry,
                    path); read-only

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
  --day YYYY-MM-DD    index dump: only the records of this day (UTC)
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

int UsageError(const std::string& message) {
  std::cerr << "xo-immutable: " << message << "\nTry 'xo-immutable --help'.\n";
  return kExitUsage;
}

// Returns -1 when parsing succeeded, else the exit code to leave with.
int ParseArgs(int argc, char** argv, CommandArgs* args) {
  std::vector<std::string> words(argv + 1, argv + argc);
  size_t i = 0;
  if (i < words.size() &&
      (words[i] == "run" || words[i] == "check" || words[i] == "sweep" || words[i] == "verify" ||
       words[i] == "status" || words[i] == "clear-time-shift")) {
    args->command = words[i++];
  } else if (i + 1 < words.size() && words[i] == "index" && words[i + 1] == "dump") {
    args->command = "index-dump";
    i += 2;
  } else if (i < words.size() && words[i] == "index") {
    return UsageError("index takes a subcommand: index dump");
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
    } else if (word == "--day") {
      std::string day;
      if (!take(&day) || !(args->day = ParseDay(day))) {
        return UsageError("--day needs a day as YYYY-MM-DD");
      }
    } else if (word == "--metrics-file") {
      if (!take(&args->metrics_file) || args->metrics_file.empty()) {
        return UsageError("--metrics-file needs a file");
      }
    } else if (word == "--jobs") {
      std::string n;
      if (!take(&n) || !absl::SimpleAtoi(n, &args->jobs) || args->jobs < 1 || args->jobs > 256) {
        return UsageError("--jobs needs a number from 1 to 256");
      }
    } else {
      return UsageError(absl::StrCat("unknown argument \"", words[i], "\""));
    }
  }
  const bool run = args->command == "run", sweep = args->command == "sweep",
             verify = args->command == "verify", status = args->command == "status";
  if (!status && !args->vm.empty()) return UsageError("--vm goes with status");
  if (args->command == "index-dump") {
    if (args->dry_run || args->deep || args->allow_mass_lift || args->jobs != 0 ||
        !args->metrics_file.empty() || args->report == "junit") {
      return UsageError(
          "index dump takes --config, --remote, --day, --report text|json, --report-file");
    }
    return -1;
  }
  if (args->day) return UsageError("--day goes with index dump");
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
  if (sweep && args->report == "junit")
    return UsageError("--report junit goes with run and verify");
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

int Main(int argc, char** argv) {
  CommandArgs args;
  if (int code = ParseArgs(argc, argv, &args); code >= 0) return code;
  auto config = LoadConfig(args.config.empty() ? DefaultConfigPath() : args.config);
  if (!config.ok()) {
    Log(Priority::kErr,
        absl::StrCat("xo-immutable: configuration error: ", config.status().message()));
    return kExitUsage;
  }
  for (const std::string& notice : config->notices) {
    Log(Priority::kNotice, absl::StrCat("notice: ", notice));
  }
  std::vector<const RemoteConfig*> remotes;
  if (int code = SelectRemotes(*config, args.remotes, &remotes); code >= 0) return code;
  return RunCommand(*config, remotes, args);
}

}  // namespace
}  // namespace xoi

int main(int argc, char** argv) { return xoi::Main(argc, argv); }
