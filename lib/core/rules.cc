#include "lib/core/rules.h"

#include <algorithm>
#include <boost/json.hpp>
#include <limits>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
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

constexpr char kReleasing[] = "immutability duration is 0: the remote is being released";

std::string Ago(absl::Duration d) {
  const absl::Duration seconds = absl::Trunc(d, absl::Seconds(1));
  return seconds <= absl::ZeroDuration() ? "0s" : DurationText(seconds);
}

// A reference that is not a time (a tree that could not be examined counts as changed at
// InfiniteFuture) never expires.
bool Finite(absl::Time t) { return t != absl::InfiniteFuture() && t != absl::InfinitePast(); }

bool Expired(absl::Time reference, const Settings& settings, absl::Time now) {
  return settings.duration == absl::ZeroDuration() ||
         (Finite(reference) && IsExpired(CreationDay(reference), settings.duration, now));
}

// Why an expired item is lifted.
std::string ExpiredReason(absl::Time reference, const Settings& settings) {
  if (settings.duration == absl::ZeroDuration()) return kReleasing;
  return absl::StrCat("expired: finished ", FormatDay(CreationDay(reference)), ", protected until ",
                      IsoTime(ItemExpiresAt(reference, settings)));
}

// Which members a lift of a tree may clear: those born by the time the tree was locked (anything
// born after came in through a folder that was still mutable, and belongs to someone else), once
// they have expired themselves. `locked_at` unknown: the directory's ctime, which for an immutable
// directory is when it was locked.
void LimitTreeLift(absl::Time locked_at, absl::Time reference, const FileStat& top,
                   const Settings& settings, absl::Time now, Action* lift) {
  // Unknown (adopted or migrated items): an immutable directory's ctime is when it was locked; a
  // mutable one's can be moved by anyone writing into it, so its reference (the newest change of
  // its members when it was locked) stands in.
  lift->members_locked_by = locked_at != absl::InfinitePast() ? locked_at
                            : top.immutable                   ? top.ctime
                                                              : reference;
  // A member born at b has expired iff its day ends `duration` before now: iff b is before the
  // start of the UTC day of (now - duration).
  lift->members_expired_before =
      settings.duration == absl::ZeroDuration()
          ? absl::InfiniteFuture()
          : absl::FromCivil(CreationDay(now - settings.duration), absl::UTCTimeZone());
}

Action RootAction(ActionKind kind, std::string name, const FileStat& st, std::string reason) {
  Action a{kind, std::move(name), false, st};
  a.indexed = false;
  a.reason = std::move(reason);
  return a;
}

// The identity of `record`, as the executor needs it for an index-only action.
FileStat StatOf(const IndexRecord& record) {
  FileStat st;
  st.dev = record.dev;
  st.ino = record.ino;
  st.birth = record.birth;
  st.mode = record.tree ? S_IFDIR : S_IFREG;
  // What the record says of the flag: reports tell the record of a locked item from that of one
  // lifted already, whose removal is bookkeeping.
  st.immutable = !record.lifted;
  return st;
}

void WarnOddMembers(const std::vector<OddMember>& odd, std::vector<Warning>* warnings) {
  for (const OddMember& m : odd) {
    warnings->push_back(Warning{WarningKind::kMemberNotLockable, m.path,
                                absl::StrCat(m.why, ": cannot be locked; the rest of the backup ",
                                             "is, and this member is left as it is")});
  }
}

// How long ago `changed` was. A change after the wall clock means the clock was stepped back since:
// it is then measured on the clock corrected by its lag (the boot-time clock advances it), or the
// item would wait, unlocked, until the wall clock caught up, as long as whoever moved it liked.
absl::Duration SinceChange(absl::Time changed, absl::Time now, const Settings& settings) {
  return (changed > now ? now + settings.clock_lag : now) - changed;
}

}  // namespace

absl::Time AdoptedReference(const FileStat& st, const Settings& settings) {
  return std::max(st.birth, st.ctime) + settings.clock_lag;
}

absl::Time ItemExpiresAt(absl::Time reference, const Settings& settings) {
  return Finite(reference) ? ExpiresAt(CreationDay(reference), settings.duration)
                           : absl::InfiniteFuture();
}

// ---------------------------------------------------------------------------------------------
// One item.

