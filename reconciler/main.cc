// xo-immutable: command-line parsing and dispatch. Everything else lives in //lib
// (lib/run/commands.h wires the commands).
#include <algorithm>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "lib/core/config.h"
#include "lib/core/expiry.h"
#include "lib/core/hold.h"
#include "lib/report/run_report.h"
#include "lib/run/commands.h"
#include "lib/run/config_file.h"
#include "reconciler/usage.h"

namespace xoi {
namespace {

constexpr char kVersion[] = "xo-immutable 0.1.0";

int UsageError(const std::string& message) {
  std::cerr << "xo-immutable: " << message << "\nTry 'xo-immutable --help'.\n";
  return kExitUsage;
}

// The options a command may take, as bits of CommandSpec::takes.
enum Option : unsigned {
  kRemote = 1 << 0,
  kDryRun = 1 << 1,
  kRunOnly = 1 << 2,  // --deep, --allow-mass-lift, --jobs
  kReport = 1 << 3,   // --report text|json
  kJunit = 1 << 4,    // --report junit
  kReportFile = 1 << 5,
  kMetrics = 1 << 6,
  kVm = 1 << 7,      // status --vm
  kDay = 1 << 8,     // index dump --day
  kSelect = 1 << 9,  // --all, --vm, --path
  kReason = 1 << 10,
  kId = 1 << 11,
};

struct CommandSpec {
  const char* name;
  unsigned takes;     // Option bits (--config goes with every command)
  const char* usage;  // what it takes, for the message when it is given something else
};

constexpr CommandSpec kCommands[] = {
    {"run", kRemote | kDryRun | kRunOnly | kReport | kJunit | kReportFile | kMetrics,
     "--config, --remote, --dry-run, --deep, --allow-mass-lift, --report, --report-file, "
     "--metrics-file, --jobs"},
    {"check", kRemote, "--config, --remote"},
    {"verify", kRemote | kReport | kJunit | kReportFile | kMetrics,
     "--config, --remote, --report, --report-file, --metrics-file (it never changes anything)"},
    {"status", kRemote | kVm | kReport | kReportFile,
     "--config, --remote, --vm, --report text|json, --report-file"},
    {"sweep", kRemote | kDryRun | kReport | kReportFile | kMetrics,
     "--config, --remote, --dry-run, --report text|json, --report-file"},
    {"clear-time-shift", 0, "--config"},
    {"index-dump", kRemote | kDay | kReport | kReportFile,
     "--config, --remote, --day, --report text|json, --report-file"},
    {"hold", kRemote | kSelect | kReason, "--config, --remote, --all, --vm, --path, --reason"},
    {"release", kRemote | kSelect | kReason | kId,
     "--config, --remote, --all, --vm, --path, --id, --reason"},
};

// Returns -1 when parsing succeeded, else the exit code to leave with.
int ParseArgs(int argc, char** argv, CommandArgs* args) {
  std::vector<std::string> words(argv + 1, argv + argc);
  size_t i = 0;
  const CommandSpec* spec = &kCommands[0];  // run
  for (const CommandSpec& c : kCommands) {
    const bool index_dump = absl::string_view(c.name) == "index-dump";
    if (index_dump && words.size() >= 2 && words[0] == "index" && words[1] == "dump") {
      spec = &c;
      i = 2;
    } else if (!index_dump && !words.empty() && words[0] == c.name) {
      spec = &c;
      i = 1;
    }
  }
  if (i == 0 && !words.empty() && words[0] == "index") {
    return UsageError("index takes a subcommand: index dump");
  }
  args->command = spec->name;
  const bool holds = args->command == "hold" || args->command == "release";
  unsigned given = 0;
  // Options that take one value: given twice, which one was meant is a guess (the last, silently,
  // before); `--remote`, `--id` and the selectors may repeat.
  constexpr absl::string_view kOnce[] = {"--config", "--report",       "--report-file", "--day",
                                         "--jobs",   "--metrics-file", "--reason"};
  std::set<std::string> seen_once;
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
    // A selector of hold or release, validated: exit 2 naming the problem.
    auto select = [&](const absl::StatusOr<std::string>& selector) {
      if (!selector.ok()) return UsageError(std::string(selector.status().message()));
      args->selectors.push_back(*selector);
      given |= kSelect;
      return -1;
    };
    const bool once = absl::c_linear_search(kOnce, word) || (word == "--vm" && !holds);
    if (once && !seen_once.insert(word).second) {
      return UsageError(absl::StrCat(word, " is given twice"));
    }
    std::string text;
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
      given |= kDryRun;
    } else if ((word == "--deep" || word == "--allow-mass-lift") && !has_value) {
      (word == "--deep" ? args->deep : args->allow_mass_lift) = true;
      given |= kRunOnly;
    } else if (word == "--all" && !has_value) {
      if (int code = select(std::string()); code >= 0) return code;
    } else if (word == "--path") {
      if (!take(&text)) return UsageError("--path needs a path below the remote root");
      if (int code = select(PathSelector(text)); code >= 0) return code;
    } else if (word == "--vm" && holds) {
      if (!take(&text)) return UsageError("--vm needs a VM uuid");
      if (int code = select(VmSelector(text)); code >= 0) return code;
    } else if (word == "--id") {
      uint64_t id = 0;
      if (!take(&text) || !absl::SimpleAtoi(text, &id) || id == 0) {
        return UsageError("--id needs a hold id (a positive number)");
      }
      args->hold_ids.push_back(id);
      given |= kId;
    } else if (word == "--reason") {
      if (!take(&args->reason) || args->reason.empty()) return UsageError("--reason needs a text");
      given |= kReason;
    } else if (word == "--config") {
      if (!take(&args->config)) return UsageError("--config needs a file");
    } else if (word == "--remote") {
      if (!take(&text)) return UsageError("--remote needs a remote id");
      args->remotes.push_back(text);
      given |= kRemote;
    } else if (word == "--report") {
      if (!take(&args->report)) return UsageError("--report needs text or json");
      if (args->report != "text" && args->report != "json" && args->report != "junit") {
        return UsageError(absl::StrCat("--report: unknown format \"", args->report,
                                       "\" (use text, json or junit)"));
      }
      given |= args->report == "junit" ? kJunit : kReport;
    } else if (word == "--report-file") {
      if (!take(&args->report_file) || args->report_file.empty()) {
        return UsageError("--report-file needs a file");
      }
      given |= kReportFile;
    } else if (word == "--vm") {
      if (!take(&args->vm) || args->vm.empty()) return UsageError("--vm needs a VM uuid");
      if (absl::StatusOr<std::string> valid = VmSelector(args->vm); !valid.ok()) {
        return UsageError(std::string(valid.status().message()));
      }
      given |= kVm;
    } else if (word == "--day") {
      if (!take(&text) || !(args->day = ParseDay(text))) {
        return UsageError("--day needs a day as YYYY-MM-DD");
      }
      given |= kDay;
    } else if (word == "--metrics-file") {
      if (!take(&args->metrics_file) || args->metrics_file.empty()) {
        return UsageError("--metrics-file needs a file");
      }
      given |= kMetrics;
    } else if (word == "--jobs") {
      if (!take(&text) || !absl::SimpleAtoi(text, &args->jobs) || args->jobs < 1 ||
          args->jobs > 256) {
        return UsageError("--jobs needs a number from 1 to 256");
      }
      given |= kRunOnly;
    } else {
      return UsageError(absl::StrCat("unknown argument \"", words[i], "\""));
    }
  }
  const std::string name = args->command == "index-dump" ? "index dump" : args->command;
  if ((given & ~spec->takes) != 0) {
    return UsageError(absl::StrCat(name, " takes only ", spec->usage));
  }
  if (args->command == "hold" && (args->selectors.empty() || args->reason.empty())) {
    return UsageError(args->selectors.empty()
                          ? "hold needs what to hold: --all, --vm UUID or --path PATH"
                          : "hold needs --reason TEXT: say why, for the audit log");
  }
  if (args->selectors.size() > 1 &&
      std::find(args->selectors.begin(), args->selectors.end(), "") != args->selectors.end()) {
    return UsageError(absl::StrCat(name,
                                   ": --all covers the whole remote; give it alone, "
                                   "without --vm or --path"));
  }
  if (args->command == "release" && args->selectors.empty() && args->hold_ids.empty()) {
    return UsageError("release needs what to release: --all, --vm UUID, --path PATH or --id N");
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
