#include "lib/report/log_lines.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/report/escape.h"

namespace xoi {

std::vector<LogLine> LogLines(const RemoteReport& r, bool dry_run) {
  std::vector<LogLine> lines;
  for (const ActionRecord& a : r.actions) {
    if (!a.executed) continue;
    const bool done = a.outcome == Outcome::kDone;
    lines.push_back(LogLine{
        done ? Priority::kInfo
             : (a.outcome == Outcome::kFailed ? Priority::kErr : Priority::kWarning),
        absl::StrCat(
            r.id, ": ", ActionKindName(a.kind), " ", PrintablePath(a.path), a.tree ? "/" : "", ": ",
            Printable(done ? a.reason : absl::StrCat(OutcomeName(a.outcome), ": ", a.detail)))});
  }
  for (const Problem& p : r.errors) {
    lines.push_back(LogLine{Priority::kErr, absl::StrCat(r.id, ": error: ", PrintablePath(p.path),
                                                         ": ", Printable(p.message))});
  }
  if (r.state != RemoteState::kDone) {
    lines.push_back(LogLine{r.state == RemoteState::kLocked ? Priority::kNotice : Priority::kErr,
                            absl::StrCat(r.id, ": ", Printable(r.unusable_reason))});
    return lines;
  }
  if (!r.lifts_held.empty()) {
    lines.push_back(LogLine{Priority::kWarning,
                            absl::StrCat(r.id, ": lifts held back: ", Printable(r.lifts_held))});
  }
  const Counts& c = r.counts;
  lines.push_back(LogLine{
      c.errors > 0 ? Priority::kWarning : Priority::kInfo,
      absl::StrFormat("%s: %s%d seen, %d protected, %d lifted, %d re-protected, %d waiting, "
                      "%d refused, %d errors",
                      r.id, dry_run ? "dry run: " : "", c.seen, c.protected_, c.lifted,
                      c.reprotected, c.waiting, c.refused, c.errors)});
  return lines;
}

std::string FormatLogLine(const LogLine& line, bool journal) {
  return journal ? absl::StrCat("<", static_cast<int>(line.priority), ">", line.text, "\n")
                 : absl::StrCat(line.text, "\n");
}

}  // namespace xoi