Decision Decide(const Candidate& item, const RecordSummary* record, const Settings& settings,
                absl::Time now, ItemFacts& facts) {
  Decision decision;
  const FileStat& st = item.stat;
  // Built only when there is something to do: the steady state copies nothing.
  auto make = [&](ActionKind kind, absl::Time reference, std::string reason) {
    Action action{kind, item.path, item.tree, st};
    action.reference = reference;
    action.expires_at = ItemExpiresAt(reference, settings);
    action.clock_lag = settings.clock_lag;
    action.reason = std::move(reason);
    action.forget_record = kind == ActionKind::kLift && settings.duration == absl::ZeroDuration();
    return action;
  };
  // A record of an item this program protected and has not lifted.
  const RecordSummary* protected_record = record != nullptr && !record->lifted() ? record : nullptr;

  if (st.immutable) {
    // Never locked here (a lock here refuses a second name and undoes a link that raced it): its
    // flag is not ours to clear, since clearing it unlocks every other name, which may be
    // outside the remote.
    if (!item.tree && st.nlink > 1) {
      decision.action = make(
          ActionKind::kRefuse, st.ctime,
          absl::StrCat(st.nlink, " hard links, locked by someone else: never unlocked here (its ",
                       "other names, possibly outside the remote, would be unlocked too)"));
      return decision;
    }
    const absl::Time reference =
        protected_record ? protected_record->reference() : AdoptedReference(st, settings);
    if (Expired(reference, settings, now)) {
      Action lift = make(ActionKind::kLift, reference, ExpiredReason(reference, settings));
      if (item.tree) {
        LimitTreeLift(protected_record ? protected_record->locked_at() : absl::InfinitePast(),
                      reference, st, settings, now, &lift);
      }
      decision.action = std::move(lift);
      return decision;
    }
    if (item.tree && settings.deep) {
      const ChangeFacts changes = facts.Changes();
      WarnOddMembers(changes.odd_members, &decision.warnings);
      if (changes.mutable_members > 0) {
        decision.action = make(ActionKind::kReprotect, reference,
                               absl::StrCat("drift: ", changes.mutable_members,
                                            " members made mutable before expiry (protected until ",
                                            IsoTime(ItemExpiresAt(reference, settings)), ")"));
        return decision;
      }
    }
    // Finishing a protection and adopting a locked tree lock what was never unlocked: a
    // protection, counted as one; a re-protection is drift (something was made mutable).
    if (protected_record != nullptr && !protected_record->complete()) {
      decision.action =
          make(ActionKind::kProtect, reference,
               "an earlier protection of it stopped half-way (an error, a writer): finishing it");
      return decision;
    }
    const std::string adopted = absl::StrCat(
        IsXoBackupFolder(item.path)
            ? "adopted: a backup folder XO's daemon locked whole (it never unlocks them)"
            : "adopted: immutable but not in the index (locked by XO's daemon, or by an "
              "interrupted run)",
        "; expires from when it was locked, ", FormatDay(CreationDay(reference)), ": lifted from ",
        IsoTime(ItemExpiresAt(reference, settings)));
    if (protected_record == nullptr && item.tree) {
      // A tree is locked top down, so its directory's flag alone does not say that its members
      // are locked (a run killed half-way, XO's daemon locking the folder only): they are checked
      // and locked, and then it is recorded.
      decision.action = make(ActionKind::kProtect, reference,
                             absl::StrCat(adopted, "; its members are locked too"));
    } else if (protected_record == nullptr) {
      decision.action = make(ActionKind::kIndex, reference, adopted);
    } else if (!protected_record->IsAt(item.path)) {
      Action follow = make(ActionKind::kFollow, reference,
                           "moved since it was recorded (renamed, or a folder above it renamed): "
                           "its record follows it");
      follow.locked_at = protected_record->locked_at();
      decision.action = std::move(follow);
    }
    return decision;  // nothing to do: the steady state
  }

  // Locking a file with other hard links would lock its other names too, possibly outside the
  // remote.
  const bool hard_linked = !item.tree && st.nlink > 1;
  auto refuse_links = [&] {
    decision.action = make(ActionKind::kRefuse, st.ctime,
                           absl::StrCat(st.nlink, " hard links: locking it would lock the other ",
                                        "names too, possibly outside the remote"));
    return decision;
  };
  if (protected_record != nullptr) {
    const absl::Time reference = protected_record->reference();
    if (Expired(reference, settings, now)) {
      Action lift =
          make(ActionKind::kLift, reference, "expired and indexed: finishing an interrupted lift");
      if (item.tree) {
        LimitTreeLift(protected_record->locked_at(), reference, st, settings, now, &lift);
      }
      decision.action = std::move(lift);
      return decision;
    }
    if (hard_linked) return refuse_links();
    decision.action = make(ActionKind::kReprotect, reference,
                           absl::StrCat("drift: made mutable before expiry (protected until ",
                                        IsoTime(ItemExpiresAt(reference, settings)), ")"));
    return decision;
  }
  // Kept for XO's merges, below; a remote being released keeps no records, so that a duration
  // set again judges what it holds anew instead of leaving it unlocked for good.
  if (record != nullptr && settings.duration == absl::ZeroDuration()) {
    decision.action = make(ActionKind::kUnindex, record->reference(),
                           "lifted, and the remote is released (immutabilityDuration 0): its "
                           "record goes");
    return decision;
  }
  if (record != nullptr && record->IsAt(item.path)) {
    return decision;  // lifted once already: XO's merges and retention may change it now
  }
  // XO's merge: an older VHD, lifted, takes in a newer one's blocks and then its name, which is
  // free only once that newer one was lifted too: what is there has expired already. Locked
  // again from the merge, it would stop the chain's next merge for a whole duration. Onto a path
  // where nothing was lifted (a new backup's), it is a new item, below.
  if (record != nullptr && record->lifted() && facts.LiftedHere()) {
    Action follow = make(ActionKind::kFollow, record->reference(),
                         "lifted, then renamed onto the path of another lifted backup (XO's "
                         "merge): its record follows it, still lifted");
    follow.locked_at = record->locked_at();
    decision.action = std::move(follow);
    return decision;
  }
  // A remote being released locks nothing new, but a tree is still looked into: for members XO's
  // daemon locked.
  if (settings.duration == absl::ZeroDuration() && !item.tree) return decision;

  const ChangeFacts changes = facts.Changes();
  // When it was finished as this server saw it, and no earlier than any member someone else
  // locked was locked; the clock's lag corrects a wall clock that was behind when it was written.
  const absl::Time reference =
      std::max(changes.newest_change, changes.newest_lock) + settings.clock_lag;
  if (changes.locked_members > 0 && Expired(reference, settings, now)) {
    // Past its time before this program could lock it, but parts of it are locked (XO's daemon
    // v1): without this lift they would stay locked for ever, and XO's retention fail on them.
    Action lift =
        make(ActionKind::kLift, reference,
             absl::StrCat(ExpiredReason(reference, settings), "; ", changes.locked_members,
                          " members locked by XO's daemon (the folder never was)"));
    LimitTreeLift(absl::InfinitePast(), reference, st, settings, now, &lift);
    decision.action = std::move(lift);
    return decision;
  }
  if (settings.duration == absl::ZeroDuration()) return decision;
  if (!changes.unexamined.empty()) {
    // Not "changed 0s ago": what keeps it waiting is an error someone has to look at.
    decision.action = make(
        ActionKind::kWait, changes.newest_change,
        absl::StrCat("could not be examined whole, waits until it can be: ", changes.unexamined));
    return decision;
  }
  const absl::Duration unchanged = SinceChange(changes.newest_change, now, settings);
  if (unchanged < settings.settle) {
    decision.action = make(ActionKind::kWait, changes.newest_change,
                           absl::StrCat("changed ", Ago(unchanged), " ago (settle ",
                                        DurationText(settings.settle), ")"));
    return decision;
  }
  if (Expired(reference, settings, now) && !settings.clock_shifted) {
    return decision;  // finished and past its time before anything could lock it: left alone
  }
  if (hard_linked) return refuse_links();
  WarnOddMembers(changes.odd_members, &decision.warnings);
  const RunCheck run = facts.Run();
  const std::string until = IsoTime(ItemExpiresAt(reference, settings));
  if (!run.complete && unchanged < settings.orphan_grace) {
    decision.action =
        make(ActionKind::kWait, reference,
             absl::StrCat("backup run not complete: waiting for ", run.marker, " (or for ",
                          DurationText(settings.orphan_grace), " without change)"));
    return decision;
  }
  Action protect =
      make(ActionKind::kProtect, reference,
           run.complete
               ? absl::StrCat(
                     "finished: unchanged for ", Ago(unchanged),
                     run.marker.empty() ? "" : absl::StrCat(", run complete (", run.marker, ")"),
                     "; protected until ", until)
               : absl::StrCat("run never completed (no ", run.marker, ") but unchanged for ",
                              Ago(unchanged), " (orphanGrace ", DurationText(settings.orphan_grace),
                              "); protected until ", until));
  protect.overdue = unchanged >= settings.orphan_grace;
  decision.action = std::move(protect);
  return decision;
}

