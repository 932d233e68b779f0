#include "lib/core/rules.h"

#include <boost/json.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "lib/core/duration.h"
#include "lib/core/expiry.h"
#include "lib/core/iso_time.h"

namespace xoi {
namespace {

namespace json = boost::json;

std::string Ago(absl::Duration d) {
  const absl::Duration seconds = absl::Trunc(d, absl::Seconds(1));
  return seconds <= absl::ZeroDuration() ? "0s" : DurationText(seconds);
}

constexpr char kReleasing[] = "immutability duration is 0: the remote is being released";

Action RootAction(ActionKind kind, std::string name, const FileStat& st, std::string reason) {
  Action a{kind, std::move(name), false, st};
  a.indexed = false;
  a.reason = std::move(reason);
  return a;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// One item.

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
      return make(ActionKind::kLift, settings.duration == absl::ZeroDuration()
                                         ? std::string(kReleasing)
                                         : absl::StrCat("expired: created ", FormatDay(day),
                                                        ", protected until ", IsoTime(expires_at)));
    }
    if (item.tree && settings.deep) {
      const uint64_t unlocked = facts.Changes().mutable_members;
      if (unlocked > 0) {
        return make(ActionKind::kReprotect,
                    absl::StrCat("drift: ", unlocked, " members made mutable before expiry (",
                                 "protected until ", IsoTime(expires_at), ")"));
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
                             IsoTime(expires_at), ")"));
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
                absl::StrCat("backup run not complete: waiting for ", run.marker, " (or for ",
                             DurationText(settings.orphan_grace), " without change)"));
  }
  if (!run.complete) {
    return make(ActionKind::kProtect,
                absl::StrCat("run never completed (no ", run.marker, ") but unchanged for ",
                             Ago(unchanged), " (orphanGrace ", DurationText(settings.orphan_grace),
                             "); protected until ", IsoTime(expires_at)));
  }
  return make(ActionKind::kProtect,
              absl::StrCat("finished: unchanged for ", Ago(unchanged),
                           run.marker.empty() ? std::string()
                                              : absl::StrCat(", run complete (", run.marker, ")"),
                           "; protected until ", IsoTime(expires_at)));
}

// ---------------------------------------------------------------------------------------------
// An index entry the walk did not reach.

void DecideUnreached(const IndexKey& key, const std::string& root, const Settings& settings,
                     absl::Time now, UnreachedFacts& facts, Plan* plan) {
  const bool expired = IsExpired(key.day, settings.duration, now);
  absl::StatusOr<IndexEntry> entry = facts.Entry();
  if (!entry.ok()) {
    plan->warnings.push_back(
        Warning{WarningKind::kIndexEntryUnreadable, "",
                absl::StrCat("unreadable index entry kept: ", entry.status().message())});
    return;
  }
  absl::string_view relative = entry->path;
  if (!absl::ConsumePrefix(&relative, root + "/") || relative.empty()) {
    plan->warnings.push_back(
        Warning{WarningKind::kIndexEntryOutsideRemote, "",
                absl::StrCat("index entry ", FormatDay(key.day), "/", key.name, " names ",
                             entry->path, ", outside this remote: kept")});
    return;
  }
  Action action{ActionKind::kUnindex, std::string(relative), entry->tree, FileStat{}, key.day};
  action.index_name = key.name;
  const std::optional<FileStat> now_there = facts.StatBeneath(action.path);
  const bool same = now_there && entry->has_identity && now_there->ino == entry->ino &&
                    now_there->birth == entry->birth;
  if (same && expired && now_there->immutable) {
    action.kind = ActionKind::kLift;
    action.stat = *now_there;
    action.reason = "expired; indexed item outside the glob set's reach (same inode)";
    plan->actions.push_back(std::move(action));
  } else if (same && expired) {
    action.reason = "expired and already mutable";
    plan->actions.push_back(std::move(action));
  } else if (same) {
    plan->warnings.push_back(Warning{WarningKind::kIndexedUnreachable, action.path,
                                     "indexed and locked, but no glob reaches it any more"});
  } else {
    // The indexed inode may live on under another name (a writer can rename the mutable parent
    // folder of a locked file): the entry is kept for `xo-immutable sweep`, which finds the
    // inode by identity, lifts it once expired, and drops entries whose inode is gone.
    plan->warnings.push_back(Warning{
        now_there ? WarningKind::kIndexedReplaced : WarningKind::kIndexedMissing, action.path,
        absl::StrCat(!now_there ? "indexed item missing (moved, or deleted by root?)"
                                : "the path now holds another inode (or the entry has no identity)",
                     expired ? ": expired; `xo-immutable sweep` resolves it"
                             : ": entry kept, the indexed inode is not touched")});
  }
}

