#include "lib/report/text_report.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/core/duration.h"
#include "lib/core/hold.h"
#include "lib/core/iso_time.h"
#include "lib/report/compliance.h"
#include "lib/report/escape.h"

namespace xoi {
namespace {

constexpr size_t kMaxAlike = 20;

}  // namespace

std::string HoldLine(const HoldInForce& h) {
  return absl::StrCat("HOLD ", h.id, " on ", PrintablePath(SelectorText(h.selector)), ": ",
                      Printable(h.reason), " (by ", Printable(h.who), ", ", IsoTime(h.when), "; ",
                      h.items, " locked item", h.items == 1 ? "" : "s", " held)");
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
      absl::StrAppend(&out, RemoteStateName(r.state), ": ", Printable(r.unusable_reason), "\n");
      continue;
    }
    const Counts& c = r.counts;
    // A dry run (and verify) counts what it would do.
    const bool would = report.dry_run;
    absl::StrAppendFormat(
        &out,
        "%s%d items seen, %d %s, %d %s, %d %s, %d %s, %d %s, %d waiting, %d refused, %d errors, "
        "%d held in %s\n",
        report.command == "verify" ? "verify (nothing changed): "
        : would                    ? "dry run (nothing changed): "
                                   : "",
        c.seen, c.protected_, would ? "to protect" : "protected", c.lifted,
        would ? "to lift" : "lifted", c.reprotected, would ? "to re-protect" : "re-protected",
        c.indexed, would ? "to index" : "indexed", c.unindexed, would ? "to unindex" : "unindexed",
        c.waiting, c.refused, c.errors, c.held,
        DurationText(absl::Trunc(r.elapsed, absl::Milliseconds(1))));
    if (c.followed > 0) {
      absl::StrAppend(&out, "  ", c.followed, would ? " records would follow" : " records followed",
                      " their items to where they were moved (renamed folders)\n");
    }
    if (c.deferred > 0) {
      absl::StrAppend(&out, "  ", c.deferred, c.deferred == 1 ? " entry" : " entries",
                      " more than one run takes on (maxEntriesPerRun): the next run goes on with ",
                      c.deferred == 1 ? "it" : "them", "\n");
    }
    if (!r.lifts_held.empty())
      absl::StrAppend(&out, "  LIFTS HELD BACK: ", Printable(r.lifts_held), "\n");
    for (const HoldInForce& h : r.holds) absl::StrAppend(&out, "  ", HoldLine(h), "\n");
    if (report.command == "verify") {
      for (const CheckResult& check : ComplianceChecks(r, report.started)) {
        absl::StrAppend(&out, check.passed() ? "  PASS " : "  FAIL ", check.description);
        if (!check.passed()) absl::StrAppend(&out, " (", check.count(), " offending)");
        out += "\n";
        for (size_t i = 0; i < check.offenders.size() && i < 20; ++i) {
          absl::StrAppend(&out, "       ", PrintablePath(check.offenders[i]), "\n");
        }
        if (check.offenders.size() > 20) {
          absl::StrAppend(&out, "       ... and ", check.offenders.size() - 20, " more\n");
        }
        if (check.unnamed > 0) {
          absl::StrAppend(&out, "       ... and ", check.unnamed,
                          " left for the next runs (maxEntriesPerRun)\n");
        }
      }
      continue;  // the plan behind the checks is in --report json
    }
    // Entries that only report, with one reason shared by many (every lift a guard held back, a
    // flood of junk refused for one reason): the first few are listed, then how many more. The
    // JSON report lists them all.
    absl::flat_hash_map<std::pair<ActionKind, absl::string_view>, size_t> alike;
    for (const ActionRecord& a : r.actions) {
      if (!IsEffect(a.kind)) ++alike[{a.kind, a.reason}];
    }
    absl::flat_hash_map<std::pair<ActionKind, absl::string_view>, size_t> listed;
    for (const ActionRecord& a : r.actions) {
      if (!IsEffect(a.kind) && ++listed[{a.kind, a.reason}] > kMaxAlike) {
        if (listed[{a.kind, a.reason}] == alike[{a.kind, a.reason}]) {
          absl::StrAppend(&out, "  ... and ", alike[{a.kind, a.reason}] - kMaxAlike, " more ",
                          ActionKindName(a.kind), " entries for the same reason\n");
        }
        continue;
      }
      // Done, but with something to say (members left as they are, tampering found in a lift).
      const bool show = report.dry_run || !IsEffect(a.kind) ||
                        (a.executed && (a.outcome != Outcome::kDone || !a.detail.empty()));
      if (!show) continue;
      absl::StrAppend(&out, "  ", report.dry_run && IsEffect(a.kind) ? "would " : "",
                      ActionKindName(a.kind), " ", PrintablePath(a.path), a.tree ? "/" : "", ": ",
                      Printable(a.reason));
      if (a.executed && (a.outcome != Outcome::kDone || !a.detail.empty())) {
        absl::StrAppend(&out, " -> ", OutcomeName(a.outcome), ": ", Printable(a.detail));
      }
      out += "\n";
    }
    for (const Warning& p : r.warnings) {
      absl::StrAppend(&out, "  warning: ", PrintablePath(p.path), p.path.empty() ? "" : ": ",
                      Printable(p.message), "\n");
    }
    for (const Problem& p : r.errors) {
      absl::StrAppend(&out, "  error: ", PrintablePath(p.path), p.path.empty() ? "" : ": ",
                      Printable(p.message), "\n");
    }
  }
  return out;
}

}  // namespace xoi
