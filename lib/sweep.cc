#include "lib/sweep.h"

#include <time.h>

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lib/expiry.h"
#include "lib/glob_set.h"
#include "lib/remote_marker.h"
#include "lib/walker.h"

namespace xoi {
namespace {

struct Identity {
  uint64_t ino;
  int64_t birth_ns;
  bool operator==(const Identity& o) const { return ino == o.ino && birth_ns == o.birth_ns; }
  template <typename H>
  friend H AbslHashValue(H h, const Identity& id) {
    return H::combine(std::move(h), id.ino, id.birth_ns);
  }
};

struct Indexed {
  IndexKey key;
  IndexEntry entry;
  bool found = false;
};

struct Locked {
  std::string path;
  FileStat stat;
};

// True when the regular run reaches `path`: a file item, a tree item, a member of one, or one of
// the remote's own files.
bool ReachedByRun(const GlobSet& globs, const std::string& path, const FileStat& st) {
  if (path == kMarkerName || path == "encryption.json" || path == "metadata.json") return true;
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

}  // namespace

RemoteReport SweepRemote(const std::string& index_path, const RemoteConfig& remote,
                         const RunOptions& options) {
  const Stopwatch stopwatch;
  RemoteReport report;
  std::unique_ptr<RemoteSession> session = OpenRemote(index_path, remote, options.dry_run, &report);
  if (session == nullptr) return report;
  auto root_stat = StatFd(session->root.get(), remote.root);
  if (!root_stat.ok()) {
    report.state = RemoteState::kUnusable;
    report.unusable_reason = std::string(root_stat.status().message());
    return report;
  }

  // Every index entry with an identity, by identity.
  std::vector<Indexed> indexed;
  absl::flat_hash_map<Identity, size_t> by_identity;
  for (const IndexKey& key : session->index->Keys()) {
    auto entry = session->index->Read(key.day, key.name);
    if (!entry.ok()) {
      report.warnings.push_back(Problem{"", std::string(entry.status().message())});
      continue;
    }
    if (!entry->has_identity) continue;
    by_identity[Identity{entry->ino, absl::ToUnixNanos(entry->birth)}] = indexed.size();
    indexed.push_back(Indexed{key, *std::move(entry)});
  }

  // The whole remote: note which indexed inodes still exist, and collect the locked inodes that
  // the regular run cannot reach.
  std::vector<Locked> unreached;
  const absl::Status walked = WalkTree(
      session->root.get(), "", root_stat->dev,
      [&](const Member& m) {
        ++report.counts.seen;
        auto it = by_identity.find(Identity{m.stat.ino, absl::ToUnixNanos(m.stat.birth)});
        if (it != by_identity.end()) indexed[it->second].found = true;
        if (m.stat.immutable && (m.stat.is_regular() || m.stat.is_dir()) &&
            !ReachedByRun(session->globs, m.path, m.stat)) {
          unreached.push_back(Locked{m.path, m.stat});
        }
        return true;
      },
      [&](const std::string& path, const absl::Status& status) {
        report.errors.push_back(Problem{path, std::string(status.message())});
      });
  if (!walked.ok()) report.errors.push_back(Problem{"", std::string(walked.message())});
  std::sort(unreached.begin(), unreached.end(),
            [](const Locked& a, const Locked& b) { return a.path < b.path; });

  std::vector<Action> plan;
  std::string covered;  // a tree handled as a whole: its members are not reported one by one
  for (const Locked& locked : unreached) {
    if (!covered.empty() && absl::StartsWith(locked.path, covered)) continue;
    auto it = by_identity.find(Identity{locked.stat.ino, absl::ToUnixNanos(locked.stat.birth)});
    if (it == by_identity.end()) {
      report.warnings.push_back(Problem{
          locked.path, "immutable, out of the globs' reach, and not in the index: not locked by "
                       "xo-immutable (or its entry was lost); left alone"});
      continue;
    }
    const Indexed& known = indexed[it->second];
    if (known.entry.tree) covered = locked.path + "/";
    if (!IsExpired(known.key.day, remote.immutability_duration, options.now)) {
      report.warnings.push_back(Problem{
          locked.path, absl::StrCat("locked item moved out of the globs' reach (indexed as ",
                                    known.entry.path, "); lifted here once expired")});
      continue;
    }
    Action lift{ActionKind::kLift, locked.path, known.entry.tree, locked.stat, known.key.day};
    lift.index_name = known.key.name;
    lift.reason = absl::StrCat("expired; moved out of the globs' reach (indexed as ",
                               known.entry.path, ")");
    plan.push_back(std::move(lift));
  }
  for (const Indexed& known : indexed) {
    if (known.found || !IsExpired(known.key.day, remote.immutability_duration, options.now)) {
      continue;
    }
    Action forget{ActionKind::kUnindex, known.entry.path, known.entry.tree, FileStat{},
                  known.key.day};
    forget.index_name = known.key.name;
    forget.reason = "expired, and its inode exists nowhere in the remote any more";
    plan.push_back(std::move(forget));
  }
  if (!options.lifting_suspended.empty() && HoldLifts(&plan, options.lifting_suspended) > 0) {
    report.lifts_held = options.lifting_suspended;
  }
  ExecutePlan(plan, *session, remote, options, &report);
  report.elapsed = stopwatch.Elapsed();
  return report;
}

}  // namespace xoi
