#include "lib/report/json_report.h"

#include <boost/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "lib/core/iso_time.h"
#include "lib/core/json_text.h"
#include "lib/report/compliance.h"

namespace xoi {
namespace {

namespace json = boost::json;

json::object CountsJson(const Counts& c) {
  return json::object{
      {"seen", c.seen},       {"protected", c.protected_}, {"reprotected", c.reprotected},
      {"lifted", c.lifted},   {"indexed", c.indexed},      {"unindexed", c.unindexed},
      {"waiting", c.waiting}, {"refused", c.refused},      {"errors", c.errors},
      {"held", c.held},       {"followed", c.followed},    {"deferred", c.deferred}};
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

json::array WarningsJson(const std::vector<Warning>& warnings) {
  json::array out;
  for (const Warning& w : warnings) {
    json::object o;
    o["kind"] = JsonView(WarningKindName(w.kind));
    PutText(o, "path", w.path);
    PutText(o, "message", w.message);
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace

json::array HoldsJson(const std::vector<HoldInForce>& holds) {
  json::array out;
  for (const HoldInForce& h : holds) {
    json::object o;
    o["id"] = h.id;
    PutText(o, "selector", h.selector);
    o["all"] = h.selector.empty();
    PutText(o, "reason", h.reason);
    PutText(o, "who", h.who);
    o["when"] = IsoTime(h.when);
    o["pinned"] = h.pinned;
    o["items"] = h.items;
    out.push_back(std::move(o));
  }
  return out;
}

std::string FormatJson(const RunReport& report) {
  json::object doc;
  doc["command"] = report.command;
  doc["dryRun"] = report.dry_run;
  doc["started"] = IsoTimeMillis(report.started);
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
    o["state"] = JsonView(RemoteStateName(r.state));
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
    o["warnings"] = WarningsJson(r.warnings);
    o["holds"] = HoldsJson(r.holds);
    if (r.state == RemoteState::kDone) {
      json::array checks;
      for (const CheckResult& check : ComplianceChecks(r, report.started)) {
        json::array offenders;
        bool all_valid = true;
        for (const std::string& path : check.offenders) {
          bool valid = true;
          offenders.push_back(json::value(ToUtf8(path, &valid)));
          all_valid &= valid;
        }
        json::object c{{"id", check.id},
                       {"description", check.description},
                       {"passed", check.passed()},
                       {"offenders", std::move(offenders)}};
        // Offenders left for later runs, not named one by one.
        if (check.unnamed > 0) c["unnamedOffenders"] = check.unnamed;
        // As for every path: one that is not UTF-8 is not lost. Beside the list, in its order.
        if (!all_valid) {
          json::array exact;
          for (const std::string& path : check.offenders) {
            exact.push_back(json::value(absl::Base64Escape(path)));
          }
          c["offenders_base64"] = std::move(exact);
        }
        checks.push_back(std::move(c));
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
