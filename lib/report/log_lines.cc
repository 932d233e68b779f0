#include "lib/report/log_lines.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/report/escape.h"

namespace xoi {

namespace {

// Refusals and warnings come back every run until someone looks, and an attacker can make many:
// the journal gets this many lines of each a run, then how many more the report lists.
constexpr size_t kMaxNamedLines = 20;

}  // namespace

void ForEachLogLine(const RemoteReport& r, absl::string_view unchanged_by,
                    absl::FunctionRef<void(const LogLine&)> emit) {
  size_t refusals = 0;
  for (const ActionRecord& a : r.actions) {
    if (a.kind == ActionKind::kRefuse && refusals++ < kMaxNamedLines) {
      emit(LogLine{Priority::kWarning, absl::StrCat(r.id, ": refused ", PrintablePath(a.path),
                                                    a.tree ? "/" : "", ": ", Printable(a.reason))});
    }
    if (!a.executed) continue;
    const bool done = a.outcome == Outcome::kDone;
    // Done, but with something to say: members left as they are, tampering found in a lift.
    const bool noted = done && !a.detail.empty();
    emit(LogLine{done && !noted
                     ? Priority::kInfo
                     : (a.outcome == Outcome::kFailed ? Priority::kErr : Priority::kWarning),
                 absl::StrCat(r.id, ": ", ActionKindName(a.kind), " ", PrintablePath(a.path),
                              a.tree ? "/" : "", ": ",
                              Printable(!done ? absl::StrCat(OutcomeName(a.outcome), ": ", a.detail)
                                        : noted ? absl::StrCat(a.reason, "; ", a.detail)
                                                : a.reason))});
  }
  if (refusals > kMaxNamedLines) {
    emit(LogLine{Priority::kWarning, absl::StrCat(r.id, ": ", refusals - kMaxNamedLines,
                                                  " more refused (the report lists them)")});
  }
  for (size_t i = 0; i < r.warnings.size() && i < kMaxNamedLines; ++i) {
    const Warning& w = r.warnings[i];
    // The index's migration says what it did; nothing is wrong.
    const bool notice = w.kind == WarningKind::kIndexNotice;
    emit(LogLine{notice ? Priority::kNotice : Priority::kWarning,
                 absl::StrCat(r.id, notice ? ": notice: " : ": warning: ",
                              w.path.empty() ? "" : PrintablePath(w.path),
                              w.path.empty() ? "" : ": ", Printable(w.message))});
  }
  if (r.warnings.size() > kMaxNamedLines) {
    emit(LogLine{Priority::kWarning, absl::StrCat(r.id, ": ", r.warnings.size() - kMaxNamedLines,
                                                  " more warnings (the report lists them)")});
  }
  for (const Problem& p : r.errors) {
    emit(LogLine{Priority::kErr,
                 absl::StrCat(r.id, ": error: ", p.path.empty() ? "" : PrintablePath(p.path),
                              p.path.empty() ? "" : ": ", Printable(p.message))});
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
  if (c.deferred > 0) {
    emit(LogLine{Priority::kNotice,
                 absl::StrCat(r.id, ": ", c.deferred,
                              " entries more than one run takes on (maxEntriesPerRun): the next "
                              "run goes on with them")});
  }
  emit(LogLine{
      c.errors > 0 || c.refused > 0 ? Priority::kWarning : Priority::kInfo,
      absl::StrFormat("%s: %s%d seen, %d protected, %d lifted, %d re-protected, %d waiting, "
                      "%d refused, %d errors",
                      r.id, unchanged_by.empty() ? "" : absl::StrCat(unchanged_by, ": "), c.seen,
                      c.protected_, c.lifted, c.reprotected, c.waiting, c.refused, c.errors)});
}

std::string FormatLogLine(const LogLine& line, bool journal) {
  return journal ? absl::StrCat("<", static_cast<int>(line.priority), ">", line.text, "\n")
                 : absl::StrCat(line.text, "\n");
}

}  // namespace xoi
