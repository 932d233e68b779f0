#include "lib/report.h"

#include <boost/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/compliance.h"
#include "lib/duration.h"
#include "lib/json_text.h"

namespace xoi {
namespace {

namespace json = boost::json;

absl::string_view StateName(RemoteState state) {
  switch (state) {
    case RemoteState::kDone: return "ok";
    case RemoteState::kUnusable: return "unusable";
    case RemoteState::kLocked: return "locked";
  }
  return "?";
}

json::object CountsJson(const Counts& c) {
  return json::object{{"seen", c.seen},         {"protected", c.protected_},
                      {"reprotected", c.reprotected}, {"lifted", c.lifted},
                      {"indexed", c.indexed},   {"unindexed", c.unindexed},
                      {"waiting", c.waiting},   {"refused", c.refused},
                      {"errors", c.errors}};
}

json::array ProblemsJson(const std::vector<Problem>& problems) {
  json::array out;
  for (const Problem& p : problems) {
    json::object o;
    PutText(o, "path", p.path);
    PutText(o, "message", p.message);
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace

std::string PrintablePath(absl::string_view path) { return absl::CHexEscape(path); }

int RunReport::ExitCode() const {
  bool unusable = false, errors = false, locked = false, held = !time_shift.empty();
  for (const RemoteReport& r : remotes) {
    held |= !r.lifts_held.empty();
    unusable |= r.state == RemoteState::kUnusable;
    if (command == "verify" && r.state == RemoteState::kDone) {
      for (const CheckResult& check : ComplianceChecks(r, started)) errors |= !check.passed();
    }
    locked |= r.state == RemoteState::kLocked;
    errors |= r.counts.errors > 0;
  }
  if (unusable) return kExitUnusable;
  if (held) return kExitLiftsHeld;
  if (errors) return kExitItemErrors;
  if (locked) return kExitLocked;
  return kExitOk;
}

std::string FormatText(const RunReport& report) {
  std::string out;
  if (!report.time_shift.empty()) {
    absl::StrAppend(&out, "TIME SHIFT: lifting is suspended: ", report.time_shift,
                    "\n  Check the clock, then clear it as root: xo-immutable clear-time-shift\n");
  }
  for (const RemoteReport& r : report.remotes) {
    absl::StrAppend(&out, "remote ", r.id, " (", r.root, "): ");
    if (r.state != RemoteState::kDone) {
      absl::StrAppend(&out, StateName(r.state), ": ", r.unusable_reason, "\n");
      continue;
    }
    const Counts& c = r.counts;
    // A dry run (and verify) counts what it would do.
    const bool would = report.dry_run;
    absl::StrAppendFormat(
        &out,
        "%s%d items seen, %d %s, %d %s, %d %s, %d %s, %d %s, %d waiting, %d refused, %d errors "
        "in %s\n",
        report.command == "verify" ? "verify (nothing changed): "
        : would                    ? "dry run (nothing changed): "
                                   : "",
        c.seen, c.protected_, would ? "to protect" : "protected", c.lifted,
        would ? "to lift" : "lifted", c.reprotected, would ? "to re-protect" : "re-protected",
        c.indexed, would ? "to index" : "indexed", c.unindexed, would ? "to unindex" : "unindexed",
        c.waiting, c.refused, c.errors, DurationText(absl::Trunc(r.elapsed, absl::Milliseconds(1))));
    if (!r.lifts_held.empty()) absl::StrAppend(&out, "  LIFTS HELD BACK: ", r.lifts_held, "\n");
    if (report.command == "verify") {
      for (const CheckResult& check : ComplianceChecks(r, report.started)) {
        absl::StrAppend(&out, check.passed() ? "  PASS " : "  FAIL ", check.description);
        if (!check.passed()) absl::StrAppend(&out, " (", check.offenders.size(), " offending)");
        out += "\n";
        for (size_t i = 0; i < check.offenders.size() && i < 20; ++i) {
          absl::StrAppend(&out, "       ", PrintablePath(check.offenders[i]), "\n");
        }
        if (check.offenders.size() > 20) {
          absl::StrAppend(&out, "       ... and ", check.offenders.size() - 20, " more\n");
        }
      }
      continue;  // the plan behind the checks is in --report json
    }
    for (const ActionRecord& a : r.actions) {
      const bool show = report.dry_run || !IsEffect(a.kind) ||
                        (a.executed && a.outcome != Outcome::kDone);
      if (!show) continue;
      absl::StrAppend(&out, "  ", report.dry_run && IsEffect(a.kind) ? "would " : "",
                      ActionKindName(a.kind), " ", PrintablePath(a.path), a.tree ? "/" : "", ": ",
                      a.reason);
      if (a.executed && a.outcome != Outcome::kDone) {
        absl::StrAppend(&out, " -> ", OutcomeName(a.outcome), ": ", a.detail);
      }
      out += "\n";
    }
    for (const Problem& p : r.warnings) {
      absl::StrAppend(&out, "  warning: ", PrintablePath(p.path), p.path.empty() ? "" : ": ",
                      p.message, "\n");
    }
    for (const Problem& p : r.errors) {
      absl::StrAppend(&out, "  error: ", PrintablePath(p.path), p.path.empty() ? "" : ": ", p.message,
                      "\n");
    }
  }
  return out;
}

std::string FormatJson(const RunReport& report) {
  json::object doc;
  doc["command"] = report.command;
  doc["dryRun"] = report.dry_run;
  doc["started"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", report.started, absl::UTCTimeZone());
  doc["exitCode"] = report.ExitCode();
  if (!report.time_shift.empty()) PutText(doc, "timeShift", report.time_shift);
  json::array notices;
  for (const std::string& n : report.notices) {
    bool valid = true;
    notices.push_back(json::value(ToUtf8(n, &valid)));
  }
  doc["notices"] = std::move(notices);
  json::array remotes;
  for (const RemoteReport& r : report.remotes) {
    json::object o;
    o["id"] = r.id;
    PutText(o, "root", r.root);
    o["state"] = JsonView(StateName(r.state));
    if (r.state != RemoteState::kDone) PutText(o, "reason", r.unusable_reason);
    if (!r.lifts_held.empty()) PutText(o, "liftsHeld", r.lifts_held);
    o["counts"] = CountsJson(r.counts);
    o["elapsedMs"] = absl::ToInt64Milliseconds(r.elapsed);
    o["walk"] = json::object{{"dirsListed", r.walk.dirs_listed},
                             {"literalLookups", r.walk.literal_lookups},
                             {"statxCalls", r.walk.statx_calls}};
    json::array actions;
    for (const ActionRecord& a : r.actions) {
      json::object ao;
      ao["action"] = JsonView(ActionKindName(a.kind));
      PutText(ao, "path", a.path);
      ao["tree"] = a.tree;
      PutText(ao, "reason", a.reason);
      if (a.executed) {
        ao["outcome"] = JsonView(OutcomeName(a.outcome));
        if (!a.detail.empty()) PutText(ao, "detail", a.detail);
      }
      actions.push_back(std::move(ao));
    }
    o["actions"] = std::move(actions);
    o["warnings"] = ProblemsJson(r.warnings);
    if (r.state == RemoteState::kDone) {
      json::array checks;
      for (const CheckResult& check : ComplianceChecks(r, report.started)) {
        json::array offenders;
        for (const std::string& path : check.offenders) {
          bool valid = true;
          offenders.push_back(json::value(ToUtf8(path, &valid)));
        }
        checks.push_back(json::object{{"id", check.id},
                                      {"description", check.description},
                                      {"passed", check.passed()},
                                      {"offenders", std::move(offenders)}});
      }
      o["checks"] = std::move(checks);
    }
    o["errors"] = ProblemsJson(r.errors);
    remotes.push_back(std::move(o));
  }
  doc["remotes"] = std::move(remotes);
  return json::serialize(doc) + "\n";
}

}  // namespace xoi