// ---------------------------------------------------------------------------------------------
// The remote's own files.

std::string MarkerContent(absl::Time since, absl::Duration duration) {
  json::object o;
  o["since"] = absl::ToUnixMillis(since);
  o["immutable"] = true;
  o["duration"] = absl::ToInt64Milliseconds(duration);
  return json::serialize(o);
}

void PlanRemoteFiles(const Settings& settings, absl::Time now, RemoteFileFacts& facts, Plan* plan) {
  std::vector<Action>& out = plan->actions;
  const bool protecting = settings.duration != absl::ZeroDuration();
  if (protecting && !facts.Initialised()) return;

  for (const char* name : kXoRootFiles) {
    const std::optional<FileStat> st = facts.Stat(name);
    if (!st) continue;
    if (!st->is_regular()) {
      if (protecting) {
        out.push_back(RootAction(ActionKind::kRefuse, name, *st,
                                 absl::StrCat("a ", FileTypeName(st->mode), ", not a file")));
      }
      continue;
    }
    if (!protecting) {
      if (st->immutable) out.push_back(RootAction(ActionKind::kLift, name, *st, kReleasing));
      continue;
    }
    if (st->immutable) continue;
    if (st->nlink > 1) {
      out.push_back(
          RootAction(ActionKind::kRefuse, name, *st, absl::StrCat(st->nlink, " hard links")));
    } else if (now - st->ctime < settings.settle) {
      out.push_back(RootAction(ActionKind::kWait, name, *st, "changed less than settle ago"));
    } else {
      out.push_back(RootAction(ActionKind::kProtect, name, *st,
                               "XO's remote metadata is kept immutable while protected"));
    }
  }

  const std::optional<FileStat> marker = facts.Stat(kMarkerName);
  if (!protecting) {
    if (marker) {
      Action remove = RootAction(ActionKind::kRemoveMarker, kMarkerName, *marker,
                                 "immutability duration is 0: removed once everything is lifted");
      remove.requires_all_lifts = true;
      out.push_back(std::move(remove));
    }
    return;
  }
  if (!marker) {
    Action write = RootAction(
        ActionKind::kWriteMarker, kMarkerName, FileStat{},
        absl::StrCat("tell XO the remote is immutable for ", DurationText(settings.duration)));
    write.content = MarkerContent(now, settings.duration);
    out.push_back(std::move(write));
    return;
  }
  const std::optional<std::string> content = facts.MarkerContent();
  boost::system::error_code ec;
  const json::value doc = content ? json::parse(*content, ec) : json::value();
  const json::object* obj = !ec && doc.is_object() ? &doc.get_object() : nullptr;
  const json::value* since = obj ? obj->if_contains("since") : nullptr;
  const json::value* duration = obj ? obj->if_contains("duration") : nullptr;
  const bool since_ok = since && (since->is_int64() || since->is_uint64());
  const bool duration_ok =
      duration && (duration->is_int64() || duration->is_uint64()) &&
      duration->to_number<int64_t>() == absl::ToInt64Milliseconds(settings.duration);
  const json::value* immutable = obj ? obj->if_contains("immutable") : nullptr;
  const bool immutable_ok = immutable && immutable->is_bool() && immutable->get_bool();
  if (since_ok && duration_ok && immutable_ok) {
    if (!marker->immutable) {
      out.push_back(RootAction(ActionKind::kProtect, kMarkerName, *marker,
                               "immutability.json must itself be immutable"));
    }
    return;
  }
  const absl::Time since_time = since_ok ? absl::FromUnixMillis(since->to_number<int64_t>()) : now;
  Action write =
      RootAction(ActionKind::kWriteMarker, kMarkerName, *marker,
                 absl::StrCat("rewrite: the immutability duration is now ",
                              DurationText(settings.duration), since_ok ? " (since kept)" : ""));
  write.content = MarkerContent(since_time, settings.duration);
  out.push_back(std::move(write));
}