// ---------------------------------------------------------------------------------------------
// An index record the walk did not reach.

void DecideUnreached(const IndexRecord& record, const Settings& settings, absl::Time now,
                     UnreachedFacts& facts, Plan* plan) {
  Action action{ActionKind::kUnindex, record.path, record.tree, StatOf(record)};
  if (record.lifted) {
    // A backup folder XO's daemon locked whole is reached by the walk only while it is locked.
    action.reason = record.tree && IsXoBackupFolder(record.path)
                        ? "lifted with its files, which the walk reaches as items again (each "
                          "recorded as lifted): the folder's record is dropped"
                        : "lifted, and no longer where it was: its record is dropped";
    plan->actions.push_back(std::move(action));
    return;
  }
  const bool expired = Expired(record.reference, settings, now);
  const std::optional<FileStat> now_there = facts.StatBeneath(record.path);
  const bool same = now_there && now_there->ino == record.ino && now_there->birth == record.birth;
  // A file of a backup folder XO's daemon locked whole, which an earlier version of this program
  // adopted file by file: the walk now adopts the folder as one item, lifted with its members (all
  // born before the folder was locked: nothing can be added to it since), so the file's own record
  // goes. Only when the file is still the one recorded, there: a writer who swaps the folder's
  // mutable parents must not make a record of ours vanish.
  if (const size_t slash = record.path.rfind('/');
      same && !record.tree && IsXoBackupFolder(absl::string_view(record.path).substr(0, slash))) {
    const std::optional<FileStat> folder = facts.StatBeneath(record.path.substr(0, slash));
    if (folder && folder->is_dir() && folder->immutable) {
      action.reason =
          "inside a backup folder XO's daemon locked whole, now adopted as one item: lifted with "
          "it";
      plan->actions.push_back(std::move(action));
      return;
    }
  }
  if (same && expired && now_there->immutable) {
    action.kind = ActionKind::kLift;
    action.stat = *now_there;
    action.reference = record.reference;
    action.expires_at = ItemExpiresAt(record.reference, settings);
    if (record.tree) {
      LimitTreeLift(record.locked_at, record.reference, *now_there, settings, now, &action);
    }
    action.reason = absl::StrCat(ExpiredReason(record.reference, settings),
                                 "; outside the glob set's reach (same inode)");
    plan->actions.push_back(std::move(action));
  } else if (same && expired) {
    action.reason = "expired and already mutable";
    plan->actions.push_back(std::move(action));
  } else if (same) {
    plan->warnings.push_back(Warning{WarningKind::kIndexedUnreachable, record.path,
                                     "indexed and locked, but no glob reaches it any more"});
  } else {
    // The indexed inode may live on under another name (a writer can rename the mutable parent
    // folder of a locked file): the record is kept for `xo-immutable sweep`, which finds the
    // inode by identity, lifts it once expired, and drops records whose inode is gone.
    plan->warnings.push_back(Warning{
        now_there ? WarningKind::kIndexedReplaced : WarningKind::kIndexedMissing, record.path,
        absl::StrCat(!now_there ? "indexed item missing (moved, or deleted by root?)"
                                : "the path now holds another inode",
                     expired ? ": expired; `xo-immutable sweep` resolves it"
                             : ": record kept, the indexed inode is not touched")});
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

MarkerFields ParseMarker(absl::string_view content) {
  MarkerFields fields;
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = 8;
  const json::value doc =
      json::parse(json::string_view(content.data(), content.size()), ec, {}, options);
  if (ec || !doc.is_object()) return fields;
  const json::object& o = doc.get_object();
  // Only integers that fit: a value the writer chose must never overflow a conversion.
  auto integer = [&](const char* key) -> std::optional<int64_t> {
    const json::value* v = o.if_contains(key);
    if (v == nullptr) return std::nullopt;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64() && v->get_uint64() <= uint64_t{std::numeric_limits<int64_t>::max()}) {
      return static_cast<int64_t>(v->get_uint64());
    }
    return std::nullopt;
  };
  if (const std::optional<int64_t> since = integer("since"); since && *since >= 0) {
    fields.since = absl::FromUnixMillis(*since);
  }
  fields.duration_ms = integer("duration");
  const json::value* immutable = o.if_contains("immutable");
  fields.immutable = immutable != nullptr && immutable->is_bool() && immutable->get_bool();
  return fields;
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
      if (st->immutable && st->nlink > 1) {
        out.push_back(RootAction(
            ActionKind::kRefuse, name, *st,
            absl::StrCat(st->nlink, " hard links: not unlocked (its other names would be too)")));
      } else if (st->immutable) {
        out.push_back(RootAction(ActionKind::kLift, name, *st, kReleasing));
      }
      continue;
    }
    if (st->immutable) continue;
    if (st->nlink > 1) {
      out.push_back(
          RootAction(ActionKind::kRefuse, name, *st, absl::StrCat(st->nlink, " hard links")));
    } else if (SinceChange(st->ctime, now, settings) < settings.settle) {
      out.push_back(RootAction(ActionKind::kWait, name, *st, "changed less than settle ago"));
    } else {
      out.push_back(RootAction(ActionKind::kProtect, name, *st,
                               "XO's remote metadata is kept immutable while protected"));
    }
  }

  const std::optional<FileStat> marker = facts.Stat(kMarkerName);
  // A hard-linked marker is not written to (the other name would change too), but it may still be
  // unlocked and removed when the remote is released.
  if (marker && (!marker->is_regular() || (protecting && marker->nlink > 1))) {
    out.push_back(RootAction(
        ActionKind::kRefuse, kMarkerName, *marker,
        marker->is_regular()
            ? absl::StrCat(marker->nlink, " hard links: immutability.json is not touched")
            : absl::StrCat("a ", FileTypeName(marker->mode),
                           " named immutability.json: not touched")));
    return;
  }
  if (!protecting) {
    // XO is not told the remote is released while entries wait for a later run (lifts, or held).
    if (marker && plan->deferred > 0) {
      out.push_back(RootAction(ActionKind::kWait, kMarkerName, *marker,
                               "kept until the entries left for the next runs are done"));
    } else if (marker) {
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
  const MarkerFields fields = content ? ParseMarker(*content) : MarkerFields{};
  if (fields.since && fields.immutable &&
      fields.duration_ms == absl::ToInt64Milliseconds(settings.duration)) {
    if (!marker->immutable) {
      out.push_back(RootAction(ActionKind::kProtect, kMarkerName, *marker,
                               "immutability.json must itself be immutable"));
    }
    return;
  }
  Action write = RootAction(
      ActionKind::kWriteMarker, kMarkerName, *marker,
      absl::StrCat("rewrite: the immutability duration is now ", DurationText(settings.duration),
                   fields.since ? " (since kept)" : ""));
  write.content = MarkerContent(fields.since.value_or(now), settings.duration);
  out.push_back(std::move(write));
}

// ---------------------------------------------------------------------------------------------
// XO's daemon's index.

namespace {

// True when `path` lies inside an item taken whole (a member of a VHD directory).
bool InsideTreeItem(const GlobSet& globs, absl::string_view path) {
  GlobSet::State state = globs.Start();
  GlobSet::Step step;
  const std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    globs.Advance(state, parts[i], &step);
    if (step.tree_item) return true;
    if (!step.descend()) return false;
    state = step.next;
  }
  return false;
}

}  // namespace

