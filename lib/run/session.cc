#include "lib/run/session.h"

#include <climits>
#include <cstdlib>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/fs/probes.h"
#include "lib/run/holds.h"

namespace xoi {
namespace {

struct ResolvedRoot {
  const RemoteConfig* remote;
  std::string path;
  FileStat stat;
  std::optional<FilesystemPlace> place;  // unless not asked for, or mountinfo cannot say
};

// Every root that opens, as it resolves now; with `places`, placed in its filesystem too (two
// reads of /proc a root, which only a comparison between roots needs).
std::vector<ResolvedRoot> ResolveRoots(FileSystem& fs, const Config& config, bool places) {
  std::vector<ResolvedRoot> roots;
  for (const RemoteConfig& remote : config.remotes) {
    absl::StatusOr<Fd> fd = fs.OpenDirByPath(remote.root);
    if (!fd.ok()) continue;
    absl::StatusOr<std::string> path = ResolvedPath(fd->get());
    absl::StatusOr<FileStat> st = fs.StatFd(fd->get(), remote.root);
    if (!path.ok() || !st.ok()) continue;
    ResolvedRoot& root = roots.emplace_back(ResolvedRoot{&remote, *path, *st, std::nullopt});
    if (!places) continue;
    if (absl::StatusOr<FilesystemPlace> place = PlaceInFilesystem(fd->get()); place.ok()) {
      root.place = *std::move(place);
    }
  }
  return roots;
}

}  // namespace

std::map<std::string, std::string> OverlappingRoots(FileSystem& fs, const Config& config) {
  const std::vector<ResolvedRoot> roots =
      ResolveRoots(fs, config, /*places=*/config.remotes.size() > 1);
  std::map<std::string, std::string> overlapping;
  for (const ResolvedRoot& a : roots) {
    for (const ResolvedRoot& b : roots) {
      if (a.remote == b.remote) continue;
      // One folder under two names (a bind mount), one path inside the other, or one folder
      // inside the other in their filesystem (a folder of one bind-mounted as the other).
      const bool same = a.stat.dev == b.stat.dev && a.stat.ino == b.stat.ino;
      const bool by_path = IsSameOrBelow(a.path, b.path) || IsSameOrBelow(b.path, a.path);
      // Same st_dev too: btrfs subvolumes share a device in mountinfo, yet a walk never crosses
      // from one into another.
      const bool nested_in_filesystem = a.place && b.place && a.stat.dev == b.stat.dev &&
                                        a.place->device == b.place->device &&
                                        (IsSameOrBelow(a.place->path, b.place->path) ||
                                         IsSameOrBelow(b.place->path, a.place->path));
      if (!same && !by_path && !nested_in_filesystem) continue;
      overlapping.emplace(
          a.remote->id,
          absl::StrCat("its root ", a.remote->root, " leads to ", a.path,
                       same ? ", the same folder as" : " and overlaps", " remote ", b.remote->id,
                       "'s root ", b.remote->root, " (", b.path, ")",
                       same || by_path
                           ? ""
                           : absl::StrCat(" through a bind mount: in filesystem ", a.place->device,
                                          " they are ", a.place->path, " and ", b.place->path),
                       ": one remote's duration would undo the other's; give each remote its "
                       "own tree"));
    }
  }
  return overlapping;
}

std::string IndexInsideARemote(FileSystem& fs, const Config& config) {
  // The folder may not exist yet (a dry run): its nearest existing ancestor says where it goes.
  std::string existing = config.index_path, rest;
  char resolved[PATH_MAX];
  while (realpath(existing.c_str(), resolved) == nullptr) {
    const size_t slash = existing.rfind('/');
    if (errno != ENOENT || slash == std::string::npos || slash == 0) return "";
    rest = absl::StrCat(existing.substr(slash), rest);
    existing.resize(slash);
  }
  const std::string index = absl::StrCat(resolved, rest);
  for (const ResolvedRoot& root : ResolveRoots(fs, config, /*places=*/false)) {
    if (IsSameOrBelow(index, root.path) || IsSameOrBelow(root.path, index)) {
      return absl::StrCat("the index folder ", config.index_path, " leads to ", index,
                          IsSameOrBelow(index, root.path) ? ", inside" : ", around", " remote ",
                          root.remote->id, "'s root (", root.path,
                          "), where whoever writes the remote could remove the index and its "
                          "holds: give indexPath a folder outside every remote");
    }
  }
  return "";
}

std::string PrepareIndex(FileSystem& fs, const Config& config, const StateDir& state, bool create) {
  if (std::string why = IndexInsideARemote(fs, config); !why.empty()) return why;
  absl::Status ready = state.Prepare(create);
  return ready.ok() ? "" : std::string(ready.message());
}

namespace {

// Step 2: the reasons this remote cannot be protected now, or "". Unless `read_only`, records the
// filesystem fingerprint on the first run.
std::string Unusable(FileSystem& fs, const StateDir& state, int root_fd, const RemoteConfig& remote,
                     bool read_only, std::vector<Problem>* errors) {
  const std::vector<std::string> missing = MissingCapabilities();
  if (!missing.empty()) {
    return absl::StrCat("missing capabilit", missing.size() > 1 ? "ies " : "y ",
                        absl::StrJoin(missing, ", "),
                        " (run as root, or grant them to the service)");
  }
  // The configuration refuses system folders by name; a root that is a symlink (or below one) is
  // judged again by where it leads.
  absl::StatusOr<std::string> resolved = ResolvedPath(root_fd);
  if (!resolved.ok()) return std::string(resolved.status().message());
  if (std::string why = SystemFolderReason(*resolved); !why.empty()) {
    return absl::StrCat("the root leads to ", *resolved, ": ", why);
  }
  if (absl::Status s = CheckImmutableSupport(fs, root_fd, remote.root, read_only); !s.ok()) {
    return std::string(s.message());
  }
  if (absl::Status s = CheckMountedReadWrite(root_fd, remote.root); !s.ok()) {
    return std::string(s.message());
  }
  auto identity = IdentifyFilesystem(fs, root_fd, remote.root);
  if (!identity.ok()) return std::string(identity.status().message());
  auto seen = state.ReadFingerprint(remote.id);
  if (!seen.ok()) return std::string(seen.status().message());
  if (seen->has_value() && **seen != identity->current && **seen != identity->legacy) {
    return absl::StrCat("the root is not on the filesystem seen before (", identity->current,
                        ", was ", **seen, "): is the remote's disk mounted? If the remote really ",
                        "moved to another filesystem, remove ", state.RemoteDir(remote.id),
                        "/filesystem");
  }
  // Recorded on the first run, and upgraded from the legacy form the first time it matches.
  if (!read_only && (!seen->has_value() || **seen != identity->current)) {
    // Not being able to record it must not stop protection (a full state disk on the first
    // run): said, and tried again by the next run.
    if (absl::Status written = state.WriteFingerprint(remote.id, identity->current);
        !written.ok()) {
      errors->push_back(Problem{
          "", absl::StrCat("cannot record the filesystem's identity: ", written.message())});
    }
  }
  return "";
}

}  // namespace

std::string CheckRemote(FileSystem& fs, const StateDir& state, const RemoteConfig& remote,
                        std::vector<std::string>* notes) {
  auto root = fs.OpenDirByPath(remote.root);
  if (!root.ok()) return absl::StrCat("root missing or unreadable: ", root.status().message());
  std::vector<Problem> unused;
  std::string why = Unusable(fs, state, root->get(), remote, /*read_only=*/true, &unused);
  // With this process's capabilities (a service without CAP_DAC_OVERRIDE, a root owned by
  // another user): every backup is locked, but XO is never told.
  if (why.empty() && !MayCreateFilesIn(root->get())) {
    notes->push_back(
        "the root is not writable by this process: immutability.json cannot be written there, "
        "so XO is not told the remote is immutable (needs CAP_DAC_OVERRIDE, or a root root may "
        "write in: README, \"Installing and scheduling it\")");
  }
  return why;
}

std::unique_ptr<RemoteSession> OpenRemote(FileSystem& fs, const StateDir& state,
                                          const RemoteConfig& remote, bool dry_run,
                                          RemoteReport* report) {
  report->id = remote.id;
  report->root = remote.root;
  auto unusable = [&](std::string reason) -> std::unique_ptr<RemoteSession> {
    report->state = RemoteState::kUnusable;
    report->unusable_reason = std::move(reason);
    return nullptr;
  };
  auto session = std::make_unique<RemoteSession>();

  // 1. Lock: a manual run and the timer never act on one remote at once. A dry run changes
  //    nothing, so it neither needs nor creates the lock.
  if (absl::Status ready = state.PrepareRemote(remote.id, /*create=*/!dry_run); !ready.ok()) {
    return unusable(absl::IsFailedPrecondition(ready)
                        ? std::string(ready.message())
                        : absl::StrCat("index folder: ", ready.message()));
  }
  if (!dry_run) {
    auto lock = state.LockRemote(remote.id);
    if (absl::IsUnavailable(lock.status())) {
      report->state = RemoteState::kLocked;
      report->unusable_reason = std::string(lock.status().message());
      return nullptr;
    }
    if (!lock.ok()) return unusable(std::string(lock.status().message()));
    session->lock = *std::move(lock);
  }

  // 2. Check.
  auto root = fs.OpenDirByPath(remote.root);
  if (!root.ok()) {
    return unusable(absl::StrCat("root missing or unreadable: ", root.status().message()));
  }
  session->root = *std::move(root);
  if (std::string why = Unusable(fs, state, session->root.get(), remote, dry_run, &report->errors);
      !why.empty()) {
    return unusable(why);
  }
  auto root_stat = fs.StatFd(session->root.get(), remote.root);
  if (!root_stat.ok()) return unusable(std::string(root_stat.status().message()));
  session->root_stat = *root_stat;
  auto index = Index::Open(fs, state.RemoteDir(remote.id), remote.root, /*create=*/!dry_run);
  if (!index.ok()) return unusable(absl::StrCat("index: ", index.status().message()));
  session->index = *std::move(index);
  const std::vector<Warning>& notices = session->index->notices();
  report->warnings.insert(report->warnings.end(), notices.begin(), notices.end());
  if (auto holds = ReadHoldSet(state, remote.id); holds.ok()) {
    session->holds = *std::move(holds);
  } else {
    session->holds_unreadable = absl::StrCat(
        holds.status().message(),
        ": nothing is lifted on this remote until it is repaired (any item may be held)");
  }
  auto globs = GlobSet::Compile(remote.paths);  // validated with the configuration already
  if (!globs.ok()) return unusable(std::string(globs.status().message()));
  session->globs = *std::move(globs);
  return session;
}

}  // namespace xoi