// ---------------------------------------------------------------------------------------------
// The sweep.

bool ReachedByRun(const GlobSet& globs, const std::string& path, const FileStat& st) {
  if (IsRemoteFile(path)) return true;
  GlobSet::State state = globs.Start();
  GlobSet::Step step;
  const std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  for (size_t i = 0; i < parts.size(); ++i) {
    globs.Advance(state, parts[i], &step);
    const bool last = i + 1 == parts.size();
    if (step.tree_item && (!last || st.is_dir())) return true;
    if (last) return step.file_item && st.is_regular();
    if (!step.descend()) return false;
    state = step.next;
  }
  return false;
}

void PlanSweep(const SweepFacts& facts, const Settings& settings, absl::Time now, Plan* plan) {
  plan->warnings.insert(plan->warnings.end(), facts.unreadable.begin(), facts.unreadable.end());
  absl::flat_hash_map<std::pair<uint64_t, int64_t>, size_t> by_identity;
  for (size_t i = 0; i < facts.indexed.size(); ++i) {
    const IndexEntry& e = facts.indexed[i].entry;
    by_identity[{e.ino, absl::ToUnixNanos(e.birth)}] = i;
  }
  std::string covered;  // a tree handled as a whole: its members are not reported one by one
  for (const LockedInode& locked : facts.unreached) {
    if (!covered.empty() && absl::StartsWith(locked.path, covered)) continue;
    auto it = by_identity.find({locked.stat.ino, absl::ToUnixNanos(locked.stat.birth)});
    if (it == by_identity.end()) {
      plan->warnings.push_back(
          Warning{WarningKind::kLockedUnknown, locked.path,
                  "immutable, out of the globs' reach, and not in the index: not locked by "
                  "xo-immutable (or its entry was lost); left alone"});
      continue;
    }
    const SweptEntry& known = facts.indexed[it->second];
    if (known.entry.tree) covered = locked.path + "/";
    if (!IsExpired(known.key.day, settings.duration, now)) {
      plan->warnings.push_back(
          Warning{WarningKind::kLockedMoved, locked.path,
                  absl::StrCat("locked item moved out of the globs' reach (indexed as ",
                               known.entry.path, "); lifted here once expired")});
      continue;
    }
    Action lift{ActionKind::kLift, locked.path, known.entry.tree, locked.stat, known.key.day};
    lift.index_name = known.key.name;
    lift.reason =
        absl::StrCat("expired; moved out of the globs' reach (indexed as ", known.entry.path, ")");
    plan->actions.push_back(std::move(lift));
  }
  for (const SweptEntry& known : facts.indexed) {
    if (known.found || !IsExpired(known.key.day, settings.duration, now)) continue;
    Action forget{ActionKind::kUnindex, known.entry.path, known.entry.tree, FileStat{},
                  known.key.day};
    forget.index_name = known.key.name;
    forget.reason = "expired, and its inode exists nowhere in the remote any more";
    plan->actions.push_back(std::move(forget));
  }
}

}  // namespace xoi
