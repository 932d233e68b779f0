// The program's commands, wired from the pipeline's pieces: `reconciler/main.cc` parses the
// command line and calls one of these.
#ifndef XOI_LIB_RUN_COMMANDS_H_
#define XOI_LIB_RUN_COMMANDS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "lib/core/config.h"
#include "lib/report/log_lines.h"

namespace xoi {

// What the command line asked for.
struct CommandArgs {
  // run, check, verify, status, sweep, clear-time-shift, index-dump, hold, release
  std::string command = "run";
  std::string config;                // the configuration file; empty: DefaultConfigPath()
  std::vector<std::string> remotes;  // --remote; empty: every remote
  bool dry_run = false;
  bool deep = false;
  bool allow_mass_lift = false;
  std::string report = "text";  // text, json, junit
  std::string report_file;      // empty: stdout
  std::string metrics_file;
  std::string vm;                      // status --vm
  std::optional<absl::CivilDay> day;   // index dump --day
  int jobs = 0;                        // 0: the number of CPUs, at least 2
  std::vector<std::string> selectors;  // hold, release: --all (""), --vm, --path, validated
  std::vector<uint64_t> hold_ids;      // release --id
  std::string reason;                  // hold, release --reason
};

// Runs `args.command` on `remotes` (selected from `config`); returns the exit code.
int RunCommand(const Config& config, const std::vector<const RemoteConfig*>& remotes,
               const CommandArgs& args);

// Writes one log line to stderr (with the journal's priority prefix under systemd), escaped so that
// it stays one line whatever it quotes.
void Log(Priority priority, absl::string_view text);

}  // namespace xoi

#endif  // XOI_LIB_RUN_COMMANDS_H_
