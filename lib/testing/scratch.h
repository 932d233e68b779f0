// Test support: scratch trees that may hold immutable inodes, and running the program.
//
// Every test that sets the immutable flag works below a ScratchDir, whose destructor lifts every
// flag below it (as `chattr -R -i` would) before deleting it, even when the test failed: a
// forgotten immutable file breaks the next build.
#ifndef XOI_LIB_TESTING_SCRATCH_H_
#define XOI_LIB_TESTING_SCRATCH_H_

#include <set>
#include <string>
#include <vector>

namespace xoi::testing {

class ScratchDir {
 public:
  // A fresh folder below $TEST_TMPDIR (else /tmp).
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Clears the immutable and append-only flags of every inode below `path` (not following
// symlinks), then removes the tree. Returns the number of flags cleared.
int LiftAndRemove(const std::string& path);

// Clears the immutable and append-only flags of `path` and of every inode below it (not following
// symlinks), removing nothing. Returns the number of inodes whose flags changed.
int LiftFlags(const std::string& path);

// Remote-relative paths of the immutable inodes below `root` (symlinks not followed).
std::set<std::string> ImmutablePaths(const std::string& root);

// Sets or clears the immutable flag of one path (not following a final symlink).
bool SetImmutableFlag(const std::string& path, bool on);

// True when the process may set the immutable flag. Tests that need it call RequireRoot().
bool HaveRootPowers();

// Call at the start of a test needing root powers: in CI (CI set) a missing power fails the test,
// elsewhere the test is skipped with a message.
#define XOI_REQUIRE_ROOT()                                                         \
  do {                                                                             \
    if (!::xoi::testing::HaveRootPowers()) {                                       \
      if (getenv("CI") != nullptr) FAIL() << "CI must run this test as root";      \
      GTEST_SKIP() << "needs root (CAP_LINUX_IMMUTABLE): run as root, as CI does"; \
    }                                                                              \
  } while (0)

struct ProcessResult {
  int exit_code = -1;  // 128 + signal when killed
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] a path) with `extra_env` ("K=V") added to the environment, waits.
ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::vector<std::string>& extra_env = {});

// Starts `argv` without waiting; returns its pid. Output goes to /dev/null.
int StartProcess(const std::vector<std::string>& argv,
                 const std::vector<std::string>& extra_env = {});
// Waits for `pid`; returns its exit code (128 + signal when killed).
int WaitProcess(int pid);

// Environment that moves the program's wall clock by `offset` ("+9d") with libfaketime, preloaded
// directly (the `faketime` wrapper forks: killing it would leave the real process running). Only
// the wall clock moves: file times come from statx, and the monotonic clocks stay real.
std::vector<std::string> FaketimeEnv(const std::string& offset);

// The path of a file in the test's runfiles, e.g. "reconciler/xo-immutable".
std::string Runfile(const std::string& relative);

// Reads a whole file; empty when missing.
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& content);

}  // namespace xoi::testing

#endif  // XOI_LIB_TESTING_SCRATCH_H_
