// The real FileSystem where a writer controls the folder it works in: names planted ahead of the
// program are never followed, truncated or renamed into place.
#include "lib/fs/file_system.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace xoi {
namespace {

std::string Scratch(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/file_system_test/", name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/remote");
  std::filesystem::create_directories(dir + "/outside");
  return dir;
}

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void Write(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

class WriteFileAtomicTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = Scratch(::testing::UnitTest::GetInstance()->current_test_info()->name());
    root_fd_ = Fd(open((dir_ + "/remote").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_fd_.valid());
    Write(dir_ + "/outside/precious", "outside content");
  }

  // The name the program's temporary file had before it was created exclusively.
  std::string PlantedName() const {
    return absl::StrCat(dir_, "/remote/.immutability.json.tmp-", getpid());
  }

  absl::Status WriteMarker() {
    return RealFileSystem().WriteFileAtomic(root_fd_.get(), "immutability.json", "new", 0644,
                                            /*sync=*/false, "immutability.json");
  }

  std::string dir_;
  Fd root_fd_;
};

TEST_F(WriteFileAtomicTest, AHardLinkPlantedUnderTheTemporaryNameIsNeitherTruncatedNorRenamed) {
  ASSERT_EQ(link((dir_ + "/outside/precious").c_str(), PlantedName().c_str()), 0);
  ASSERT_TRUE(WriteMarker().ok());
  EXPECT_EQ(Read(dir_ + "/outside/precious"), "outside content");
  EXPECT_EQ(Read(dir_ + "/remote/immutability.json"), "new");
  struct stat outside, marker;
  ASSERT_EQ(stat((dir_ + "/outside/precious").c_str(), &outside), 0);
  ASSERT_EQ(stat((dir_ + "/remote/immutability.json").c_str(), &marker), 0);
  EXPECT_NE(outside.st_ino, marker.st_ino) << "the planted inode was renamed into place";
  EXPECT_EQ(outside.st_nlink, 2u) << "the planted link was removed or replaced";
}

TEST_F(WriteFileAtomicTest, ASymlinkPlantedUnderTheTemporaryNameIsNotFollowed) {
  ASSERT_EQ(symlink((dir_ + "/outside/precious").c_str(), PlantedName().c_str()), 0);
  ASSERT_TRUE(WriteMarker().ok());
  EXPECT_EQ(Read(dir_ + "/outside/precious"), "outside content");
  EXPECT_EQ(Read(dir_ + "/remote/immutability.json"), "new");
  EXPECT_TRUE(std::filesystem::is_symlink(PlantedName())) << "the planted symlink was replaced";
}

TEST_F(WriteFileAtomicTest, LeavesNoTemporaryFileBehind) {
  ASSERT_TRUE(WriteMarker().ok());
  ASSERT_TRUE(WriteMarker().ok());
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_ + "/remote")) {
    EXPECT_EQ(e.path().filename(), "immutability.json");
    ++files;
  }
  EXPECT_EQ(files, 1);
}

}  // namespace
}  // namespace xoi
