#include "lib/testing/loop_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lib/testing/scratch.h"

namespace xoi::testing {
namespace {

constexpr uint32_t kExt4Magic = 0xEF53;
constexpr uint32_t kXfsMagic = 0x58465342;
constexpr uint32_t kBtrfsMagic = 0x9123683E;

std::string Trim(const std::string& s) {
  const size_t end = s.find_last_not_of(" \t\r\n");
  return end == std::string::npos ? "" : s.substr(0, end + 1);
}

std::string Canonical(const std::string& path) { return std::filesystem::canonical(path).string(); }

uint32_t FsMagic(const std::string& path) {
  struct statfs s;
  return statfs(path.c_str(), &s) == 0 ? static_cast<uint32_t>(s.f_type) : 0;
}

uint64_t FsId(const std::string& path) {
  struct statfs s;
  if (statfs(path.c_str(), &s) != 0) return 0;
  return static_cast<uint64_t>(static_cast<uint32_t>(s.f_fsid.__val[1])) << 32 |
         static_cast<uint32_t>(s.f_fsid.__val[0]);
}

// The inode flags of `path`, -1 on error.
int GetFlags(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return -1;
  int flags = 0;
  const bool ok = ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  close(fd);
  return ok ? flags : -1;
}

// Sets or clears `flag` with FS_IOC_SETFLAGS.
bool ChangeFlag(const std::string& path, int flag, bool on) {
  const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  int flags = 0;
  bool ok = ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  if (ok) {
    flags = on ? flags | flag : flags & ~flag;
    ok = ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
  }
  close(fd);
  return ok;
}

// The loop devices whose backing file is `image` (sysfs still shows a detached-but-held device,
// and `losetup -j` misses devices whose image was deleted).
std::vector<std::string> LoopDevicesBacking(const std::string& image) {
  std::vector<std::string> devices;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/block", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("loop", 0) != 0) continue;
    const std::string backing = Trim(ReadFile(entry.path().string() + "/loop/backing_file"));
    if (backing == image || backing == image + " (deleted)") devices.push_back("/dev/" + name);
  }
  return devices;
}

bool InProcMounts(const std::string& mount_point) {
  std::ifstream in("/proc/mounts");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string source, point;
    fields >> source >> point;
    if (point == mount_point) return true;
  }
  return false;
}

