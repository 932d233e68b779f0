#include "lib/run/xo_daemon.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "lib/core/status.h"
#include "lib/fs/xo_daemon.h"
#include "lib/run/facts.h"

namespace xoi {
namespace {

// The rule's facts: what a path holds now, and whether the index or the plan knows the inode.
class ImportFacts : public XoIndexFacts {
 public:
  ImportFacts(FileSystem& fs, int root_fd, const Index& index, const Plan& plan)
      : paths_(fs, root_fd), index_(index) {
    for (const Action& a : plan.actions) planned_.insert(IdentityOf(a.stat));
  }

  std::optional<FileStat> StatBeneath(const std::string& relative) override {
    return paths_.StatBeneath(relative);
  }

  bool Known(const FileStat& st) override {
    const Identity id = IdentityOf(st);
    // Inserted: an index that names one inode twice (two day folders) imports it once.
    return index_.Find(id) != nullptr || !planned_.insert(id).second;
  }

 private:
  static Identity IdentityOf(const FileStat& st) {
    return Identity{st.ino, absl::ToUnixNanos(st.birth)};
  }

  RemoteUnreachedFacts paths_;
  const Index& index_;
  absl::flat_hash_set<Identity> planned_;
};

}  // namespace

void ImportXoDaemonIndex(FileSystem& fs, const StateDir& state, RemoteSession& session,
                         const RemoteConfig& remote, const Settings& settings, Plan* plan) {
  if (state.XoIndexImported(remote.id)) return;
  const std::string dir = XoDaemonIndexDir(remote.xo_daemon_index, remote.id);
  absl::StatusOr<XoDaemonIndex> read = ReadXoDaemonIndex(fs, dir);
  if (!read.ok()) {
    if (ErrnoOf(read.status()) != ENOENT) {
      plan->warnings.push_back(
          Warning{WarningKind::kIndexEntryUnreadable, "",
                  absl::StrCat("XO's daemon index cannot be read (", read.status().message(),
                               "): what it locked is adopted by the walk; tried again next run")});
    }
    return;
  }
  ImportFacts facts(fs, session.root.get(), *session.index, *plan);
  const XoIndexImport counts =
      PlanXoIndexImport(read->entries, remote.root, dir, session.globs, settings, facts, plan);
  if (read->unreadable > 0) {
    absl::StrAppend(&plan->warnings.back().message, "; ", read->unreadable,
                    " unreadable entries skipped");
  }
  plan->xo_index_imported =
      absl::StrCat(dir, ": ", read->entries.size(), " entries, ", counts.imported, " imported\n");
}

}  // namespace xoi
