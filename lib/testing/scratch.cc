#include "lib/testing/scratch.h"

#include <fcntl.h>
#include <ftw.h>
#include <linux/fs.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

extern char** environ;

namespace xoi::testing {
namespace {

int ChangeFlags(const char* path, int set, int clear) {
  const int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return -1;
  int flags = 0;
  int changed = 0;
  if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
    const int wanted = (flags | set) & ~clear;
    if (wanted != flags && ioctl(fd, FS_IOC_SETFLAGS, &wanted) == 0) changed = 1;
  }
  close(fd);
  return changed;
}

std::vector<std::string> AllPaths(const std::string& root) {
  std::vector<std::string> paths;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(
           root, std::filesystem::directory_options::skip_permission_denied, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    paths.push_back(it->path().string());
  }
  return paths;
}

}  // namespace

ScratchDir::ScratchDir() {
  const char* base = getenv("TEST_TMPDIR");
  std::string templ = std::string(base ? base : "/tmp") + "/xoi-scratch-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) abort();
  path_ = templ;
}

ScratchDir::~ScratchDir() { LiftAndRemove(path_); }

int LiftFlags(const std::string& path) {
  int cleared = ChangeFlags(path.c_str(), 0, FS_IMMUTABLE_FL | FS_APPEND_FL) > 0;
  for (const std::string& p : AllPaths(path)) {
    struct stat st;
    if (lstat(p.c_str(), &st) != 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) continue;
    cleared += ChangeFlags(p.c_str(), 0, FS_IMMUTABLE_FL | FS_APPEND_FL) > 0;
  }
  return cleared;
}

int LiftAndRemove(const std::string& path) {
  const int cleared = LiftFlags(path);
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  return cleared;
}

std::set<std::string> ImmutablePaths(const std::string& root) {
  std::set<std::string> out;
  for (const std::string& p : AllPaths(root)) {
    struct statx sx;
    if (statx(AT_FDCWD, p.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) != 0) continue;
    if (sx.stx_attributes & STATX_ATTR_IMMUTABLE) out.insert(p.substr(root.size() + 1));
  }
  return out;
}

bool SetImmutableFlag(const std::string& path, bool on) {
  return ChangeFlags(path.c_str(), on ? FS_IMMUTABLE_FL : 0, on ? 0 : FS_IMMUTABLE_FL) >= 0;
}

bool HaveRootPowers() {
  ScratchDir dir;
  const std::string probe = dir.path() + "/probe";
  WriteFile(probe, "x");
  const int fd = open(probe.c_str(), O_RDONLY | O_CLOEXEC);
  int flags = 0;
  bool ok = fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  if (ok) {
    int on = flags | FS_IMMUTABLE_FL;
    ok = ioctl(fd, FS_IOC_SETFLAGS, &on) == 0;
    if (ok) ioctl(fd, FS_IOC_SETFLAGS, &flags);
  }
  if (fd >= 0) close(fd);
  return ok;
}

int StartProcessWith(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                     const std::string& out, const std::string& err) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.insert(env_strings.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data()) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::vector<std::string>& extra_env) {
  ScratchDir capture;
  const std::string out = capture.path() + "/out", err = capture.path() + "/err";
  ProcessResult result;
  const int pid = StartProcessWith(argv, extra_env, out, err);
  if (pid < 0) return result;
  result.exit_code = WaitProcess(pid);
  result.out = ReadFile(out);
  result.err = ReadFile(err);
  return result;
}

int StartProcess(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env) {
  return StartProcessWith(argv, extra_env, "/dev/null", "/dev/null");
}

std::vector<std::string> FaketimeEnv(const std::string& offset) {
  return {"LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1", "FAKETIME=" + offset,
          "NO_FAKE_STAT=1", "FAKETIME_DONT_FAKE_MONOTONIC=1"};
}

int WaitProcess(int pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

std::string Runfile(const std::string& relative) {
  const char* srcdir = getenv("TEST_SRCDIR");
  const char* workspace = getenv("TEST_WORKSPACE");
  return std::string(srcdir ? srcdir : ".") + "/" + (workspace ? workspace : "xo_immutable") + "/" +
         relative;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

}  // namespace xoi::testing
