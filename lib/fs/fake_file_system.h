// A FileSystem for unit tests that need neither root nor luck: it works on a real scratch tree
// (through RealFileSystem), but keeps inode flags and leases in memory, so that tests can lock and
// lift without CAP_LINUX_IMMUTABLE, and it fails chosen calls with chosen errors (EIO, ENOSPC,
// EPERM, ENOENT for a file that vanished, ...), the way LevelDB's fault-injecting Env does.
//
// Thread-safe.
#ifndef XOI_LIB_FS_FAKE_FILE_SYSTEM_H_
#define XOI_LIB_FS_FAKE_FILE_SYSTEM_H_

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "lib/fs/file_system.h"

namespace xoi {

class FakeFileSystem : public FileSystem {
 public:
  // The calls a fault can be injected into.
  enum class Op {
    kStat,      // StatAt, StatFd
    kOpen,      // OpenBeneath, OpenAt, CreateAt, OpenDirByPath
    kList,      // ListDir
    kRead,      // ReadSmallFile, PRead
    kSetFlag,   // SetInodeFlag
    kGetFlags,  // GetInodeFlags
    kLease,     // TakeReadLease
    kWrite,     // WriteFileAtomic(From), Append
    kMakeDir,   // MakeDir
    kUnlink,    // Unlink, Rename
    kSync,      // SyncFilesystem
  };

  // Makes the next `times` calls of `op` whose path (as the caller names it, for errors) contains
  // `path_part` fail with `err`. Rules are tried in the order they were added.
  void Fail(Op op, std::string path_part, int err, int times = 1);
  // The same for calls whose path is exactly `path` (a tree's directory, not its members).
  void FailExactly(Op op, std::string path, int err, int times = 1);

  // Runs `strike` just before the next `times` calls of `op` whose path contains `path_part` (a
  // writer who strikes exactly between the program's last look and its action).
  void Before(Op op, std::string path_part, std::function<void()> strike, int times = 1);

  // Makes every read lease on a path containing `path_part` fail with EAGAIN (a writer has it).
  void HoldOpenForWriting(std::string path_part);

  // Makes SetInodeFlag on a path containing `path_part` report success and change nothing, as a
  // filesystem that ignores the request does; asked to read the flags back, it fails as the real
  // one then does (EOPNOTSUPP).
  void IgnoreFlagRequests(std::string path_part);

  // The simulated immutable flag of the inode at `path` (absolute), as this filesystem sees it.
  bool IsImmutable(const std::string& path);
  // Sets the simulated flag directly, as root's `chattr` would behind the program's back.
  void SetImmutableByPath(const std::string& path, bool on);

  // How many calls of `op` were made (faulty or not).
  int Calls(Op op);

  absl::StatusOr<FileStat> StatAt(int dirfd, const char* name,
                                  absl::string_view path_for_errors) override;
  absl::StatusOr<FileStat> StatFd(int fd, absl::string_view path_for_errors) override;
  absl::StatusOr<Fd> OpenBeneath(int root_fd, absl::string_view relative, int flags) override;
  absl::StatusOr<Fd> OpenAt(int dirfd, const char* name, int flags,
                            absl::string_view path_for_errors) override;
  absl::StatusOr<Fd> CreateAt(int dirfd, const char* name, int flags, mode_t mode,
                              absl::string_view path_for_errors) override;
  absl::StatusOr<Fd> OpenDirByPath(const std::string& path) override;
  absl::Status ListDir(int dirfd, absl::string_view path_for_errors, const ListFn& fn) override;
  absl::StatusOr<std::string> ReadSmallFile(int dirfd, const char* name, size_t max_bytes,
                                            absl::string_view path_for_errors) override;
  absl::Status Append(int fd, absl::string_view content,
                      absl::string_view path_for_errors) override;
  absl::Status PRead(int fd, uint64_t offset, char* buffer, size_t size,
                     absl::string_view path_for_errors) override;
  absl::StatusOr<int> GetInodeFlags(int fd, absl::string_view path_for_errors) override;
  absl::StatusOr<bool> SetInodeFlag(int fd, int flag, bool on, bool read_back,
                                    absl::string_view path_for_errors) override;
  void WaitForInodeLock(int fd, mode_t mode) override;
  absl::Status TakeReadLease(int fd, absl::string_view path_for_errors) override;
  absl::Status WriteFileAtomicFrom(int dirfd, const std::string& name,
                                   absl::FunctionRef<absl::Status(ContentWriter)> produce,
                                   mode_t mode, bool sync,
                                   absl::string_view path_for_errors) override;
  absl::Status MakeDir(int dirfd, const char* name, mode_t mode,
                       absl::string_view path_for_errors) override;
  absl::Status Rename(int dirfd, const char* from, const char* to,
                      absl::string_view path_for_errors) override;
  absl::Status Unlink(int dirfd, const char* name, int flags,
                      absl::string_view path_for_errors) override;
  absl::Status SyncFilesystem(int fd, absl::string_view path_for_errors) override;

 private:
  struct Fault {
    Op op;
    std::string path_part;
    int err;  // 0: run `strike` instead of failing
    int times;
    std::function<void()> strike;
    bool exact = false;  // the whole path must equal path_part
  };
  using InodeKey = std::pair<uint64_t, uint64_t>;  // device, inode

  // The injected error for this call, or OK (and counts the call).
  absl::Status Injected(Op op, absl::string_view path);
  absl::StatusOr<FileStat> WithFlags(absl::StatusOr<FileStat> st);

  FileSystem& real_ = RealFileSystem();
  std::mutex mu_;
  std::vector<Fault> faults_;
  std::vector<std::string> busy_;
  std::vector<std::string> ignored_;
  std::map<InodeKey, int> flags_;
  std::map<Op, int> calls_;
};

}  // namespace xoi

#endif  // XOI_LIB_FS_FAKE_FILE_SYSTEM_H_
