#include "lib/report/log_lines.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/report/escape.h"

namespace xoi {

void ForEachLogLine(const RemoteReport& r, bool dry_run,
                    absl::FunctionRef<void(const LogLine&)> emit) {
  for (const ActionRecord& a : r.actions) {
    if (!a.executed) continue;
    const bool done = a.outcome == Outcome::kDone;
    emit(LogLine{
        done ? Priority::kInfo
             : (a.outcome == Outcome::kFailed ? Priority::kErr : Priority::kWarning),
        absl::StrCat(
            r.id, ": ", ActionKindName(a.kind), " ", PrintablePath(a.path), a.tree ? "/" : "", ": ",
            Printable(done ? a.reason : absl::StrCat(OutcomeName(a.outcome), ": ", a.detail)))});
  }
  for (const Problem& p : r.errors) {
    emit(LogLine{Priority::kErr, absl::StrCat(r.id, ": error: ", PrintablePath(p.path), ": ",
                                              Printable(p.message))});
  }
  if (r.state != RemoteState::kDone) {
    emit(LogLine{r.state == RemoteState::kLocked ? Priority::kNotice : Priority::kErr,
                 absl::StrCat(r.id, ": ", Printable(r.unusable_reason))});
    return;
  }
  if (!r.lifts_held.empty()) {
    emit(LogLine{Priority::kWarning,
                 absl::StrCat(r.id, ": lifts held back: ", Printable(r.lifts_held))});
  }
  const Counts& c = r.counts;
  emit(LogLine{
      c.errors > 0 ? Priority::kWarning : Priority::kInfo,
      absl::StrFormat("%s: %s%d seen, %d protected, %d lifted, %d re-protected, %d waiting, "
                      "%d refused, %d errors",
                      r.id, dry_run ? "dry run: " : "", c.seen, c.protected_, c.lifted,
                      c.reprotected, c.waiting, c.refused, c.errors)});
}

std::string FormatLogLine(const LogLine& line, bool journal) {
  return journal ? absl::StrCat("<", static_cast<int>(line.priority), ">", line.text, "\n")
                 : absl::StrCat(line.text, "\n");
}

}  // namespace xoi
