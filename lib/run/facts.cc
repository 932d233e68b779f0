#include "lib/run/facts.h"

#include <dirent.h>
#include <fcntl.h>

#include <algorithm>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lib/core/status.h"
#include "lib/fs/walker.h"

namespace xoi {
namespace {

constexpr size_t kMaxAliasSize = 4096;
constexpr size_t kMaxMarkerSize = 4096;

}  // namespace

// ---------------------------------------------------------------------------------------------

bool RemoteRunFacts::MarkerExists(const std::string& marker) {
  auto st = fs_.StatAt(root_fd_, marker.c_str(), marker);
  return st.ok() && st->is_regular();
}

std::vector<std::string> RemoteRunFacts::AliasesPointingAt(const std::string& folder,
                                                           const std::string& target) {
  std::shared_ptr<const AliasMap> aliases;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = folders_.find(folder);
    if (it != folders_.end()) aliases = it->second;
  }
  if (aliases == nullptr) {
    // Read outside the lock: two workers may read one folder at once, which is only wasted work.
    auto read = std::make_shared<const AliasMap>(ReadAliases(folder));
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, added] = folders_.emplace(folder, std::move(read));
    aliases = it->second;
    if (added) {
      kept_order_.push_back(folder);
      if (kept_order_.size() > folders_kept_) {
        folders_.erase(kept_order_.front());
        kept_order_.pop_front();
      }
    }
  }
  auto it = aliases->find(target);
  return it == aliases->end() ? std::vector<std::string>() : it->second;
}

RemoteRunFacts::AliasMap RemoteRunFacts::ReadAliases(const std::string& folder) {
  AliasMap map;
  auto dir = fs_.OpenBeneath(root_fd_, folder, O_RDONLY | O_DIRECTORY);
  if (!dir.ok()) return map;
  std::vector<std::string> names;
  (void)fs_.ListDir(dir->get(), folder, [&](absl::string_view name, unsigned char) {
    if (IsAliasName(name)) names.emplace_back(name);
    return true;
  });
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    auto content = fs_.ReadSmallFile(dir->get(), name.c_str(), kMaxAliasSize, name);
    if (!content.ok()) continue;
    if (std::optional<std::string> target = AliasTarget(*content)) {
      map[*target].push_back(name);
    }
  }
  return map;
}

// ---------------------------------------------------------------------------------------------

ChangeFacts RemoteItemFacts::Changes() {
  ChangeFacts facts{item_.stat.ctime};
  if (!item_.tree) return facts;
  auto dir = fs_.OpenBeneath(root_fd_, item_.path, O_RDONLY | O_DIRECTORY);
  if (!dir.ok()) {
    facts.newest_change = absl::InfiniteFuture();
    // Vanished since the walk: the next run will not find it.
    if (ErrnoOf(dir.status()) != ENOENT) facts.unexamined = std::string(dir.status().message());
    return facts;
  }
  std::mutex mu;  // the walk's threads share `facts`
  const absl::Status walked = WalkTreeShared(
      fs_, dir->get(), item_.path, item_.stat.dev,
      TreeVisit{[&](const Member& m) {
                  std::string why = WhyLeftAsItIs(m.stat, m.beyond_reach, item_.stat.dev);
                  std::lock_guard<std::mutex> lock(mu);
                  if (!why.empty()) {
                    facts.odd_members.push_back(OddMember{m.path, std::move(why)});
                  } else if (!m.stat.immutable) {
                    facts.newest_change = std::max(facts.newest_change, m.stat.ctime);
                    ++facts.mutable_members;
                  } else {
                    facts.newest_lock = std::max(facts.newest_lock, m.stat.ctime);
                    ++facts.locked_members;
                  }
                  return true;
                },
                [&](const std::string&, const absl::Status& status) {
                  std::lock_guard<std::mutex> lock(mu);
                  facts.newest_change = absl::InfiniteFuture();
                  if (facts.unexamined.empty()) facts.unexamined = std::string(status.message());
                },
                nullptr},
      tree_threads_);
  if (!walked.ok()) {
    facts.newest_change = absl::InfiniteFuture();
    if (facts.unexamined.empty()) facts.unexamined = std::string(walked.message());
  }
  // The threads find them in any order; reports list them in one.
  std::sort(facts.odd_members.begin(), facts.odd_members.end(),
            [](const OddMember& a, const OddMember& b) { return a.path < b.path; });
  return facts;
}

