// Reading the configuration file: errors name it, and the index defaults to systemd's state folder,
// then XDG's data folder, then the home folder's.
#include "lib/run/config_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace xoi {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::testing::StartsWith;

std::string TestDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/config_test");
  mkdir(dir.c_str(), 0700);
  return dir;
}

std::string WriteConfig(absl::string_view name, absl::string_view content) {
  const std::string path = absl::StrCat(TestDir(), "/", name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  return path;
}

Config MustLoad(absl::string_view content) {
  absl::StatusOr<Config> config = LoadConfig(WriteConfig("minimal.json", content));
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *std::move(config) : Config();
}

// Sets or unsets environment variables for one test, restoring them after.
class ScopedEnv {
 public:
  ScopedEnv(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (const auto& [name, value] : vars) {
      const char* old = getenv(name);
      saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
      value ? setenv(name, value, 1) : unsetenv(name);
    }
  }
  ~ScopedEnv() {
    for (const auto& [name, value] : saved_) {
      value ? setenv(name.c_str(), value->c_str(), 1) : unsetenv(name.c_str());
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

constexpr char kMinimal[] =
    R"({"remotes": {"r": {"root": "/srv/r", "immutabilityDuration": "1d"}}})";

TEST(LoadConfigTest, IndexPathDefaultsToSystemdsStateDirectoryFirst) {
  ScopedEnv env({{"STATE_DIRECTORY", "/var/lib/xo-immutable-backups:/var/lib/other"},
                 {"XDG_DATA_HOME", "/home/a/.data"},
                 {"HOME", "/home/a"}});
  const Config config = MustLoad(kMinimal);
  EXPECT_EQ(config.index_path, "/var/lib/xo-immutable-backups");
  ASSERT_THAT(config.notices, SizeIs(1));
  EXPECT_THAT(config.notices[0], HasSubstr("indexPath is not set"));
  EXPECT_THAT(config.notices[0], HasSubstr("STATE_DIRECTORY"));
}

TEST(LoadConfigTest, IndexPathDefaultsToXdgDataHomeThenHome) {
  {
    ScopedEnv env(
        {{"STATE_DIRECTORY", nullptr}, {"XDG_DATA_HOME", "/home/a/.data"}, {"HOME", "/home/a"}});
    EXPECT_EQ(MustLoad(kMinimal).index_path, "/home/a/.data/xo-immutable-backups");
  }
  {
    ScopedEnv env(
        {{"STATE_DIRECTORY", nullptr}, {"XDG_DATA_HOME", "relative"}, {"HOME", "/home/a"}});
    EXPECT_EQ(MustLoad(kMinimal).index_path, "/home/a/.local/share/xo-immutable-backups");
  }
  {
    ScopedEnv env({{"STATE_DIRECTORY", nullptr}, {"XDG_DATA_HOME", nullptr}, {"HOME", nullptr}});
    EXPECT_EQ(MustLoad(kMinimal).index_path, kDefaultIndexPath);
  }
}

TEST(LoadConfigTest, MissingFile) {
  const std::string path = absl::StrCat(TestDir(), "/no-such-config.json");
  const absl::StatusOr<Config> config = LoadConfig(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound) << config.status();
  EXPECT_THAT(std::string(config.status().message()), HasSubstr(path));
}

TEST(LoadConfigTest, ReadsAFile) {
  const std::string path = WriteConfig(
      "config.json", R"({"remotes": {"a": {"root": "/srv/a", "immutabilityDuration": "14d"}}})");
  const absl::StatusOr<Config> config = LoadConfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->source, path);
  ASSERT_THAT(config->remotes, SizeIs(1));
  EXPECT_EQ(config->remotes[0].root, "/srv/a");
}

TEST(LoadConfigTest, ATomlFileIsReadAsToml) {
  const std::string path =
      WriteConfig("config.toml", "[remotes.a]\nroot = \"/srv/a\"\nimmutabilityDuration = \"7d\"\n");
  const absl::StatusOr<Config> config = LoadConfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_THAT(config->remotes, SizeIs(1));
  EXPECT_EQ(config->remotes[0].immutability_duration, absl::Hours(7 * 24));
}

TEST(LoadConfigTest, ContentErrorNamesTheFile) {
  const std::string path = WriteConfig(
      "bad-config.json", R"({"remotes": {"a": {"root": "srv/a", "immutabilityDuration": "14d"}}})");
  const absl::StatusOr<Config> config = LoadConfig(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()),
              StartsWith(absl::StrCat(path, ": remotes.a.root: ")));
}

// Not a file: a FIFO used to block the run for ever (the timer's every minute), a directory to
// read as "not valid JSON". Each is named for what it is, at once.
TEST(LoadConfigTest, AConfigurationThatIsNoFileIsNamedAndNeverWaitedFor) {
  const std::string fifo = absl::StrCat(TestDir(), "/fifo.json");
  unlink(fifo.c_str());
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const absl::StatusOr<Config> from_fifo = LoadConfig(fifo);
  ASSERT_FALSE(from_fifo.ok());
  EXPECT_EQ(from_fifo.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(from_fifo.status().message()), HasSubstr(fifo + " is a FIFO"));
  const std::string dir = absl::StrCat(TestDir(), "/dir.json");
  mkdir(dir.c_str(), 0700);
  const absl::StatusOr<Config> from_dir = LoadConfig(dir);
  ASSERT_FALSE(from_dir.ok());
  EXPECT_THAT(std::string(from_dir.status().message()), HasSubstr(dir + " is a directory"));
}

TEST(LoadConfigTest, AByteOrderMarkIsSkippedAndAHugeFileRefused) {
  const std::string bom = WriteConfig("bom.json",
                                      "\xEF\xBB\xBF{\"remotes\": {\"a\": {\"root\": \"/srv/a\", "
                                      "\"immutabilityDuration\": \"14d\"}}}");
  const absl::StatusOr<Config> config = LoadConfig(bom);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->remotes[0].root, "/srv/a");
  const std::string huge = WriteConfig("huge.json", std::string(size_t{17} << 20, ' '));
  const absl::StatusOr<Config> too_large = LoadConfig(huge);
  ASSERT_FALSE(too_large.ok());
  EXPECT_THAT(std::string(too_large.status().message()), HasSubstr("more than any configuration"));
  unlink(huge.c_str());
}

}  // namespace
}  // namespace xoi
