// Gathering the facts the rules (lib/core/rules.h) ask for: the only place that reads a remote
// before acting on it. Each class implements one of the rules' facts interfaces over a FileSystem,
// reading lazily what the rule asks for and nothing more.
#ifndef XOI_LIB_RUN_FACTS_H_
#define XOI_LIB_RUN_FACTS_H_

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lib/core/glob_set.h"
#include "lib/core/rules.h"
#include "lib/core/xo_layout.h"
#include "lib/fs/file_system.h"
#include "lib/fs/index.h"
#include "lib/report/run_report.h"

namespace xoi {

// Run markers and aliases of one remote. The aliases of the `folders_kept` VDI folders asked
// about last are kept: the walk asks about one folder's VHD directories together, so each folder
// is read about once per run however many directories ask (every alias once per directory
// otherwise), while the memory stays bounded on a remote of thousands of VMs (7.5 MB for 800
// VMs' first protection when every folder was kept). Thread-safe: the walk's workers share one.
class RemoteRunFacts : public RunFacts {
 public:
  RemoteRunFacts(FileSystem& fs, int root_fd, size_t folders_kept = 256)
      : fs_(fs), root_fd_(root_fd), folders_kept_(folders_kept) {}

  bool MarkerExists(const std::string& marker) override;
  std::vector<std::string> AliasesPointingAt(const std::string& folder,
                                             const std::string& target) override;

 private:
  // The aliases of one folder: target -> alias names, sorted.
  using AliasMap = std::map<std::string, std::vector<std::string>>;
  AliasMap ReadAliases(const std::string& folder);

  FileSystem& fs_;
  const int root_fd_;
  const size_t folders_kept_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const AliasMap>> folders_;
  std::deque<std::string> kept_order_;  // the keys of folders_, the oldest first
};

// The facts Decide() may ask about one walked item, read from the remote.
class RemoteItemFacts : public ItemFacts {
 public:
  // A tree is walked by `tree_threads` threads.
  // `index` (may be null: none) answers LiftedHere.
  RemoteItemFacts(FileSystem& fs, int root_fd, RunFacts& runs, const Candidate& item,
                  int tree_threads = 1, const Index* index = nullptr)
      : fs_(fs),
        root_fd_(root_fd),
        runs_(runs),
        item_(item),
        tree_threads_(tree_threads),
        index_(index) {}

  // For a tree, walks every member: the newest change of those not locked yet, and the members
  // that can never be locked. A member that cannot be examined counts as just changed, so that the
  // tree waits rather than being locked half-way.
  ChangeFacts Changes() override;
  RunCheck Run() override;
  bool LiftedHere() override { return index_ != nullptr && index_->LiftedAt(item_.path); }

 private:
  FileSystem& fs_;
  const int root_fd_;
  RunFacts& runs_;
  const Candidate& item_;
  const int tree_threads_;
  const Index* const index_;
};

// What an index record's path holds now.
class RemoteUnreachedFacts : public UnreachedFacts {
 public:
  RemoteUnreachedFacts(FileSystem& fs, int root_fd) : fs_(fs), root_fd_(root_fd) {}

  std::optional<FileStat> StatBeneath(const std::string& relative) override;

 private:
  FileSystem& fs_;
  const int root_fd_;
};

// The remote's own files at its root.
class RemoteRootFacts : public RemoteFileFacts {
 public:
  RemoteRootFacts(FileSystem& fs, int root_fd) : fs_(fs), root_fd_(root_fd) {}

  std::optional<FileStat> Stat(const char* name) override;
  bool Initialised() override;
  std::optional<std::string> MarkerContent() override;

 private:
  FileSystem& fs_;
  const int root_fd_;
};

// What the sweep needs: every index record and whether its inode still exists anywhere in the
// remote, and the locked inodes the regular run cannot reach (sorted by path). Walks the whole
// remote; `seen` receives the number of inodes examined, `errors` what could not be examined.
SweepFacts GatherSweepFacts(FileSystem& fs, int root_fd, uint64_t root_dev, const Index& index,
                            const GlobSet& globs, uint64_t* seen, std::vector<Problem>* errors);

}  // namespace xoi

#endif  // XOI_LIB_RUN_FACTS_H_