std::string Losetup() {
  for (const char* path : {"/usr/sbin/losetup", "/sbin/losetup", "/usr/bin/losetup"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return "losetup";
}

void ExpectReleased(const std::string& image, const std::string& mount_point) {
  const ProcessResult j = RunProcess({Losetup(), "-j", image});
  EXPECT_EQ(j.out, "") << "losetup -j " << image;
  EXPECT_EQ(LoopDevicesBacking(image), std::vector<std::string>{}) << image;
  EXPECT_FALSE(InProcMounts(mount_point)) << mount_point;
  EXPECT_FALSE(std::filesystem::exists(image)) << image;
  EXPECT_FALSE(std::filesystem::exists(mount_point)) << mount_point;
}

struct Times {
  int64_t btime = -1, ctime = -1, mtime = -1;
};

Times TimesOf(const std::string& path) {
  struct statx sx;
  Times t;
  if (statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BTIME | STATX_CTIME | STATX_MTIME,
            &sx) != 0) {
    return t;
  }
  if (sx.stx_mask & STATX_BTIME) t.btime = sx.stx_btime.tv_sec;
  t.ctime = sx.stx_ctime.tv_sec;
  t.mtime = sx.stx_mtime.tv_sec;
  return t;
}

// Everything a test of the product does with one type: the filesystem is what it claims, flags
// work, unmount and mount, renumbering, and the release even with immutable inodes left.
void ExerciseType(const std::string& type, uint32_t magic) {
  ScratchDir scratch;
  std::string image, mount_point, first_device, second_device;
  {
    std::string error;
    const auto started = std::chrono::steady_clock::now();
    auto fs = LoopFilesystem::Create(type, scratch.path(), &error);
    ASSERT_NE(fs, nullptr) << error;
    std::cerr << type << ": Create took "
              << std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - started)
                     .count()
              << " ms\n";
    image = fs->image();
    mount_point = fs->mount_point();
    first_device = fs->device();
    EXPECT_EQ(fs->type(), type);
    EXPECT_EQ(mount_point, Canonical(scratch.path()) + "/" + type + "-mnt");
    EXPECT_EQ(image, Canonical(scratch.path()) + "/" + type + ".img");
    EXPECT_EQ(first_device.rfind("/dev/loop", 0), 0u) << first_device;
    EXPECT_TRUE(fs->mounted());
    EXPECT_TRUE(InProcMounts(mount_point));
    EXPECT_EQ(LoopDevicesBacking(image), std::vector<std::string>{first_device});
    EXPECT_EQ(Trim(RunProcess({Losetup(), "-j", image}).out).rfind(first_device + ":", 0), 0u);
    EXPECT_EQ(MountSourceOf(mount_point), first_device);
    EXPECT_EQ(FsMagic(mount_point), magic) << std::hex << FsMagic(mount_point);

    // A file, locked and unlocked with FS_IOC_SETFLAGS.
    const std::string file = mount_point + "/backup.xva";
    WriteFile(file, "content");
    ASSERT_EQ(ReadFile(file), "content");
    ASSERT_TRUE(ChangeFlag(file, FS_IMMUTABLE_FL, true)) << strerror(errno);
    EXPECT_NE(GetFlags(file) & FS_IMMUTABLE_FL, 0);
    errno = 0;
    EXPECT_LT(open(file.c_str(), O_WRONLY | O_CLOEXEC), 0);
    EXPECT_EQ(errno, EPERM);
    EXPECT_NE(unlink(file.c_str()), 0);
    ASSERT_TRUE(ChangeFlag(file, FS_IMMUTABLE_FL, false)) << strerror(errno);
    EXPECT_EQ(GetFlags(file) & FS_IMMUTABLE_FL, 0);
    const int fd = open(file.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    if (fd >= 0) close(fd);

    // Unmounted: the mount point is an empty folder of the parent; the device stays attached.
    ASSERT_TRUE(fs->Unmount()) << fs->last_error();
    EXPECT_FALSE(fs->mounted());
    EXPECT_FALSE(InProcMounts(mount_point));
    EXPECT_TRUE(std::filesystem::is_empty(mount_point));
    EXPECT_NE(MountSourceOf(mount_point), first_device);
    EXPECT_EQ(LoopDevicesBacking(image), std::vector<std::string>{first_device});
    ASSERT_TRUE(fs->Mount()) << fs->last_error();
    EXPECT_TRUE(InProcMounts(mount_point));
    EXPECT_EQ(ReadFile(file), "content");

    // Renumbered, as after a reboot.
    const uint64_t fsid_before = FsId(mount_point);
    ASSERT_TRUE(fs->ReattachOnAnotherDevice()) << fs->last_error();
    second_device = fs->device();
    EXPECT_NE(second_device, first_device);
    EXPECT_EQ(LoopDevicesBacking(image), std::vector<std::string>{second_device});
    EXPECT_EQ(MountSourceOf(mount_point), second_device);
    EXPECT_TRUE(InProcMounts(mount_point));
    EXPECT_EQ(FsMagic(mount_point), magic);
    EXPECT_EQ(ReadFile(file), "content");
    const uint64_t fsid_after = FsId(mount_point);
    std::cerr << type << ": f_fsid " << std::hex << fsid_before << " on " << first_device << ", "
              << fsid_after << " on " << second_device << std::dec << "\n";
    if (type == "xfs") {
      EXPECT_NE(fsid_after, fsid_before) << "XFS derives f_fsid from the device number";
    } else {
      EXPECT_EQ(fsid_after, fsid_before) << type << " derives f_fsid from the filesystem UUID";
    }

    // Left locked for the destructor: an immutable file, an append-only folder holding an
    // immutable file.
    const std::string folder = mount_point + "/folder";
    ASSERT_EQ(mkdir(folder.c_str(), 0755), 0);
    WriteFile(folder + "/locked", "x");
    ASSERT_TRUE(ChangeFlag(folder + "/locked", FS_IMMUTABLE_FL, true));
    ASSERT_TRUE(ChangeFlag(folder, FS_APPEND_FL, true));
    ASSERT_TRUE(ChangeFlag(file, FS_IMMUTABLE_FL, true));
    EXPECT_EQ(ImmutablePaths(mount_point).size(), 2u);
  }
  ExpectReleased(image, mount_point);
  // The spare that held the old number is gone as well.
  EXPECT_EQ(LoopDevicesBacking(Canonical(scratch.path()) + "/" + type + "-spare-0.img"),
            std::vector<std::string>{});
}

TEST(LoopFilesystemTest, Ext4IsRealAndReleased) {
  XOI_REQUIRE_LOOP_FS("ext4");
  ExerciseType("ext4", kExt4Magic);
}

TEST(LoopFilesystemTest, XfsIsRealAndReleased) {
  XOI_REQUIRE_LOOP_FS("xfs");
  ExerciseType("xfs", kXfsMagic);
}

TEST(LoopFilesystemTest, BtrfsIsRealAndReleased) {
  XOI_REQUIRE_LOOP_FS("btrfs");
  ExerciseType("btrfs", kBtrfsMagic);
}

TEST(LoopFilesystemTest, Ext4DestroyedRightAfterLockingIsReleased) {
  XOI_REQUIRE_LOOP_FS("ext4");
  ScratchDir scratch;
  std::string image, mount_point;
  {
    std::string error;
    auto fs = LoopFilesystem::Create("ext4", scratch.path(), &error);
    ASSERT_NE(fs, nullptr) << error;
    image = fs->image();
    mount_point = fs->mount_point();
    WriteFile(mount_point + "/f", "x");
    ASSERT_TRUE(ChangeFlag(mount_point + "/f", FS_IMMUTABLE_FL, true));
  }
  ExpectReleased(image, mount_point);
}

// A descriptor still open on the filesystem (a test that failed midway) makes umount fail: the
// fixture unmounts lazily, and the device goes away once the descriptor is closed.
TEST(LoopFilesystemTest, Ext4HeldOpenIsUnmountedLazilyAndDetachedOnClose) {
  XOI_REQUIRE_LOOP_FS("ext4");
  ScratchDir scratch;
  std::string image, mount_point;
  int held = -1;
  {
    std::string error;
    auto fs = LoopFilesystem::Create("ext4", scratch.path(), &error);
    ASSERT_NE(fs, nullptr) << error;
    image = fs->image();
    mount_point = fs->mount_point();
    held = open((mount_point + "/held").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(held, 0);
  }
  EXPECT_FALSE(InProcMounts(mount_point));
  close(held);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!LoopDevicesBacking(image).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ExpectReleased(image, mount_point);
}

// A test killed at its timeout (Bazel kills its whole process group) runs no destructor: the
// watchdog then unmounts, detaches (also the spare device) and deletes.
TEST(LoopFilesystemTest, KilledProcessIsCleanedUpByTheWatchdog) {
  XOI_REQUIRE_LOOP_FS("ext4");
  ScratchDir scratch;
  // Before the fork: the child's mounts must be the ones this process sees.
  std::string isolated;
  ASSERT_TRUE(KeepMountsToThisProcess(&isolated)) << isolated;
  int report[2];
  ASSERT_EQ(pipe(report), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(report[0]);
    setpgid(0, 0);  // a process group of its own, killed as a whole as Bazel does
    std::string error;
    auto fs = LoopFilesystem::Create("ext4", scratch.path(), &error);
    std::string line = "failed " + error + "\n";
    if (fs != nullptr) {
      WriteFile(fs->mount_point() + "/f", "x");
      ChangeFlag(fs->mount_point() + "/f", FS_IMMUTABLE_FL, true);
      const std::string first = fs->device();
      if (fs->ReattachOnAnotherDevice()) line = first + " " + fs->device() + "\n";
    }
    if (write(report[1], line.data(), line.size()) < 0) _exit(1);
    pause();
    _exit(0);
  }
  close(report[1]);
  std::string line;
  char buf[512];
  ssize_t n;
  while (line.find('\n') == std::string::npos && (n = read(report[0], buf, sizeof(buf))) > 0) {
    line.append(buf, n);
  }
  close(report[0]);
  kill(-child, SIGKILL);
  int status;
  waitpid(child, &status, 0);
  ASSERT_EQ(line.rfind("/dev/loop", 0), 0u) << line;
  std::istringstream words(line);
  std::string first_device, second_device;
  words >> first_device >> second_device;
  EXPECT_NE(first_device, second_device);

  const std::string dir = Canonical(scratch.path());
  const std::string image = dir + "/ext4.img", spare = dir + "/ext4-spare-0.img";
  const std::string mount_point = dir + "/ext4-mnt";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  // Until everything the watchdog removes is gone: it removes the spare image after the first.
  while ((InProcMounts(mount_point) || !LoopDevicesBacking(image).empty() ||
          !LoopDevicesBacking(spare).empty() || std::filesystem::exists(image) ||
          std::filesystem::exists(spare)) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_FALSE(InProcMounts(mount_point));
  EXPECT_EQ(LoopDevicesBacking(image), std::vector<std::string>{});
  EXPECT_EQ(LoopDevicesBacking(spare), std::vector<std::string>{});
  EXPECT_FALSE(std::filesystem::exists(image));
  EXPECT_FALSE(std::filesystem::exists(spare));
}

TEST(LoopFilesystemTest, Ext4SetTimesMovesBirthAndChangeTimes) {
  XOI_REQUIRE_LOOP_FS("ext4");
  ScratchDir scratch;
  std::string error;
  auto fs = LoopFilesystem::Create("ext4", scratch.path(), &error);
  ASSERT_NE(fs, nullptr) << error;
  const std::string folder = fs->mount_point() + "/vm";
  const std::string file = folder + "/backup.xva";
  ASSERT_EQ(mkdir(folder.c_str(), 0755), 0);
  WriteFile(file, "content");
  const int64_t now = time(nullptr);
  const int64_t file_time = now - 5 * 86400;
  const int64_t folder_time = now - 3 * 86400 - 1234;
  ASSERT_GT(TimesOf(file).btime, now - 60);

  ASSERT_TRUE(fs->SetTimes({{"vm/backup.xva", file_time}, {"vm", folder_time}}))
      << fs->last_error();
  EXPECT_TRUE(fs->mounted());
  EXPECT_TRUE(InProcMounts(fs->mount_point()));
  const Times f = TimesOf(file);
  EXPECT_EQ(f.btime, file_time);
  EXPECT_EQ(f.ctime, file_time);
  EXPECT_EQ(f.mtime, file_time);
  const Times d = TimesOf(folder);
  EXPECT_EQ(d.btime, folder_time);
  EXPECT_EQ(d.ctime, folder_time);
  EXPECT_EQ(ReadFile(file), "content");

  // The kernel moves ctime again on any later change; the birth time stays.
  ASSERT_TRUE(ChangeFlag(file, FS_IMMUTABLE_FL, true));
  EXPECT_GE(TimesOf(file).ctime, now);
  EXPECT_EQ(TimesOf(file).btime, file_time);

  // Failures say which command failed and why, and leave the filesystem mounted.
  EXPECT_FALSE(fs->SetTimes({{"vm/missing", file_time}}));
  EXPECT_NE(fs->last_error().find("debugfs"), std::string::npos) << fs->last_error();
  EXPECT_NE(fs->last_error().find("not found"), std::string::npos) << fs->last_error();
  EXPECT_TRUE(fs->mounted());
  EXPECT_TRUE(InProcMounts(fs->mount_point()));
  EXPECT_FALSE(fs->SetTimes({{"/vm", file_time}}));
  EXPECT_FALSE(fs->SetTimes({{"v m", file_time}}));
  EXPECT_EQ(ReadFile(file), "content");
}

TEST(LoopFilesystemTest, XfsHasNoSetTimes) {
  XOI_REQUIRE_LOOP_FS("xfs");
  ScratchDir scratch;
  std::string error;
  auto fs = LoopFilesystem::Create("xfs", scratch.path(), &error);
  ASSERT_NE(fs, nullptr) << error;
  EXPECT_FALSE(fs->SetTimes({{"x", 0}}));
  EXPECT_TRUE(fs->mounted());
}

TEST(LoopFilesystemTest, CreateRefusesAndUndoes) {
  XOI_REQUIRE_LOOP_FS("ext4");
  ScratchDir scratch;
  std::string error;
  EXPECT_EQ(LoopFilesystem::Create("ntfs", scratch.path(), &error), nullptr);
  EXPECT_NE(error.find("ntfs"), std::string::npos) << error;
  for (const char* refused : {"/", "/tmp", "/etc", "/work"}) {
    EXPECT_EQ(LoopFilesystem::Create("ext4", refused, &error), nullptr) << refused;
    EXPECT_NE(error.find("refusing"), std::string::npos) << error;
  }
  EXPECT_EQ(LoopFilesystem::Create("ext4", scratch.path() + "/missing", &error), nullptr);
  EXPECT_FALSE(std::filesystem::exists(scratch.path() + "/missing"));

  // A second filesystem of the same type in the same folder fails without harming the first.
  auto fs = LoopFilesystem::Create("ext4", scratch.path(), &error);
  ASSERT_NE(fs, nullptr) << error;
  WriteFile(fs->mount_point() + "/f", "first");
  EXPECT_EQ(LoopFilesystem::Create("ext4", scratch.path(), &error), nullptr);
  EXPECT_NE(error.find("ext4-mnt"), std::string::npos) << error;
  EXPECT_TRUE(InProcMounts(fs->mount_point()));
  EXPECT_EQ(LoopDevicesBacking(fs->image()), std::vector<std::string>{fs->device()});
  EXPECT_EQ(ReadFile(fs->mount_point() + "/f"), "first");

  // An unmounted, empty mount point of a previous fixture is reused, a leftover image is not.
  const std::string image = fs->image(), mount_point = fs->mount_point();
  fs.reset();
  ExpectReleased(image, mount_point);
  WriteFile(image, "stale");
  EXPECT_EQ(LoopFilesystem::Create("ext4", scratch.path(), &error), nullptr);
  EXPECT_NE(error.find("ext4.img"), std::string::npos) << error;
  EXPECT_EQ(ReadFile(image), "stale");
  EXPECT_FALSE(std::filesystem::exists(mount_point));
  unlink(image.c_str());
  ASSERT_EQ(mkdir(mount_point.c_str(), 0755), 0);
  fs = LoopFilesystem::Create("ext4", scratch.path(), &error);
  ASSERT_NE(fs, nullptr) << error;
  EXPECT_TRUE(InProcMounts(mount_point));
}

TEST(LoopFilesystemTest, MinimumSizes) {
  XOI_REQUIRE_LOOP_FS("xfs");
  ScratchDir scratch;
  std::string error;
  auto fs = LoopFilesystem::Create("xfs", scratch.path(), &error, 16);
  ASSERT_NE(fs, nullptr) << error;
  EXPECT_EQ(std::filesystem::file_size(fs->image()), 300u << 20);
}

// The fill must not be pointable at the machine's disk.
TEST(FillFilesystemTest, RefusesWhatIsNotOnALoopDevice) {
  ScratchDir scratch;
  EXPECT_NE(MountSourceOf(scratch.path()).rfind("/dev/loop", 0), 0u);
  EXPECT_FALSE(FillFilesystem("/proc"));
}

// After the fill, creating a file fails with ENOSPC. Whether locking still works depends on the
// filesystem: ext4 and XFS lock a full filesystem, btrfs does not once its metadata is full
// (setting a flag needs a transaction, which reserves metadata space).
void ExerciseFill(const std::string& type, int size_mib, bool locks_when_full) {
  ScratchDir scratch;
  std::string error;
  auto fs = LoopFilesystem::Create(type, scratch.path(), &error, size_mib);
  ASSERT_NE(fs, nullptr) << error;
  const std::string keep = fs->mount_point() + "/keep.xva";
  WriteFile(keep, "precious");
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(FillFilesystem(fs->mount_point()));
  struct statfs s;
  ASSERT_EQ(statfs(fs->mount_point().c_str(), &s), 0);
  std::cerr << type << ": filled in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count()
            << " ms; " << s.f_bfree << " blocks free, " << s.f_bavail << " available, " << s.f_ffree
            << " inodes free\n";
  EXPECT_EQ(ReadFile(keep), "precious");

  const std::string after = fs->mount_point() + "/after-fill";
  errno = 0;
  const int fd = open(after.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  EXPECT_LT(fd, 0);
  EXPECT_EQ(errno, ENOSPC) << strerror(errno);
  if (fd >= 0) close(fd);

  errno = 0;
  const bool locked = ChangeFlag(keep, FS_IMMUTABLE_FL, true);
  const int lock_errno = errno;
  std::cerr << type << ": FS_IOC_SETFLAGS on a full filesystem: "
            << (locked ? "works" : strerror(lock_errno)) << "\n";
  if (locks_when_full) {
    EXPECT_TRUE(locked) << strerror(lock_errno);
    EXPECT_NE(GetFlags(keep) & FS_IMMUTABLE_FL, 0);
  } else {
    EXPECT_FALSE(locked);
    EXPECT_EQ(lock_errno, ENOSPC) << strerror(lock_errno);
    EXPECT_EQ(GetFlags(keep) & FS_IMMUTABLE_FL, 0);
  }
  EXPECT_EQ(ReadFile(keep), "precious");
}

TEST(FillFilesystemTest, FullExt4RefusesNewFilesButLocks) {
  XOI_REQUIRE_LOOP_FS("ext4");
  ExerciseFill("ext4", 64, /*locks_when_full=*/true);
}

TEST(FillFilesystemTest, FullXfsRefusesNewFilesButLocks) {
  XOI_REQUIRE_LOOP_FS("xfs");
  ExerciseFill("xfs", 300, /*locks_when_full=*/true);
}

TEST(FillFilesystemTest, FullBtrfsRefusesNewFilesAndLocking) {
  XOI_REQUIRE_LOOP_FS("btrfs");
  ExerciseFill("btrfs", 128, /*locks_when_full=*/false);
}

}  // namespace
}  // namespace xoi::testing
