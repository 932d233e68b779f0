#include "lib/fs/walker.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "lib/core/status.h"
#include "lib/core/xo_layout.h"
#include "lib/fs/helper_threads.h"

namespace xoi {
namespace {

std::string Join(absl::string_view dir, absl::string_view name) {
  return dir.empty() ? std::string(name) : absl::StrCat(dir, "/", name);
}

// A directory to list, or (with `entries`) a share of a large directory's listing to examine: a
// folder of a million names is examined by every worker, not only by the one that lists it.
struct Task {
  std::string path;
  GlobSet::State state;
  std::vector<std::pair<std::string, unsigned char>> entries;  // name, getdents' d_type
};

// Entries of one directory examined together; a full share goes to an idle worker if there is one.
constexpr size_t kShare = 512;

// The shared work stack and the termination rule: the walk is over when the stack is empty and no
// worker is still listing a directory (which could push more).
class WorkStack {
 public:
  void Push(Task task) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }
  // Blocks until a task is available (returns true) or the walk is over (returns false).
  bool Pop(Task* task) {
    std::unique_lock<std::mutex> lock(mu_);
    --busy_;
    if (tasks_.empty() && busy_ == 0) cv_.notify_all();
    ++waiting_;
    cv_.wait(lock, [&] { return !tasks_.empty() || busy_ == 0; });
    --waiting_;
    if (tasks_.empty()) return false;
    *task = std::move(tasks_.back());
    tasks_.pop_back();
    ++busy_;
    return true;
  }
  void SetWorkers(int n) { busy_ = n; }
  // A worker counted in SetWorkers that will never come (its thread was refused).
  void Absent() {
    std::lock_guard<std::mutex> lock(mu_);
    --busy_;
    if (tasks_.empty() && busy_ == 0) cv_.notify_all();
  }
  // Whether a worker is waiting for work that no task on the stack will give it.
  bool HasIdleWorker() {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<size_t>(waiting_) > tasks_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Task> tasks_;
  int busy_ = 0;
  int waiting_ = 0;
};

class Walker {
 public:
  Walker(FileSystem& fs, int root_fd, const GlobSet& globs, WalkVisitor* visitor, uint64_t root_dev)
      : fs_(fs), root_fd_(root_fd), globs_(globs), visitor_(visitor), root_dev_(root_dev) {}

  WalkStats Run(int jobs) {
    stack_.Push(Task{"", globs_.Start()});
    stack_.SetWorkers(jobs);
    std::vector<WalkStats> stats(static_cast<size_t>(jobs));
    HelperThreads helpers;
    int w = 1;
    while (w < jobs && helpers.Start([&, w] { Work(w, &stats[w]); })) ++w;
    for (; w < jobs; ++w) stack_.Absent();  // refused once, the next would be refused too
    Work(0, &stats[0]);
    helpers.JoinAll();
    WalkStats total;
    for (const WalkStats& s : stats) {
      total.dirs_listed += s.dirs_listed;
      total.literal_lookups += s.literal_lookups;
      total.statx_calls += s.statx_calls;
    }
    return total;
  }

 private:
  void Work(int worker, WalkStats* stats) {
    Task task;
    std::vector<std::string> literals;
    GlobSet::Step step;
    while (stack_.Pop(&task)) {
      auto dir = fs_.OpenBeneath(root_fd_, task.path, O_RDONLY | O_DIRECTORY);
      if (!dir.ok()) {
        ReportOpenFailure(worker, task.path, dir.status());
        continue;
      }
      const int dir_fd = dir->get();
      if (!task.entries.empty()) {
        for (const auto& [name, type] : task.entries) {
          Visit(worker, stats, dir_fd, task, name, type, &step);
        }
        continue;
      }
      if (globs_.LiteralChildren(task.state, &literals)) {
        for (const std::string& name : literals) {
          ++stats->literal_lookups;
          Visit(worker, stats, dir_fd, task, name, DT_UNKNOWN, &step);
        }
        continue;
      }
      ++stats->dirs_listed;
      Task share{task.path, task.state, {}};
      auto examine = [&] {
        if (share.entries.size() == kShare && stack_.HasIdleWorker()) {
          stack_.Push(std::exchange(share, Task{task.path, task.state, {}}));
          return;
        }
        for (const auto& [name, type] : share.entries) {
          Visit(worker, stats, dir_fd, task, name, type, &step);
        }
        share.entries.clear();
      };
      const absl::Status listed =
          fs_.ListDir(dir_fd, task.path, [&](absl::string_view name, unsigned char type) {
            share.entries.emplace_back(name, type);
            if (share.entries.size() == kShare) examine();
            return true;
          });
      examine();
      if (!listed.ok() && ErrnoOf(listed) != ENOENT) visitor_->OnError(worker, task.path, listed);
    }
  }