XoIndexImport PlanXoIndexImport(const std::vector<XoIndexEntry>& entries, absl::string_view root,
                                const std::string& source, const GlobSet& globs,
                                const Settings& settings, XoIndexFacts& facts, Plan* plan) {
  XoIndexImport counts;
  for (const XoIndexEntry& entry : entries) {
    absl::string_view relative = entry.path;
    if (!absl::ConsumePrefix(&relative, root) || !absl::ConsumePrefix(&relative, "/") ||
        !IsRemotePath(relative)) {
      ++counts.outside;
      continue;
    }
    const std::string path(relative);
    if (InsideTreeItem(globs, path)) {
      ++counts.within;
      continue;
    }
    const std::optional<FileStat> st = facts.StatBeneath(path);
    if (!st) {
      ++counts.vanished;
      continue;
    }
    if (!st->immutable || !(st->is_regular() || st->is_dir())) {
      ++counts.unlocked;
      continue;
    }
    if (facts.Known(*st)) {
      ++counts.known;
      continue;
    }
    const absl::Time reference = AdoptedReference(*st, settings);
    Action index{ActionKind::kIndex, path, st->is_dir(), *st};
    index.reference = reference;
    index.expires_at = ItemExpiresAt(reference, settings);
    index.clock_lag = settings.clock_lag;
    index.reason = absl::StrCat("imported from XO's daemon index (its day ", FormatDay(entry.day),
                                "), still locked: expires from when it was locked, ",
                                FormatDay(CreationDay(reference)), ": lifted from ",
                                IsoTime(index.expires_at));
    plan->actions.push_back(std::move(index));
    ++counts.imported;
  }
  plan->warnings.push_back(Warning{
      WarningKind::kIndexNotice, "",
      absl::StrCat("XO's daemon index ", source, " read once: ", entries.size(), " entries; ",
                   counts.imported, " still locked, imported; ", counts.known, " known already; ",
                   counts.within, " inside a VHD directory (handled with it); ", counts.vanished,
                   " vanished, skipped; ", counts.unlocked, " no longer locked, skipped; ",
                   counts.outside, " outside this remote")});
  return counts;
}

