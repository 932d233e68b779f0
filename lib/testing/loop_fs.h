// Test support: real ext4, XFS and btrfs filesystems on loop devices (root only).
//
// A LoopFilesystem owns a sparse image below a scratch folder, the loop device it is attached to
// and the mount. Its destructor releases all three, even when the test failed: a leaked mount or
// loop device outlives the test process and breaks the next build. Declare it after the
// ScratchDir that holds it, so that it is destroyed first.
//
//   XOI_REQUIRE_LOOP_FS("xfs");
//   ScratchDir scratch;
//   std::string error;
//   auto fs = LoopFilesystem::Create("xfs", scratch.path(), &error);
//   ASSERT_NE(fs, nullptr) << error;
//   ... work below fs->mount_point() ...
#ifndef XOI_LIB_TESTING_LOOP_FS_H_
#define XOI_LIB_TESTING_LOOP_FS_H_

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace xoi::testing {

class LoopFilesystem {
 public:
  // Creates a sparse image <scratch_dir>/<type>.img below `scratch_dir` (a folder the caller owns,
  // e.g. a ScratchDir's path), makes a filesystem of `type` ("ext4", "xfs" or "btrfs") on it
  // (ext4: mkfs.ext4 -q -F, 64 MiB unless told; xfs: mkfs.xfs -q -f, at least 300 MiB; btrfs:
  // mkfs.btrfs -q -f, at least 128 MiB; smaller sizes are raised to the minimum), attaches it with
  // `losetup -f --show`, and mounts it on <scratch_dir>/<type>-mnt. nullptr (with *error set to a
  // message naming the failing command and its stderr) when any step fails; everything done so far
  // is undone. Refuses shallow or system folders ("/", "/tmp", "/etc", "/work/x", a home folder).
  // Paths are canonical (as /proc/mounts and losetup show them). A watchdog process (/bin/sh, in a
  // session of its own) unmounts, detaches and deletes all this should the test process die without
  // running the destructor, e.g. when Bazel kills it at its timeout. The first call moves the
  // process into a mount namespace of its own (KeepMountsToThisProcess).
  static std::unique_ptr<LoopFilesystem> Create(const std::string& type,
                                                const std::string& scratch_dir, std::string* error,
                                                int size_mib = 0);

  // Always, in this order: lifts every immutable and append-only flag below the mount point
  // (removing nothing), unmounts (retrying, at last with `umount -l`), detaches the loop device
  // (and the spare devices of ReattachOnAnotherDevice), deletes the images and the mount point
  // folder when it is empty. Never throws.
  ~LoopFilesystem();

  LoopFilesystem(const LoopFilesystem&) = delete;
  LoopFilesystem& operator=(const LoopFilesystem&) = delete;

  const std::string& type() const { return type_; }
  const std::string& mount_point() const { return mount_point_; }
  const std::string& device() const { return device_; }  // e.g. "/dev/loop3"
  const std::string& image() const { return image_; }
  bool mounted() const { return mounted_; }
  // Why the last call that returned false failed (also printed on stderr).
  const std::string& last_error() const { return last_error_; }

  // Unmounts, leaving the image attached; the mount point becomes an empty folder of the parent
  // filesystem. True when unmounted already.
  bool Unmount();
  // Mounts the attached device again. True when mounted already.
  bool Mount();

  // Detaches the image and attaches it to a DIFFERENT loop device number (occupying the old number
  // with a small spare image for as long as this object lives, since `losetup -f` would otherwise
  // hand back the same number), then mounts it again. This is what a reboot that renumbers the
  // disk looks like. Returns false on failure.
  bool ReattachOnAnotherDevice();

  // ext4 only: sets the birth time (crtime), ctime and mtime of each path (relative to the mount
  // point, no blanks or quotes) to the given Unix time in seconds, with `debugfs -w` on the
  // unmounted device (unmounts, runs one debugfs script for all paths, mounts again). The
  // nanoseconds are left as they were. This is how a test plays an attacker who prepared inodes
  // days ahead. Returns false (and says why on stderr) on failure, also when a time read back after
  // mounting again is not the one set; the filesystem is mounted again in any case when it was
  // mounted before.
  bool SetTimes(const std::vector<std::pair<std::string, int64_t>>& paths_and_unix_seconds);

 private:
  LoopFilesystem() = default;
  bool Fail(const std::string& message);
  bool UnmountNow(bool allow_lazy);
  bool Attach(const std::string& image, std::string* device, std::string* error);
  std::string SparePrefix() const;

  std::string type_;
  std::string scratch_dir_;
  std::string mount_point_;
  std::string device_;
  std::string image_;
  bool mounted_ = false;
  bool created_mount_point_ = false;
  std::vector<std::pair<std::string, std::string>> spares_;  // device, image
  std::string last_error_;
  int watchdog_pid_ = -1;
  int watchdog_fd_ = -1;
};

// Moves this process (and the processes it starts from now on: the program under test, the
// watchdog) into a mount namespace of its own, whose mounts propagate nowhere; once per process,
// true when done already. Without it, every sandbox Bazel starts for another test while one of
// ours is mounted copies that mount into its own namespace and keeps the filesystem alive there:
// `umount` succeeds, yet mounting the device again finds the old superblock, with its inodes
// cached from before a `debugfs` wrote to the device (SetTimes' changes were lost that way).
// Create() calls it; a test that forks before Create() calls it first, so that parent and child
// see the same mounts. False (with *error) when unshare(2) or making "/" private fails.
bool KeepMountsToThisProcess(std::string* error);

// Fills the filesystem holding `dir` until writes fail with ENOSPC (one file, written in 1 MiB
// chunks, extended attributes on it until they fail (btrfs keeps metadata apart), then small files
// until even those fail, and files with names as short as "~0" for the slack of the folder's
// blocks), leaving existing files untouched; repeats after a sync until nothing more fits. The new
// files are xoi-fill-<pid>-<n> and ~<n> in `dir`. Afterwards creating a file in `dir` fails with
// ENOSPC (in a folder of one block; a big hashed folder may still have room in some block). Refuses
// (returns false) unless `dir` is on a loop device, so that a mistake cannot fill the machine's
// disk. Gives up (false) after 60 s. Returns false if it could not fill it.
bool FillFilesystem(const std::string& dir);

// The source of the mount that holds `path` (e.g. "/dev/loop3"), from /proc/self/mountinfo; empty
// when unknown.
std::string MountSourceOf(const std::string& path);

// Empty when loop filesystems of `type` can be made here: root, /dev/loop-control, and the tools
// (losetup, mount, umount, mkfs.<type>, debugfs for ext4). Else why not.
std::string LoopFilesystemUnavailable(const std::string& type);

}  // namespace xoi::testing

// For tests that need a loop filesystem of `type`: outside CI, skips (with a message) when not
// root or when a needed tool is missing; in CI (CI set in the environment), fails instead.
#define XOI_REQUIRE_LOOP_FS(type)                                                              \
  do {                                                                                         \
    const std::string xoi_loop_fs_missing = ::xoi::testing::LoopFilesystemUnavailable(type);   \
    if (!xoi_loop_fs_missing.empty()) {                                                        \
      if (getenv("CI") != nullptr) FAIL() << "CI must run this test: " << xoi_loop_fs_missing; \
      GTEST_SKIP() << xoi_loop_fs_missing;                                                     \
    }                                                                                          \
  } while (0)

#endif  // XOI_LIB_TESTING_LOOP_FS_H_