  void ReportOpenFailure(int worker, const std::string& path, const absl::Status& status) {
    switch (ErrnoOf(status)) {
      case ENOENT:
        return;  // deleted while we walked: XO removing an old backup
      case ELOOP:
        visitor_->OnRefused(worker, path, "symlink, not followed");
        return;
      case EXDEV:
        visitor_->OnRefused(worker, path, "another filesystem is mounted here, not descended");
        return;
      case ENOTDIR:
        return;  // replaced by a file since it was listed
      default:
        visitor_->OnError(worker, path, status);
    }
  }

  // Examines one directory entry: pruned by name first, statx only when it may be an item.
  void Visit(int worker, WalkStats* stats, int dir_fd, const Task& task, absl::string_view name,
             unsigned char type, GlobSet::Step* step) {
    globs_.Advance(task.state, name, step);
    const bool may_be_item = step->file_item || step->tree_item;
    if (!may_be_item && !step->descend()) return;
    const std::string path = Join(task.path, name);
    // A backup folder of XO's layout is an item taken whole when XO's daemon locked it: its flag
    // is needed.
    const bool backup_folder = !may_be_item && IsXoBackupFolder(path);
    if (!may_be_item && !backup_folder && type == DT_DIR) {  // getdents' type is enough
      stack_.Push(Task{path, step->next});
      return;
    }
    if (!may_be_item && type != DT_UNKNOWN && type != DT_LNK && type != DT_DIR) return;
    ++stats->statx_calls;
    const std::string name_z(name);
    auto st = fs_.StatAt(dir_fd, name_z.c_str(), path);
    if (!st.ok()) {
      if (ErrnoOf(st.status()) != ENOENT) visitor_->OnError(worker, path, st.status());
      return;
    }
    if (st->is_symlink()) {
      visitor_->OnRefused(worker, path, "symlink, not followed");
      return;
    }
    if (st->dev != root_dev_) {
      visitor_->OnRefused(worker, path, "on another filesystem, not followed");
      return;
    }
    if (st->mount_root) {
      visitor_->OnRefused(worker, path, "something is mounted here (a bind mount), not followed");
      return;
    }
    if (st->is_dir() && (step->tree_item || (backup_folder && st->immutable))) {
      visitor_->OnItem(worker, Candidate{path, *st, /*tree=*/true});
      return;
    }
    if (st->is_dir() && step->descend()) {
      stack_.Push(Task{path, step->next});
      return;
    }
    if (st->is_regular() && step->file_item) {
      visitor_->OnItem(worker, Candidate{path, *st, /*tree=*/false});
      return;
    }
    if (may_be_item) {
      visitor_->OnRefused(worker, path,
                          absl::StrCat(FileTypeName(st->mode), " where a backup ",
                                       step->tree_item ? "directory" : "file", " is expected"));
    }
  }

