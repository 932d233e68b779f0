#include "lib/testing/loop_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "lib/fs/probes.h"
#include "lib/testing/scratch.h"

namespace xoi::testing {
namespace {

constexpr int kSpareMib = 1;

std::string Trim(const std::string& s) {
  const size_t begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  const size_t end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

// The absolute path of a tool: $PATH first, then the usual system folders (a test's PATH may lack
// the sbin folders where mkfs and losetup live).
std::string FindTool(const std::string& name) {
  std::string dirs;
  if (const char* path = getenv("PATH")) dirs = path;
  dirs += ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  std::istringstream in(dirs);
  std::string dir;
  while (std::getline(in, dir, ':')) {
    if (dir.empty() || dir[0] != '/') continue;
    const std::string candidate = dir + "/" + name;
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

std::string Join(const std::vector<std::string>& argv) {
  std::string s;
  for (const std::string& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

// Runs a tool (argv[0] a name looked up with FindTool). False with *error naming the command and
// its stderr when it cannot start or exits non-zero.
bool Run(std::vector<std::string> argv, std::string* out, std::string* error) {
  const std::string tool = FindTool(argv[0]);
  if (tool.empty()) {
    if (error) *error = "`" + Join(argv) + "`: " + argv[0] + " not found";
    return false;
  }
  argv[0] = tool;
  const ProcessResult r = RunProcess(argv);
  if (out) *out = r.out;
  if (r.exit_code == 0) return true;
  if (error) {
    *error = "`" + Join(argv) + "` failed (exit " + std::to_string(r.exit_code) +
             "): " + Trim(r.err.empty() ? r.out : r.err);
  }
  return false;
}

struct MountEntry {
  std::string mount_point;
  std::string fs_type;
  std::string source;
};

std::vector<MountEntry> MountTable() {
  std::vector<MountEntry> table;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    std::string field;
    while (fields >> field) f.push_back(field);
    size_t dash = 6;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (f.size() < 5 || dash + 2 >= f.size()) continue;
    table.push_back({UnescapeMountinfo(f[4]), f[dash + 1], UnescapeMountinfo(f[dash + 2])});
  }
  return table;
}

bool IsMountPoint(const std::string& path) {
  for (const MountEntry& e : MountTable()) {
    if (e.mount_point == path) return true;
  }
  return false;
}

std::string Canonical(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::canonical(path, ec);
  return ec ? "" : p.string();
}

// Why `dir` (canonical) must not hold loop images and mount points; empty when it may.
std::string RefusedFolder(const std::string& dir) {
  if (dir.empty() || dir[0] != '/') return "not an absolute, existing path";
  int depth = 0;
  for (char c : dir) depth += c == '/';
  if (dir == "/" || depth < 2) return "a top-level folder";
  for (const char* system : {"/etc/", "/usr/", "/boot/", "/dev/", "/proc/", "/sys/", "/run/",
                             "/bin/", "/sbin/", "/lib/", "/lib64/", "/var/lib/"}) {
    if (dir.rfind(system, 0) == 0) return "a system folder";
  }
  const std::string parent = std::filesystem::path(dir).parent_path().string();
  if (parent == "/home" || parent == "/work") return "a home or workspace folder";
  if (const char* home = getenv("HOME")) {
    if (Canonical(home) == dir) return "the home folder";
  }
  return "";
}

// True once `device` is no longer backed by `image` (sysfs shows the backing file of bound
// devices only). Waits up to `timeout`: a detached device that someone still holds open stays
// bound (with autoclear) until it is closed.
bool WaitUntilDetached(const std::string& device, const std::string& image,
                       std::chrono::milliseconds timeout) {
  const std::string name = device.substr(device.rfind('/') + 1);
  const std::string backing = "/sys/block/" + name + "/loop/backing_file";
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const std::string current = Trim(ReadFile(backing));
    if (current != image && current != image + " (deleted)") return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

bool Detach(const std::string& device, const std::string& image, std::string* error,
            std::chrono::milliseconds wait = std::chrono::seconds(10)) {
  std::string err;
  if (!Run({"losetup", "-d", device}, nullptr, &err)) {
    if (error) *error = err;
    return false;
  }
  if (!WaitUntilDetached(device, image, wait)) {
    if (error) *error = device + " is still bound to " + image + " (held open; autoclear is set)";
    return false;
  }
  return true;
}

bool MakeSparseImage(const std::string& path, int size_mib, std::string* error) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    *error = "creating " + path + ": " + strerror(errno);
    return false;
  }
  const bool ok = ftruncate(fd, static_cast<off_t>(size_mib) << 20) == 0;
  if (!ok) *error = "truncating " + path + ": " + strerror(errno);
  close(fd);
  if (!ok) unlink(path.c_str());
  return ok;
}

int MinimumMib(const std::string& type) {
  if (type == "xfs") return 300;
  if (type == "btrfs") return 128;
  return 1;
}

int DefaultMib(const std::string& type) { return type == "ext4" ? 64 : MinimumMib(type); }

std::vector<std::string> MkfsCommand(const std::string& type, const std::string& image) {
  if (type == "ext4") return {"mkfs.ext4", "-q", "-F", image};
  if (type == "xfs") return {"mkfs.xfs", "-q", "-f", image};
  return {"mkfs.btrfs", "-q", "-f", image};
}

bool KnownType(const std::string& type) {
  return type == "ext4" || type == "xfs" || type == "btrfs";
}

// The watchdog, run by /bin/sh: it exits when the destructor, done, writes "done" to its stdin; at
// end of file without it (the test process died without running the destructor, e.g. killed by
// Bazel at its timeout) it cleans up. Touches only the mount on $1 and the loop devices backed by
// the image $2 or the spare images $3*.img, all of which the fixture created.
constexpr char kWatchdogScript[] = R"sh(
while read -r line; do [ "$line" = done ] && exit 0; done
PATH=/usr/sbin:/usr/bin:/sbin:/bin
mp=$1 img=$2 spare=$3
if grep -qF " $mp " /proc/mounts; then umount "$mp" 2>/dev/null || umount -l "$mp"; fi
for f in /sys/block/loop*/loop/backing_file; do
  [ -r "$f" ] || continue
  b=$(cat "$f"); b=${b% (deleted)}
  case "$b" in
    "$img"|"$spare"*.img) d=${f#/sys/block/}; losetup -d "/dev/${d%%/*}" ;;
  esac
done
rm -f "$img" "$spare"*.img
)sh";

// Starts the watchdog in a session of its own (so that killing the test's process group spares
// it); returns its pid, and in *socket_fd our end of the socket that is its stdin.
int StartWatchdog(const std::string& mount_point, const std::string& image,
                  const std::string& spare_prefix, int* socket_fd) {
  int fds[2];  // a socket rather than a pipe: writing "done" to a dead watchdog raises no SIGPIPE
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[0], 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  std::vector<std::string> argv = {"/bin/sh",   "-c",  kWatchdogScript, "xoi-loop-fs-watchdog",
                                   mount_point, image, spare_prefix};
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  char* envp[] = {nullptr};
  pid_t pid = -1;
  if (posix_spawn(&pid, "/bin/sh", &actions, &attr, args.data(), envp) != 0) pid = -1;
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[0]);
  if (pid < 0) {
    close(fds[1]);
    return -1;
  }
  *socket_fd = fds[1];
  return pid;
}

// FillFilesystem's creations refused in a row (each a new name) before it believes that no name
// fits any more. On btrfs the name does not matter (folders live in the metadata trees), and each
// refusal costs milliseconds of flushing.
constexpr int kRefusalsInARow = 500;
constexpr int kBtrfsRefusalsInARow = 20;

// True when CAP_SYS_ADMIN (attaching loop devices, mounting) is in the effective set.
bool HaveSysAdmin() {
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) return geteuid() == 0;
  return (data[CAP_SYS_ADMIN / 32].effective & (1u << (CAP_SYS_ADMIN % 32))) != 0;
}

// 1 to 3 characters: "0" .. "z", "00" .. "zz", "000" .. "zzz".
constexpr int kShortNames = 36 + 36 * 36 + 36 * 36 * 36;
std::string ShortName(int n) {
  static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  int digits = 1;
  for (int block = 36; n >= block; block *= 36, ++digits) n -= block;
  std::string name(digits, '0');
  for (int i = digits - 1; i >= 0; --i, n /= 36) name[i] = kDigits[n % 36];
  return name;
}

}  // namespace

std::string LoopFilesystemUnavailable(const std::string& type) {
  if (!KnownType(type)) return "unknown loop filesystem type '" + type + "'";
  if (!HaveSysAdmin()) {
    return "needs root with CAP_SYS_ADMIN (loop devices and mount): run as root, as CI does";
  }
  if (access("/dev/loop-control", R_OK | W_OK) != 0) {
    return "needs /dev/loop-control (loop devices), missing here";
  }
  std::vector<std::string> tools = {"losetup", "mount", "umount", "mkfs." + type};
  if (type == "ext4") tools.push_back("debugfs");
  std::string missing;
  for (const std::string& tool : tools) {
    if (FindTool(tool).empty()) missing += (missing.empty() ? "" : ", ") + tool;
  }
  if (!missing.empty()) return "needs " + missing + " (tools/setup.sh installs them)";
  return "";
}

std::string MountSourceOf(const std::string& path) {
  const std::string p = Canonical(path);
  if (p.empty()) return "";
  std::string best_point, best_source;
  bool found = false;
  for (const MountEntry& e : MountTable()) {
    const std::string& mp = e.mount_point;
    const bool holds = mp == "/" || p == mp || p.rfind(mp + "/", 0) == 0;
    // Longest mount point wins; among equals the later (upper) mount.
    if (holds && (!found || mp.size() >= best_point.size())) {
      best_point = mp;
      best_source = e.source;
      found = true;
    }
  }
  return best_source;
}

bool KeepMountsToThisProcess(std::string* error) {
  static bool kept = false;
  if (kept) return true;
  if (unshare(CLONE_NEWNS) != 0) {
    *error = std::string("unshare(CLONE_NEWNS): ") + strerror(errno);
    return false;
  }
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    *error = std::string("making / a private mount: ") + strerror(errno);
    return false;
  }
  kept = true;
  return true;
}

