#include "lib/report.h"

#include <boost/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/duration.h"

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

json::string_view J(absl::string_view s) { return json::string_view(s.data(), s.size()); }

// Length of the valid UTF-8 sequence at the start of `s`, or 0.
size_t Utf8SequenceLength(absl::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto cont = [&](size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  if (b(0) < 0x80) return 1;
  if (b(0) >= 0xC2 && b(0) <= 0xDF && cont(1)) return 2;
  if (b(0) >= 0xE0 && b(0) <= 0xEF && cont(1) && cont(2)) {
    if (b(0) == 0xE0 && b(1) < 0xA0) return 0;  // overlong
    if (b(0) == 0xED && b(1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (b(0) >= 0xF0 && b(0) <= 0xF4 && cont(1) && cont(2) && cont(3)) {
    if (b(0) == 0xF0 && b(1) < 0x90) return 0;
    if (b(0) == 0xF4 && b(1) >= 0x90) return 0;
    return 4;
  }
  return 0;
}

// Returns `s` with invalid UTF-8 replaced by U+FFFD; sets *valid.
std::string ToUtf8(absl::string_view s, bool* valid) {
  std::string out;
  *valid = true;
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8SequenceLength(s.substr(i));
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      *valid = false;
      ++i;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  return out;
}

void PutText(json::object& obj, absl::string_view key, absl::string_view value) {
  bool valid = true;
  obj[J(key)] = ToUtf8(value, &valid);
  if (!valid) obj[absl::StrCat(key, "_base64")] = absl::Base64Escape(value);
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
  bool unusable = false, errors = false, locked = false;
  for (const RemoteReport& r : remotes) {
    unusable |= r.state == RemoteState::kUnusable;
    locked |= r.state == RemoteState::kLocked;
    errors |= r.counts.errors > 0;
  }
  if (unusable) return kExitUnusable;
  if (errors) return kExitItemErrors;
  if (locked) return kExitLocked;
  return kExitOk;
}

std::string FormatText(const RunReport& report) {
  std::string out;
  for (const RemoteReport& r : report.remotes) {
    absl::StrAppend(&out, "remote ", r.id, " (", r.root, "): ");
    if (r.state != RemoteState::kDone) {
      absl::StrAppend(&out, StateName(r.state), ": ", r.unusable_reason, "\n");
      continue;
    }
    const Counts& c = r.counts;
    absl::StrAppendFormat(
        &out,
        "%s%d items seen, %d protected, %d lifted, %d re-protected, %d indexed, %d unindexed, "
        "%d waiting, %d refused, %d errors in %s\n",
        report.dry_run ? "dry run (nothing changed): " : "", c.seen, c.protected_, c.lifted,
        c.reprotected, c.indexed, c.unindexed, c.waiting, c.refused, c.errors,
        DurationText(absl::Trunc(r.elapsed, absl::Milliseconds(1))));
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
  doc["dryRun"] = report.dry_run;
  doc["started"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", report.started, absl::UTCTimeZone());
  doc["exitCode"] = report.ExitCode();
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
    o["state"] = J(StateName(r.state));
    if (r.state != RemoteState::kDone) PutText(o, "reason", r.unusable_reason);
    o["counts"] = CountsJson(r.counts);
    o["elapsedMs"] = absl::ToInt64Milliseconds(r.elapsed);
    o["walk"] = json::object{{"dirsListed", r.walk.dirs_listed},
                             {"literalLookups", r.walk.literal_lookups},
                             {"statxCalls", r.walk.statx_calls}};
    json::array actions;
    for (const ActionRecord& a : r.actions) {
      json::object ao;
      ao["action"] = J(ActionKindName(a.kind));
      PutText(ao, "path", a.path);
      ao["tree"] = a.tree;
      PutText(ao, "reason", a.reason);
      if (a.executed) {
        ao["outcome"] = J(OutcomeName(a.outcome));
        if (!a.detail.empty()) PutText(ao, "detail", a.detail);
      }
      actions.push_back(std::move(ao));
    }
    o["actions"] = std::move(actions);
    o["warnings"] = ProblemsJson(r.warnings);
    o["errors"] = ProblemsJson(r.errors);
    remotes.push_back(std::move(o));
  }
  doc["remotes"] = std::move(remotes);
  return json::serialize(doc) + "\n";
}

}  // namespace xoi
