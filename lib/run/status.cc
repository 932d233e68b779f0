#include "lib/run/status.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lib/core/glob_set.h"
#include "lib/core/rules.h"
#include "lib/core/status.h"
#include "lib/core/xo_layout.h"
#include "lib/fs/index.h"
#include "lib/fs/probes.h"
#include "lib/fs/walker.h"
#include "lib/run/facts.h"
#include "lib/run/holds.h"

namespace xoi {
namespace {

constexpr size_t kMaxMetadataSize = size_t{16} << 20;

// Collects the VM backup items the walk finds, by VM and by run timestamp.
class Collector : public WalkVisitor {
 public:
  Collector(RunFacts& runs, const Index* index, absl::Duration duration, const std::string& only_vm,
            const HoldSet& holds)
      : runs_(runs), index_(index), duration_(duration), only_vm_(only_vm), holds_(holds) {}

  void OnItem(int, Candidate item) override {
    const std::vector<const Hold*> covering = holds_.Covering(item.path, IdentityOf(item.stat));
    if (item.stat.immutable && !covering.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      for (const Hold* hold : covering) ++locked_items_held_[hold->id];
    }
    const std::vector<std::string> parts = absl::StrSplit(item.path, '/');
    if (parts.size() < 3 || parts[0] != "xo-vm-backups") return;
    if (!only_vm_.empty() && parts[1] != only_vm_) return;
    const std::string dt = RunOf(item.path, item.tree, runs_);
    if (dt.empty()) return;
    BackupFile file{item.path + (item.tree ? "/" : ""), item.stat.immutable, ExpiryOf(item.stat)};
    for (const Hold* hold : covering) file.held_by.push_back(hold->id);
    std::lock_guard<std::mutex> lock(mu_);
    files_[parts[1]][dt].push_back(std::move(file));
  }
  // What the runs go by: the reference its record keeps (the newest change when it was locked,
  // raised by the clock's lag), not its birth; for an item not recorded yet, its ctime, where
  // the next run's adoption counts from.
  absl::Time ExpiryOf(const FileStat& st) const {
    const RecordSummary* record = index_ != nullptr ? index_->Find(IdentityOf(st)) : nullptr;
    const absl::Time reference =
        record != nullptr && !record->lifted() ? record->reference() : st.ctime;
    return ItemExpiresAt(reference, Settings{duration_});
  }

  void OnRefused(int, const std::string&, const std::string&) override {}
  void OnError(int, const std::string&, const absl::Status&) override {}

  std::map<std::string, std::map<std::string, std::vector<BackupFile>>>& files() { return files_; }
  std::map<uint64_t, uint64_t>& locked_items_held() { return locked_items_held_; }

 private:
  RunFacts& runs_;
  const Index* const index_;  // null when there is none yet
  const absl::Duration duration_;
  const std::string only_vm_;
  const HoldSet& holds_;
  std::mutex mu_;
  std::map<std::string, std::map<std::string, std::vector<BackupFile>>> files_;
  std::map<uint64_t, uint64_t> locked_items_held_;
};

}  // namespace

RemoteStatus ReadBackupStatus(FileSystem& fs, const StateDir& state, const RemoteConfig& remote,
                              const std::string& vm, int jobs) {
  RemoteStatus status{remote.id, remote.root};
  status.only_vm = vm;
  // Read without the lock: the hold file is replaced atomically.
  if (auto holds = ReadHoldSet(state, remote.id); holds.ok()) {
    status.holds = *std::move(holds);
  } else {
    status.holds_error = std::string(holds.status().message());
  }
  auto root = fs.OpenDirByPath(remote.root);
  if (!root.ok()) {
    status.error = std::string(root.status().message());
    return status;
  }
  // Nothing there can be locked: "nothing protected" would read as the runs' failure, not the
  // filesystem's.
  if (absl::Status support =
          CheckImmutableSupport(fs, root->get(), remote.root, /*read_only=*/true);
      !support.ok()) {
    status.error = std::string(support.message());
    return status;
  }
  auto globs = GlobSet::Compile(remote.paths);
  if (!globs.ok()) {
    status.error = std::string(globs.status().message());
    return status;
  }
  // Read without the lock: every day file is replaced atomically.
  std::unique_ptr<Index> index;
  if (auto opened = Index::Open(fs, state.RemoteDir(remote.id), remote.root, /*create=*/false);
      opened.ok()) {
    index = *std::move(opened);
  } else if (ErrnoOf(opened.status()) != ENOENT) {
    status.error = std::string(opened.status().message());
    return status;
  }
  RemoteRunFacts runs(fs, root->get());
  Collector collector(runs, index.get(), remote.immutability_duration, vm, status.holds);
  Walk(fs, root->get(), *globs, jobs, &collector);
  status.locked_items_held = std::move(collector.locked_items_held());
  for (auto& [uuid, runs_by_dt] : collector.files()) {
    VmStatus vm_status;
    vm_status.uuid = uuid;
    for (auto& [dt, files] : runs_by_dt) {
      BackupRun run;
      run.timestamp = dt;
      std::sort(files.begin(), files.end(),
                [](const BackupFile& a, const BackupFile& b) { return a.path < b.path; });
      run.files = std::move(files);
      const std::string metadata = absl::StrCat("xo-vm-backups/", uuid, "/", dt, ".json");
      ReadRunKind(fs.ReadSmallFile(root->get(), metadata.c_str(), kMaxMetadataSize, metadata),
                  &run);
      vm_status.runs.push_back(std::move(run));
    }
    Summarise(&vm_status);
    status.vms.push_back(std::move(vm_status));
  }
  return status;
}

}  // namespace xoi