std::unique_ptr<LoopFilesystem> LoopFilesystem::Create(const std::string& type,
                                                       const std::string& scratch_dir,
                                                       std::string* error, int size_mib) {
  std::string ignored;
  if (error == nullptr) error = &ignored;
  error->clear();
  if (!KnownType(type)) {
    *error = "unknown loop filesystem type '" + type + "' (ext4, xfs or btrfs)";
    return nullptr;
  }
  if (size_mib < 0) {
    *error = "negative size";
    return nullptr;
  }
  if (size_mib == 0) size_mib = DefaultMib(type);
  if (size_mib < MinimumMib(type)) size_mib = MinimumMib(type);
  const std::string dir = Canonical(scratch_dir);
  struct stat st;
  if (dir.empty() || stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    *error = "scratch folder " + scratch_dir + " is not an existing folder";
    return nullptr;
  }
  if (const std::string why = RefusedFolder(dir); !why.empty()) {
    *error = "refusing to make loop filesystems in " + dir + ": " + why;
    return nullptr;
  }
  if (const std::string why = LoopFilesystemUnavailable(type); !why.empty()) {
    *error = why;
    return nullptr;
  }
  if (!KeepMountsToThisProcess(error)) return nullptr;

  // From here on, the destructor undoes whatever has been done when returning nullptr.
  std::unique_ptr<LoopFilesystem> fs(new LoopFilesystem());
  fs->type_ = type;
  fs->scratch_dir_ = dir;

  const std::string mount_point = dir + "/" + type + "-mnt";
  if (mkdir(mount_point.c_str(), 0755) == 0) {
    fs->created_mount_point_ = true;
  } else if (errno != EEXIST) {
    *error = "mkdir " + mount_point + ": " + strerror(errno);
    return nullptr;
  } else {
    std::error_code ec;
    if (lstat(mount_point.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || IsMountPoint(mount_point) ||
        !std::filesystem::is_empty(mount_point, ec) || ec) {
      *error = mount_point + " exists and is not an empty, unmounted folder";
      return nullptr;
    }
  }
  fs->mount_point_ = mount_point;

  const std::string image = dir + "/" + type + ".img";
  if (!MakeSparseImage(image, size_mib, error)) return nullptr;
  fs->image_ = image;
  // Only now that the image is ours (O_EXCL) and the mount point is free: the watchdog removes
  // what the destructor would, should this process die without running it.
  fs->watchdog_pid_ = StartWatchdog(mount_point, image, fs->SparePrefix(), &fs->watchdog_fd_);
  if (fs->watchdog_pid_ < 0) {
    *error = std::string("starting the cleanup watchdog (/bin/sh): ") + strerror(errno);
    return nullptr;
  }

  if (!Run(MkfsCommand(type, image), nullptr, error)) return nullptr;
  if (!fs->Attach(image, &fs->device_, error)) return nullptr;
  if (!fs->Mount()) {
    *error = fs->last_error_;
    return nullptr;
  }
  return fs;
}

bool LoopFilesystem::Attach(const std::string& image, std::string* device, std::string* error) {
  std::string out;
  if (!Run({"losetup", "-f", "--show", image}, &out, error)) return false;
  const std::string dev = Trim(out);
  if (dev.rfind("/dev/loop", 0) != 0) {
    *error = "`losetup -f --show " + image + "` printed '" + dev + "', not a loop device";
    return false;
  }
  *device = dev;
  return true;
}

LoopFilesystem::~LoopFilesystem() {
  try {
    bool lazy = false;
    if (mounted_) {
      LiftFlags(mount_point_);
      if (!UnmountNow(/*allow_lazy=*/true)) {
        std::cerr << "LoopFilesystem: " << last_error_ << "\n";
        lazy = true;
      }
    }
    // After a lazy unmount the device stays bound (autoclear) until the last user closes it:
    // waiting long for that is pointless.
    std::string err;
    if (!device_.empty() &&
        !Detach(device_, image_, &err,
                lazy ? std::chrono::milliseconds(500) : std::chrono::milliseconds(10000))) {
      std::cerr << "LoopFilesystem: " << err << "\n";
    }
    for (const auto& [device, spare] : spares_) {
      if (!Detach(device, spare, &err)) std::cerr << "LoopFilesystem: " << err << "\n";
    }
    for (const auto& [device, spare] : spares_) unlink(spare.c_str());
    if (!image_.empty()) unlink(image_.c_str());
    if (created_mount_point_ && !mounted_) rmdir(mount_point_.c_str());  // only when empty
  } catch (...) {
  }
  if (watchdog_pid_ > 0) {
    // A process forked (without exec) by the test may hold the socket too: say it rather than
    // rely on end of file.
    const ssize_t written = send(watchdog_fd_, "done\n", 5, MSG_NOSIGNAL);
    close(watchdog_fd_);
    (void)written;
    int status;
    while (waitpid(watchdog_pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

std::string LoopFilesystem::SparePrefix() const { return scratch_dir_ + "/" + type_ + "-spare-"; }

bool LoopFilesystem::Fail(const std::string& message) {
  last_error_ = message;
  std::cerr << "LoopFilesystem(" << type_ << "): " << message << "\n";
  return false;
}

bool LoopFilesystem::UnmountNow(bool allow_lazy) {
  std::string err;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));
    if (Run({"umount", mount_point_}, nullptr, &err)) {
      mounted_ = false;
      return true;
    }
  }
  if (allow_lazy) {
    std::string lazy_err;
    if (Run({"umount", "-l", mount_point_}, nullptr, &lazy_err)) {
      mounted_ = false;
      last_error_ = err + " (unmounted lazily)";
      return false;
    }
    err += "; " + lazy_err;
  }
  last_error_ = err;
  return false;
}

bool LoopFilesystem::Unmount() {
  if (!mounted_) return true;
  if (!UnmountNow(/*allow_lazy=*/false)) return Fail(last_error_);
  return true;
}

bool LoopFilesystem::Mount() {
  if (mounted_) return true;
  if (device_.empty()) return Fail("no loop device attached");
  std::string err;
  if (!Run({"mount", "-t", type_, device_, mount_point_}, nullptr, &err)) return Fail(err);
  mounted_ = true;
  return true;
}

bool LoopFilesystem::ReattachOnAnotherDevice() {
  if (device_.empty()) return Fail("no loop device attached");
  if (!Unmount()) return false;
  const std::string old_device = device_;
  std::string err;
  if (!Detach(old_device, image_, &err)) {
    // Still bound to our image: `losetup -f` will not hand it out, so carry on.
    std::cerr << "LoopFilesystem(" << type_ << "): " << err << "\n";
  }
  device_.clear();

  // Occupy the old number so that `losetup -f` picks another one.
  const std::string spare = SparePrefix() + std::to_string(spares_.size()) + ".img";
  if (!MakeSparseImage(spare, kSpareMib, &err)) return Fail(err);
  if (Run({"losetup", old_device, spare}, nullptr, &err)) {
    spares_.emplace_back(old_device, spare);
  } else {
    unlink(spare.c_str());  // someone else took the number meanwhile: it is occupied anyway
  }

  std::string new_device;
  if (!Attach(image_, &new_device, &err)) return Fail(err);
  device_ = new_device;
  if (new_device == old_device) return Fail("losetup handed back the same device " + new_device);
  return Mount();
}

bool LoopFilesystem::SetTimes(
    const std::vector<std::pair<std::string, int64_t>>& paths_and_unix_seconds) {
  if (type_ != "ext4") return Fail("SetTimes needs ext4 (debugfs), not " + type_);
  if (device_.empty()) return Fail("no loop device attached");
  std::string script;
  for (const auto& [path, seconds] : paths_and_unix_seconds) {
    if (path.empty() || path[0] == '/' || path.find_first_of(" \t\r\n\"'\\") != std::string::npos) {
      return Fail("SetTimes: path '" + path + "' must be relative, without blanks or quotes");
    }
    const time_t t = static_cast<time_t>(seconds);
    struct tm tm;
    char stamp[32];
    if (gmtime_r(&t, &tm) == nullptr || tm.tm_year < 1 || tm.tm_year > 8099 ||
        strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm) == 0) {
      return Fail("SetTimes: time " + std::to_string(seconds) + " out of range");
    }
    for (const char* field : {"crtime", "ctime", "mtime"}) {
      script += std::string("set_inode_field /") + path + " " + field + " " + stamp + "\n";
    }
  }
  const std::string debugfs = FindTool("debugfs");
  if (debugfs.empty()) return Fail("SetTimes: debugfs not found");
  const std::string script_path = scratch_dir_ + "/" + type_ + "-settimes.debugfs";
  WriteFile(script_path, script);
  const bool was_mounted = mounted_;
  if (!Unmount()) {
    unlink(script_path.c_str());
    return false;
  }
  std::string failure;
  const ProcessResult r = RunProcess({debugfs, "-w", "-f", script_path, device_});
  unlink(script_path.c_str());
  // debugfs exits 0 even when a command fails: any stderr line but its banner is a failure.
  std::istringstream lines(r.err);
  std::string line, complaints;
  while (std::getline(lines, line)) {
    if (Trim(line).empty() || line.rfind("debugfs ", 0) == 0) continue;
    complaints += (complaints.empty() ? "" : "; ") + Trim(line);
  }
  if (r.exit_code != 0 || !complaints.empty()) {
    failure = "`debugfs -w -f " + script_path + " " + device_ + "` failed (exit " +
              std::to_string(r.exit_code) + "): " + (complaints.empty() ? Trim(r.err) : complaints);
  }
  if (was_mounted && !Mount()) return false;
  if (!failure.empty()) return Fail(failure);
  if (!was_mounted) return true;
  for (const auto& [path, seconds] : paths_and_unix_seconds) {
    struct stat st;
    const std::string full = mount_point_ + "/" + path;
    if (lstat(full.c_str(), &st) != 0)
      return Fail("SetTimes: lstat " + full + ": " + strerror(errno));
    if (st.st_ctim.tv_sec != seconds || st.st_mtim.tv_sec != seconds) {
      return Fail("SetTimes: " + full + " has ctime " + std::to_string(st.st_ctim.tv_sec) +
                  " and mtime " + std::to_string(st.st_mtim.tv_sec) +
                  " after mounting again, not " + std::to_string(seconds) +
                  ": the filesystem outlived its unmount");
    }
  }
  return true;
}

bool FillFilesystem(const std::string& dir) {
  const std::string d = Canonical(dir);
  const std::string source = MountSourceOf(d);
  if (d.empty() || source.rfind("/dev/loop", 0) != 0) {
    std::cerr << "FillFilesystem: refusing " << dir << ": not on a loop device (mounted from '"
              << source << "')\n";
    return false;
  }
  // Well below a test's timeout: a test killed at its timeout skips every destructor.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  auto late = [&] {
    if (std::chrono::steady_clock::now() < deadline) return false;
    std::cerr << "FillFilesystem: gave up filling " << d << " after 60 s\n";
    return true;
  };
  const std::string prefix = d + "/xoi-fill-" + std::to_string(getpid()) + "-";
  int next_name = 0;
  auto create_named = [](const std::string& path, int* err) {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    *err = fd < 0 ? errno : 0;
    return fd;
  };
  auto full = [](int err) { return err == ENOSPC || err == EDQUOT; };
  const std::string big_chunk(1 << 20, '\xa5');  // not zeros: compression would defeat them
  const std::string small_chunk(1024, '\x5a');
  const std::string xattr_value(8192, '\x3c');

  int err = 0;
  int big = -1;
  do {
    big = create_named(prefix + std::to_string(next_name++), &err);
  } while (big < 0 && err == EEXIST);
  if (big < 0 && !full(err)) {  // when full already, only the small files remain to try
    std::cerr << "FillFilesystem: creating a file in " << d << ": " << strerror(err) << "\n";
    return false;
  }
  const int dir_fd = open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct statfs fs_stat;
  const int refusals_in_a_row =
      statfs(d.c_str(), &fs_stat) == 0 && fs_stat.f_type == BTRFS_SUPER_MAGIC ? kBtrfsRefusalsInARow
                                                                              : kRefusalsInARow;
  int xattrs = 0;
  // Writing back may hand back space reserved for delayed allocation: repeat until a round after
  // a sync of the whole filesystem gains nothing.
  bool filled = false, failed = false;
  for (int round = 0; round < 10 && !filled && !failed; ++round) {
    // Data: the big file, 1 MiB at a time.
    int64_t big_bytes = 0;
    while (big >= 0) {
      const ssize_t n = write(big, big_chunk.data(), big_chunk.size());
      if (n > 0) {
        big_bytes += n;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        if (!(n < 0 && full(errno))) {
          std::cerr << "FillFilesystem: write: " << (n < 0 ? strerror(errno) : "no progress")
                    << "\n";
          failed = true;
        }
        break;
      }
      if (late()) failed = true;
      if (failed) break;
    }
    if (failed) break;
    // Metadata: btrfs keeps it apart from data, and filling it with empty files alone takes
    // minutes; extended attributes of the big file fill it fast (elsewhere they fail at once).
    int new_xattrs = 0;
    while (big >= 0 && !late()) {
      const std::string name = "user.xoi-fill-" + std::to_string(xattrs);
      if (fsetxattr(big, name.c_str(), xattr_value.data(), xattr_value.size(), XATTR_CREATE) != 0) {
        break;  // ENOSPC, or too many for this inode, or not supported: files come next
      }
      ++xattrs;
      ++new_xattrs;
    }
    // Inodes and folder entries: small files until creating fails whatever the name. In a hashed
    // folder (ext4's htree) a name whose block still has room fits after others were refused, so
    // this goes on until many creations in a row failed; then the same with the
    // shortest names ("~0" .. "~zzz": ext4 and XFS give names of up to 4 characters the smallest
    // entry) for the slack of the folder's blocks.
    int files = 0;
    auto create_until_refused = [&](auto next_path) {
      int refused_in_a_row = 0;
      while (refused_in_a_row < refusals_in_a_row) {
        if (late()) return false;
        const std::string path = next_path();
        if (path.empty()) return true;
        const int fd = create_named(path, &err);
        if (fd >= 0) {
          ++files;
          refused_in_a_row = 0;
          // Content that does not fit leaves the file empty.
          if (write(fd, small_chunk.data(), small_chunk.size()) < 0 && !full(errno)) {
            std::cerr << "FillFilesystem: write: " << strerror(errno) << "\n";
          }
          close(fd);
        } else if (full(err)) {
          ++refused_in_a_row;
        } else if (err != EEXIST) {
          std::cerr << "FillFilesystem: create " << path << ": " << strerror(err) << "\n";
          return false;
        }
      }
      return true;
    };
    int next_short = 0;
    if (!create_until_refused([&] { return prefix + std::to_string(next_name++); }) ||
        !create_until_refused([&] {
          return next_short < kShortNames ? d + "/~" + ShortName(next_short++) : std::string();
        })) {
      failed = true;
      break;
    }
    if (big >= 0) fsync(big);
    if (dir_fd >= 0) syncfs(dir_fd);
    filled = big_bytes == 0 && new_xattrs == 0 && files == 0;
  }
  if (big >= 0) close(big);
  if (dir_fd >= 0) close(dir_fd);
  if (!filled) std::cerr << "FillFilesystem: could not fill " << d << "\n";
  return filled;
}

}  // namespace xoi::testing
