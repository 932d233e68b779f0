#include "lib/decide.h"

#include "absl/strings/str_cat.h"
#include "lib/duration.h"
#include "lib/expiry.h"

namespace xoi {
namespace {

std::string Ago(absl::Duration d) {
  const absl::Duration seconds = absl::Trunc(d, absl::Seconds(1));
  return seconds <= absl::ZeroDuration() ? "0s" : DurationText(seconds);
}

std::string Until(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

}  // namespace

std::optional<Action> Decide(const Candidate& item, bool indexed, const Settings& settings,
                             absl::Time now, ItemFacts& facts) {
  const absl::CivilDay day = CreationDay(item.stat.birth);
  const bool expired = IsExpired(day, settings.duration, now);
  const absl::Time expires_at = ExpiresAt(day, settings.duration);
  // Built only when there is something to do: the steady state copies nothing.
  auto make = [&](ActionKind kind, std::string reason) {
    Action action{kind, item.path, item.tree, item.stat, day};
    action.reason = std::move(reason);
    return action;
  };

  if (item.stat.immutable) {
    if (expired && !indexed && !item.stat.has_btime) {
      // Without a birth time the creation day comes from the ctime, which our own flag change
      // moved: with no index entry either, the real day is unknown. Keep it locked.
      return make(ActionKind::kRefuse,
                  "no birth time on this filesystem and no index entry: its creation day is "
                  "unknown, kept locked");
    }
    if (expired) {
      return make(ActionKind::kLift,
                  settings.duration == absl::ZeroDuration()
                      ? std::string("immutability duration is 0: the remote is being released")
                      : absl::StrCat("expired: created ", FormatDay(day), ", protected until ",
                                     Until(expires_at)));
    }
    if (item.tree && settings.deep) {
      const uint64_t unlocked = facts.Changes().mutable_members;
      if (unlocked > 0) {
        return make(ActionKind::kReprotect,
                    absl::StrCat("drift: ", unlocked, " members made mutable before expiry (",
                                 "protected until ", Until(expires_at), ")"));
      }
    }
    if (!indexed) {
      return make(ActionKind::kIndex,
                  "immutable but not in the index (locked by XO's daemon, or by an interrupted "
                  "run): recorded");
    }
    return std::nullopt;  // the steady state
  }

  if (expired) {
    if (indexed) {
      return make(ActionKind::kLift, "expired and indexed: finishing an interrupted lift");
    }
    return std::nullopt;  // expired and never protected: left alone
  }
  if (!item.tree && item.stat.nlink > 1) {
    return make(ActionKind::kRefuse,
                absl::StrCat(item.stat.nlink, " hard links: locking it would lock the other ",
                             "names too, possibly outside the remote"));
  }
  if (indexed && facts.IndexedSameIdentity()) {
    return make(ActionKind::kReprotect,
                absl::StrCat("drift: made mutable before expiry (protected until ",
                             Until(expires_at), ")"));
  }
  const ChangeFacts changes = facts.Changes();
  if (!changes.refusal.empty()) return make(ActionKind::kRefuse, changes.refusal);
  const absl::Duration unchanged = now - changes.newest_change;
  if (unchanged < settings.settle) {
    return make(ActionKind::kWait, absl::StrCat("changed ", Ago(unchanged), " ago (settle ",
                                                DurationText(settings.settle), ")"));
  }
  const RunCheck run = facts.Run();
  if (!run.complete && unchanged < settings.orphan_grace) {
    return make(ActionKind::kWait,
                absl::StrCat("backup run not complete: waiting for ", run.marker,
                             " (or for ", DurationText(settings.orphan_grace),
                             " without change)"));
  }
  if (!run.complete) {
    return make(ActionKind::kProtect,
                absl::StrCat("run never completed (no ", run.marker, ") but unchanged for ",
                             Ago(unchanged), " (orphanGrace ",
                             DurationText(settings.orphan_grace), "); protected until ",
                             Until(expires_at)));
  }
  return make(ActionKind::kProtect,
              absl::StrCat("finished: unchanged for ", Ago(unchanged),
                           run.marker.empty() ? std::string()
                                              : absl::StrCat(", run complete (", run.marker, ")"),
                           "; protected until ", Until(expires_at)));
}

}  // namespace xoi