// ---------------------------------------------------------------------------------------------
// The sweep.

bool ReachedByRun(const GlobSet& globs, const std::string& path, const FileStat& st) {
  if (IsRemoteFile(path)) return true;
  // Adopted whole by the walk (its members too, below, through the glob set's file items).
  if (st.is_dir() && st.immutable && IsXoBackupFolder(path)) return true;
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
  absl::flat_hash_map<Identity, const IndexRecord*> protected_records;
  for (const SweptRecord& swept : facts.indexed) {
    if (!swept.record.lifted) protected_records[swept.record.identity()] = &swept.record;
  }
  // Trees handled as a whole: their members are neither lifted nor reported one by one.
  absl::flat_hash_set<std::string> covered;
  auto is_covered = [&](const std::string& path) {
    for (size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      if (covered.contains(path.substr(0, slash))) return true;
    }
    return false;
  };
  for (const LockedInode& locked : facts.unreached) {
    if (is_covered(locked.path)) continue;
    auto it =
        protected_records.find(Identity{locked.stat.ino, absl::ToUnixNanos(locked.stat.birth)});
    if (it == protected_records.end()) {
      plan->warnings.push_back(
          Warning{WarningKind::kLockedUnknown, locked.path,
                  "immutable, out of the globs' reach, and not in the index: not locked by "
                  "xo-immutable (or its record was lost); left alone"});
      continue;
    }
    const IndexRecord& known = *it->second;
    if (known.tree) covered.insert(locked.path);
    // Where it was recorded (globs changed since, or XO's daemon locked what no glob of ours
    // reaches), or somewhere else (a writer renamed a mutable folder above it).
    const std::string where =
        known.path == locked.path
            ? "out of the globs' reach, indexed here"
            : absl::StrCat("moved out of the globs' reach (indexed as ", known.path, ")");
    if (!Expired(known.reference, settings, now)) {
      plan->warnings.push_back(
          Warning{WarningKind::kLockedMoved, locked.path,
                  absl::StrCat("locked item ", where, "; lifted here once expired")});
      continue;
    }
    Action lift{ActionKind::kLift, locked.path, known.tree, locked.stat};
    lift.reference = known.reference;
    lift.expires_at = ItemExpiresAt(known.reference, settings);
    if (known.tree) {
      LimitTreeLift(known.locked_at, known.reference, locked.stat, settings, now, &lift);
    }
    lift.reason = absl::StrCat(ExpiredReason(known.reference, settings), "; ", where);
    plan->actions.push_back(std::move(lift));
  }
  for (const SweptRecord& swept : facts.indexed) {
    const IndexRecord& r = swept.record;
    if (swept.found || (!r.lifted && !Expired(r.reference, settings, now))) continue;
    Action forget{ActionKind::kUnindex, r.path, r.tree, StatOf(r)};
    forget.reason = r.lifted ? "lifted, and its inode exists nowhere in the remote any more"
                             : "expired, and its inode exists nowhere in the remote any more";
    plan->actions.push_back(std::move(forget));
  }
}

}  // namespace xoi