  FileSystem& fs_;
  const int root_fd_;
  const GlobSet& globs_;
  WalkVisitor* const visitor_;
  const uint64_t root_dev_;
  WorkStack stack_;
};

// One entry `name` of the tree's folder `dir_fd` (named `path`, `depth` levels below the top): a
// regular file (as getdents types it) goes to visit.regular_file when that is set; anything else
// is examined and handed to `take` as a member, with whether the walk goes into it (a folder of the
// tree's device, within reach, that visit.enter lets in). Returns false when the walk stops.
bool VisitEntry(FileSystem& fs, int dir_fd, const std::string& path, int depth,
                absl::string_view name_view, unsigned char type, uint64_t dev,
                const TreeVisit& visit,
                absl::FunctionRef<bool(const Member& member, bool enter)> take) {
  const std::string name(name_view);
  std::string member_path = Join(path, name);
  if (type == DT_REG && visit.regular_file) {
    return visit.regular_file(dir_fd, name.c_str(), member_path);
  }
  absl::StatusOr<FileStat> st = fs.StatAt(dir_fd, name.c_str(), member_path);
  if (!st.ok()) {
    if (ErrnoOf(st.status()) != ENOENT) visit.error(member_path, st.status());
    return true;
  }
  const bool beyond_reach =
      st->is_dir() && (depth + 1 > kMaxTreeDepth || member_path.size() >= PATH_MAX);
  const Member member{dir_fd, name.c_str(), std::move(member_path), *st, beyond_reach};
  return take(member, st->is_dir() && st->dev == dev && !st->mount_root && !beyond_reach &&
                          (!visit.enter || visit.enter(member)));
}

// The folder `expected` of a tree, reopened (`opened`) to be listed, if it is still that folder;
// nullopt when it vanished, was swapped meanwhile, or cannot be examined (told to visit.error:
// its members would go unvisited, which is never silent).
std::optional<Fd> ReopenChecked(FileSystem& fs, absl::StatusOr<Fd> opened, const std::string& path,
                                const FileStat& expected, const TreeVisit& visit) {
  if (!opened.ok()) {
    if (ErrnoOf(opened.status()) != ENOENT) visit.error(path, opened.status());
    return std::nullopt;
  }
  absl::StatusOr<FileStat> again = fs.StatFd(opened->get(), path);
  if (!again.ok()) {
    visit.error(path, again.status());
    return std::nullopt;
  }
  if (!again->SameIdentity(expected)) return std::nullopt;
  return *std::move(opened);
}

absl::Status WalkTreeAt(FileSystem& fs, int dir_fd, const std::string& path, uint64_t dev,
                        int depth, const TreeVisit& visit, bool* stopped) {
  // Members are visited as the listing returns them, never collected first: a VHD directory of a
  // 2 TB disk holds a million blocks in one folder, and their names alone would take tens of MB.
  return fs.ListDir(dir_fd, path, [&](absl::string_view name, unsigned char type) {
    const bool go_on = VisitEntry(
        fs, dir_fd, path, depth, name, type, dev, visit, [&](const Member& member, bool enter) {
          if (enter) {
            std::optional<Fd> sub = ReopenChecked(
                fs, fs.OpenAt(dir_fd, member.name, O_RDONLY | O_DIRECTORY, member.path),
                member.path, member.stat, visit);
            if (sub) {
              absl::Status walked =
                  WalkTreeAt(fs, sub->get(), member.path, dev, depth + 1, visit, stopped);
              if (!walked.ok()) visit.error(member.path, walked);
            }
            if (*stopped) return false;
          }
          return visit.member(member);
        });
    if (!go_on) *stopped = true;
    return go_on;
  });
}

// WalkTree's work shared between threads. The folders `enter` lets in are queued by their path
// below the top, not by descriptor (a tree of a million blocks has thousands of folders), with the
// identity they had then; a worker opens one beneath the top (no symlink, no other mount) and lists
// it only if it is still that folder. A LIFO: depth first, so the queue stays as wide as the tree.
// The calling thread walks alone until folders wait in the queue: most trees are VHD directories
// of a few folders, walked by the thousand from the run's own worker threads, for which starting
// a thread each cost more than their walk (and kept a stack each in glibc's cache).
class SharedTreeWalk {
 public:
  SharedTreeWalk(FileSystem& fs, int top_fd, const std::string& top_path, uint64_t dev,
                 const TreeVisit& visit)
      : fs_(fs), top_fd_(top_fd), top_path_(top_path), dev_(dev), visit_(visit) {}

