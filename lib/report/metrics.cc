#include "lib/report/metrics.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/report/compliance.h"

namespace xoi {
namespace {

// Label values: backslash, double quote and newline are escaped, as the format requires.
std::string Label(absl::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  return out;
}

void Family(std::string* out, absl::string_view name, absl::string_view help) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " gauge\n");
}

}  // namespace

std::string FormatMetrics(const RunReport& report,
                          const std::map<std::string, absl::Time>& last_success) {
  std::string out;
  Family(
      &out, "xo_immutable_items",
      "Items of the remote by what the last run did with them (held: locked items a hold covers).");
  for (const RemoteReport& r : report.remotes) {
    const Counts& c = r.counts;
    // Finished backups left unlocked: refused, partly unlockable, or still not locked long after
    // they were finished (what `verify` fails on), so that an alert can name the remote.
    uint64_t unprotected = 0;
    if (r.state == RemoteState::kDone) {
      for (const CheckResult& check : ComplianceChecks(r, report.started)) {
        if (check.id == "finished-locked" || check.id == "nothing-refused") {
          unprotected += check.count();
        }
      }
    }
    const std::pair<const char*, uint64_t> states[] = {
        {"seen", c.seen},
        {"protected", c.protected_},
        {"reprotected", c.reprotected},
        {"lifted", c.lifted},
        {"indexed", c.indexed},
        {"unindexed", c.unindexed},
        {"waiting", c.waiting},
        {"refused", c.refused},
        {"errors", c.errors},
        {"unprotected", unprotected},
        {"held", c.held},
        {"deferred", c.deferred},
    };
    for (const auto& [state, n] : states) {
      absl::StrAppend(&out, "xo_immutable_items{remote=\"", Label(r.id), "\",state=\"", state,
                      "\"} ", n, "\n");
    }
  }
  Family(&out, "xo_immutable_remote_usable",
         "1 when the last run could protect the remote, 0 when it was unusable or locked.");
  for (const RemoteReport& r : report.remotes) {
    absl::StrAppend(&out, "xo_immutable_remote_usable{remote=\"", Label(r.id), "\"} ",
                    r.state == RemoteState::kDone ? 1 : 0, "\n");
  }
  Family(&out, "xo_immutable_lifts_held",
         "1 when the last run held lifts back (time shift, mass-lift guard or damaged hold "
         "file).");
  for (const RemoteReport& r : report.remotes) {
    absl::StrAppend(&out, "xo_immutable_lifts_held{remote=\"", Label(r.id), "\"} ",
                    r.lifts_held.empty() ? 0 : 1, "\n");
  }
  Family(&out, "xo_immutable_holds", "Holds in force on the remote (xo-immutable hold).");
  for (const RemoteReport& r : report.remotes) {
    if (r.state != RemoteState::kDone) continue;
    absl::StrAppend(&out, "xo_immutable_holds{remote=\"", Label(r.id), "\"} ", r.holds.size(),
                    "\n");
  }
  Family(&out, "xo_immutable_run_duration_seconds", "Duration of the last run on the remote.");
  for (const RemoteReport& r : report.remotes) {
    absl::StrAppendFormat(&out, "xo_immutable_run_duration_seconds{remote=\"%s\"} %.6f\n",
                          Label(r.id), absl::ToDoubleSeconds(r.elapsed));
  }
  Family(&out, "xo_immutable_last_success_timestamp_seconds",
         "Unix time of the last run that converged on the remote without errors.");
  for (const RemoteReport& r : report.remotes) {
    auto it = last_success.find(r.id);
    if (it == last_success.end()) continue;
    absl::StrAppend(&out, "xo_immutable_last_success_timestamp_seconds{remote=\"", Label(r.id),
                    "\"} ", absl::ToUnixSeconds(it->second), "\n");
  }
  Family(&out, "xo_immutable_time_shift",
         "1 while lifting is suspended because the wall clock moved (clear-time-shift ends it).");
  absl::StrAppend(&out, "xo_immutable_time_shift ", report.time_shift.empty() ? 0 : 1, "\n");
  Family(&out, "xo_immutable_last_run_timestamp_seconds", "Unix time the last run started.");
  absl::StrAppend(&out, "xo_immutable_last_run_timestamp_seconds ",
                  absl::ToUnixSeconds(report.started), "\n");
  return out;
}

}  // namespace xoi