RunCheck RemoteItemFacts::Run() { return CheckRun(item_.path, item_.tree, runs_); }

// ---------------------------------------------------------------------------------------------

std::optional<FileStat> RemoteUnreachedFacts::StatBeneath(const std::string& relative) {
  auto fd = fs_.OpenBeneath(root_fd_, relative, O_PATH);
  if (!fd.ok()) return std::nullopt;
  auto st = fs_.StatFd(fd->get(), relative);
  if (!st.ok()) return std::nullopt;
  return *st;
}

// ---------------------------------------------------------------------------------------------

std::optional<FileStat> RemoteRootFacts::Stat(const char* name) {
  auto st = fs_.StatAt(root_fd_, name, name);
  if (!st.ok()) return std::nullopt;
  return *st;
}

bool RemoteRootFacts::Initialised() {
  for (const char* name : kXoRootFiles) {
    if (fs_.StatAt(root_fd_, name, name).ok()) return true;
  }
  bool found = false;
  (void)fs_.ListDir(root_fd_, "(remote root)", [&](absl::string_view name, unsigned char type) {
    found = absl::StartsWith(name, "xo-") && type == DT_DIR;
    return !found;
  });
  return found;
}

std::optional<std::string> RemoteRootFacts::MarkerContent() {
  auto content = fs_.ReadSmallFile(root_fd_, kMarkerName, kMaxMarkerSize, kMarkerName);
  if (!content.ok()) return std::nullopt;
  return *std::move(content);
}

// ---------------------------------------------------------------------------------------------

SweepFacts GatherSweepFacts(FileSystem& fs, int root_fd, uint64_t root_dev, const Index& index,
                            const GlobSet& globs, uint64_t* seen, std::vector<Problem>* errors) {
  SweepFacts facts;
  absl::flat_hash_map<Identity, size_t> by_identity;
  const absl::Status read = index.ForEach([&](const IndexRecord& record) {
    by_identity[record.identity()] = facts.indexed.size();
    facts.indexed.push_back(SweptRecord{record});
  });
  if (!read.ok()) errors->push_back(Problem{index.dir_path(), std::string(read.message())});
  const absl::Status walked = WalkTree(
      fs, root_fd, "", root_dev,
      TreeVisit{[&](const Member& m) {
                  ++*seen;
                  // What is below it is not seen: said, as any folder that cannot be listed.
                  if (m.beyond_reach) errors->push_back(Problem{m.path, kBeyondReach});
                  auto it = by_identity.find(Identity{m.stat.ino, absl::ToUnixNanos(m.stat.birth)});
                  if (it != by_identity.end()) facts.indexed[it->second].found = true;
                  if (m.stat.immutable && (m.stat.is_regular() || m.stat.is_dir()) &&
                      !ReachedByRun(globs, m.path, m.stat)) {
                    facts.unreached.push_back(LockedInode{m.path, m.stat});
                  }
                  return true;
                },
                [&](const std::string& path, const absl::Status& status) {
                  errors->push_back(Problem{path, std::string(status.message())});
                },
                nullptr});
  if (!walked.ok()) errors->push_back(Problem{"", std::string(walked.message())});
  std::sort(facts.unreached.begin(), facts.unreached.end(),
            [](const LockedInode& a, const LockedInode& b) { return a.path < b.path; });
  return facts;
}

}  // namespace xoi