  absl::Status Run(int threads) {
    pending_.push_back(Folder{"", FileStat{}, 0});
    busy_ = 1;
    helpers_wanted_ = threads - 1;
    Work();
    // A stopped walk ends its workers while others may still be busy, one of them perhaps
    // starting a helper: the helpers are joined once every worker is out.
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return busy_ == 0; });
    }
    helpers_.JoinAll();
    return top_status_;
  }

 private:
  struct Folder {
    std::string relative;  // below the top; "" is the top
    FileStat stat;         // when it was entered
    int depth = 0;
  };

  bool Pop(Folder* folder) {
    std::unique_lock<std::mutex> lock(mu_);
    --busy_;
    if (busy_ == 0) cv_.notify_all();
    cv_.wait(lock, [&] { return !pending_.empty() || busy_ == 0 || stopped_; });
    if (pending_.empty() || stopped_) return false;
    *folder = std::move(pending_.back());
    pending_.pop_back();
    ++busy_;
    return true;
  }

  void Push(Folder folder) {
    bool start_helper = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.push_back(std::move(folder));
      // Two folders waiting: the tree has work for another thread.
      if (pending_.size() >= 2 && helpers_wanted_ > 0 && !stopped_) {
        --helpers_wanted_;
        ++busy_;  // until its first Pop, like the calling thread
        start_helper = true;
      }
    }
    cv_.notify_one();
    // Started outside the lock, which the other workers need meanwhile. The pushing worker is
    // busy, so Run cannot join before the helper is in helpers_.
    if (!start_helper) return;
    std::lock_guard<std::mutex> lock(start_mu_);
    if (helpers_.Start([this] { Work(); })) return;
    std::lock_guard<std::mutex> queue_lock(mu_);
    --busy_;              // the pusher's own count keeps it above 0
    helpers_wanted_ = 0;  // refused once: the next start would be refused too
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
  }

  void Work() {
    Folder folder;
    while (Pop(&folder)) {
      const bool top = folder.relative.empty();
      const std::string path = top ? top_path_ : Join(top_path_, folder.relative);
      std::optional<Fd> opened;
      if (!top) {
        opened =
            ReopenChecked(fs_, fs_.OpenBeneath(top_fd_, folder.relative, O_RDONLY | O_DIRECTORY),
                          path, folder.stat, visit_);
        if (!opened) continue;
      }
      const int dir_fd = top ? top_fd_ : opened->get();
      const absl::Status listed =
          fs_.ListDir(dir_fd, path, [&](absl::string_view name, unsigned char type) {
            if (stopped()) return false;
            if (Visit(folder, dir_fd, path, name, type)) return true;
            Stop();
            return false;
          });
      if (listed.ok()) continue;
      if (top) {
        top_status_ = listed;
      } else if (ErrnoOf(listed) != ENOENT) {
        visit_.error(path, listed);
      }
    }
  }

  // One entry of `folder` (open as `dir_fd`, named `path`); false: the walk stops.
  bool Visit(const Folder& folder, int dir_fd, const std::string& path, absl::string_view name,
             unsigned char type) {
    return VisitEntry(
        fs_, dir_fd, path, folder.depth, name, type, dev_, visit_,
        [&](const Member& member, bool enter) {
          if (enter) {
            Push(Folder{Join(folder.relative, member.name), member.stat, folder.depth + 1});
          }
          return visit_.member(member);
        });
  }

  bool stopped() const { return stopped_.load(std::memory_order_relaxed); }

  FileSystem& fs_;
  const int top_fd_;
  const std::string& top_path_;
  const uint64_t dev_;
  const TreeVisit& visit_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Folder> pending_;
  int busy_ = 0;
  int helpers_wanted_ = 0;            // still to start
  std::mutex start_mu_;               // serialises helpers_'s starts
  HelperThreads helpers_;             // joined by Run, once no worker is busy
  std::atomic<bool> stopped_{false};  // set under mu_, read anywhere
  absl::Status top_status_;           // written only by the worker that lists the top
};

}  // namespace

WalkStats Walk(FileSystem& fs, int root_fd, const GlobSet& globs, int jobs, WalkVisitor* visitor) {
  auto root = fs.StatFd(root_fd, "(remote root)");
  if (!root.ok()) {
    visitor->OnError(0, "", root.status());
    return WalkStats{};
  }
  Walker walker(fs, root_fd, globs, visitor, root->dev);
  return walker.Run(jobs < 1 ? 1 : jobs);
}

std::string WhyLeftAsItIs(const FileStat& member, bool beyond_reach, uint64_t dev) {
  if (beyond_reach) return kBeyondReach;
  if (member.dev != dev) return "on another filesystem";
  if (member.mount_root) return "something is mounted here";
  if (!member.is_regular() && !member.is_dir())
    return absl::StrCat("a ", FileTypeName(member.mode));
  if (member.is_regular() && member.nlink > 1) return absl::StrCat(member.nlink, " hard links");
  return "";
}

absl::Status WalkTree(FileSystem& fs, int dir_fd, const std::string& path, uint64_t dev,
                      const TreeVisit& visit) {
  bool stopped = false;
  return WalkTreeAt(fs, dir_fd, path, dev, 0, visit, &stopped);
}

absl::Status WalkTreeShared(FileSystem& fs, int dir_fd, const std::string& path, uint64_t dev,
                            const TreeVisit& visit, int threads) {
  if (threads <= 1) return WalkTree(fs, dir_fd, path, dev, visit);
  SharedTreeWalk walk(fs, dir_fd, path, dev, visit);
  return walk.Run(threads);
}

}  // namespace xoi
