// The fixture of the end-to-end tests: a scratch folder holding a generated XO remote, an
// outside folder (same filesystem) that must never get a flag, an index and a configuration.
// Root only (CI runs these as root); the ScratchDir lifts every flag when the test ends.
#ifndef XOI_RECONCILER_REMOTE_FIXTURE_H_
#define XOI_RECONCILER_REMOTE_FIXTURE_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/loop_fs.h"
#include "lib/testing/scratch.h"

namespace xoi {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::xoi::testing::ImmutablePaths;
using ::xoi::testing::ProcessResult;
using ::xoi::testing::ReadFile;
using ::xoi::testing::Runfile;
using ::xoi::testing::RunProcess;
using ::xoi::testing::ScratchDir;
using ::xoi::testing::WriteFile;

namespace json = boost::json;

inline std::set<std::string> ReadManifest(const std::string& path) {
  std::set<std::string> out;
  const std::string content = ReadFile(path);
  size_t start = 0;
  for (size_t nul; (nul = content.find('\0', start)) != std::string::npos; start = nul + 1) {
    out.insert(content.substr(start, nul - start));
  }
  return out;
}

// The records of items protected (not lifted) in a remote's index folder: the lines starting "P"
// in its day files (lib/core/index_record.h).
inline size_t CountIndexEntries(const std::string& dir) {
  size_t n = 0;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (!e.is_regular_file() || e.path().extension() != ".idx") continue;
    const std::string text = ReadFile(e.path().string());
    for (size_t start = 0; start < text.size();) {
      const size_t nl = text.find('\n', start);
      if (text.compare(start, 2, "P\t") == 0) ++n;
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
  }
  return n;
}

class RemoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    XOI_REQUIRE_ROOT();
    root_ = scratch_.path() + "/remote";
    outside_ = scratch_.path() + "/outside";
    index_ = scratch_.path() + "/index";
    config_ = scratch_.path() + "/config.json";
    std::filesystem::create_directories(outside_);
  }

  // Generates the remote; returns the paths that must end up immutable.
  std::set<std::string> Generate(std::vector<std::string> extra = {"--in-progress", "--hostile"}) {
    std::vector<std::string> argv = {
        Runfile("tools/gen_remote"),  "--root", root_, "--outside", outside_, "--manifest",
        scratch_.path() + "/manifest"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const ProcessResult gen = RunProcess(argv);
    EXPECT_EQ(gen.exit_code, 0) << gen.err;
    std::set<std::string> expected = ReadManifest(scratch_.path() + "/manifest");
    expected.insert("immutability.json");
    return expected;
  }

  // Tests of lifting move the wall clock by days: the time guard rightly takes that for an attack,
  // so its threshold is raised unless a test is about it.
  void WriteConfig(const std::string& duration, const std::string& settle = "0s",
                   const std::string& time_shift_threshold = "365d") {
    WriteFile(config_, "{\"indexPath\": \"" + index_ + "\", \"timeShiftThreshold\": \"" +
                           time_shift_threshold + "\", \"remotes\": {\"r1\": {\"root\": \"" +
                           root_ + "\", \"immutabilityDuration\": \"" + duration +
                           "\", \"settle\": \"" + settle + "\"}}}");
  }

  // A run reporting in JSON, unless `args` asks for another format.
  ProcessResult Run(std::vector<std::string> args = {}, std::vector<std::string> env = {}) {
    std::vector<std::string> argv = {Runfile("reconciler/xo-immutable"), "run", "--config",
                                     config_};
    if (std::find(args.begin(), args.end(), "--report") == args.end()) {
      argv.insert(argv.end(), {"--report", "json"});
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv, env);
  }

  // A run with the wall clock moved `offset` ahead.
  ProcessResult RunAt(const std::string& offset, std::vector<std::string> args = {}) {
    return Run(std::move(args), testing::FaketimeEnv(offset));
  }

  static json::object Counts(const ProcessResult& r) {
    boost::system::error_code ec;
    json::value doc = json::parse(r.out, ec);
    if (ec || !doc.is_object()) {
      ADD_FAILURE() << "report is not JSON: " << r.out << r.err;
      return {};
    }
    return doc.at("remotes").at(0).at("counts").as_object();
  }

  static int64_t Count(const ProcessResult& r, const char* key) {
    const json::object counts = Counts(r);
    return counts.contains(key) ? counts.at(key).to_number<int64_t>() : -1;
  }

  ScratchDir scratch_;
  std::string root_, outside_, index_, config_;
};

// RemoteTest with the remote (and the outside folder) on a real loop filesystem of the test's own,
// of the type the test is instantiated with (XOI_ON_EACH_FILESYSTEM): the kernel's behaviour
// differs between ext4, XFS and btrfs exactly where the program depends on it. A failure names the
// filesystem in the test's name ("RunTest.SecondRunChangesNothing/xfs").
class OnEachFilesystem : public RemoteTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    RemoteTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    XOI_REQUIRE_LOOP_FS(GetParam());
    std::string error;
    loop_ = testing::LoopFilesystem::Create(GetParam(), scratch_.path(), &error);
    ASSERT_NE(loop_, nullptr) << error;
    root_ = loop_->mount_point() + "/remote";
    outside_ = loop_->mount_point() + "/outside";
    std::filesystem::create_directories(outside_);
  }

  std::unique_ptr<testing::LoopFilesystem> loop_;  // destroyed before scratch_, which holds it
};

#define XOI_ON_EACH_FILESYSTEM(suite)                                \
  INSTANTIATE_TEST_SUITE_P(                                          \
      Filesystems, suite, ::testing::Values("ext4", "xfs", "btrfs"), \
      [](const ::testing::TestParamInfo<std::string>& info) { return info.param; })

// Mounts a filesystem for the duration of a test (root only); unmounts even when the test fails.
class ScopedMount {
 public:
  ScopedMount(const std::string& type, const std::string& where,
              const std::string& options = "defaults")
      : where_(where) {
    std::filesystem::create_directories(where);
    ok_ = RunProcess({"mount", "-t", type, "-o", options, type, where}).exit_code == 0;
  }
  ~ScopedMount() {
    if (ok_) RunProcess({"umount", "-l", where_});
  }
  bool ok() const { return ok_; }
  void Unmount() {
    if (ok_) ok_ = RunProcess({"umount", where_}).exit_code != 0;
  }

 private:
  std::string where_;
  bool ok_ = false;
};

// Unmounts (lazily) what a test mounted at `where` itself, even when the test fails.
struct UnmountWhenDone {
  std::string where;
  ~UnmountWhenDone() { RunProcess({"umount", "-l", where}); }
};

inline std::string FirstWith(const std::set<std::string>& paths, const std::string& suffix) {
  for (const std::string& p : paths) {
    if (p.size() >= suffix.size() &&
        p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return p;
    }
  }
  return "";
}

}  // namespace xoi

#endif  // XOI_RECONCILER_REMOTE_FIXTURE_H_
