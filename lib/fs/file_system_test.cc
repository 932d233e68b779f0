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
#include "lib/core/status.h"

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

// Written piece by piece (an index day file merged as a stream): all pieces, in order; a failure
// part-way leaves the old file and no temporary one.
TEST_F(WriteFileAtomicTest, PiecesAreWrittenInOrderAndAFailureLeavesTheOldFile) {
  ASSERT_TRUE(WriteMarker().ok());
  FileSystem& fs = RealFileSystem();
  const absl::Status failed = fs.WriteFileAtomicFrom(
      root_fd_.get(), "immutability.json",
      [](FileSystem::ContentWriter write) -> absl::Status {
        XOI_RETURN_IF_ERROR(write("half of it"));
        return absl::DataLossError("the producer gave up");
      },
      0644, /*sync=*/false, "immutability.json");
  EXPECT_EQ(failed.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Read(dir_ + "/remote/immutability.json"), "new");
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_ + "/remote")) {
    EXPECT_EQ(e.path().filename(), "immutability.json");
    ++files;
  }
  EXPECT_EQ(files, 1);
  ASSERT_TRUE(fs.WriteFileAtomicFrom(
                    root_fd_.get(), "immutability.json",
                    [](FileSystem::ContentWriter write) -> absl::Status {
                      for (const char* piece : {"a", "", "bc", "def"}) {
                        XOI_RETURN_IF_ERROR(write(piece));
                      }
                      return absl::OkStatus();
                    },
                    0644, /*sync=*/false, "immutability.json")
                  .ok());
  EXPECT_EQ(Read(dir_ + "/remote/immutability.json"), "abcdef");
}

// ReadSmallFile sizes its buffer by what statx says, not by its limit, and still reads a file that
// has more than statx said, up to the limit.
class ReadSmallFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = Scratch(::testing::UnitTest::GetInstance()->current_test_info()->name());
    dir_fd_ = Fd(open((dir_ + "/remote").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(dir_fd_.valid());
  }

  absl::StatusOr<std::string> ReadAt(int dirfd, const char* name, size_t max_bytes) {
    return RealFileSystem().ReadSmallFile(dirfd, name, max_bytes, name);
  }

  std::string dir_;
  Fd dir_fd_;
};

TEST_F(ReadSmallFileTest, UpToItsLimitAndNotOneByteMore) {
  Write(dir_ + "/remote/empty", "");
  Write(dir_ + "/remote/ten", "0123456789");
  const absl::StatusOr<std::string> empty = ReadAt(dir_fd_.get(), "empty", 10);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(*empty, "");
  for (const size_t limit : {10, 11, 1 << 20}) {
    const absl::StatusOr<std::string> ten = ReadAt(dir_fd_.get(), "ten", limit);
    ASSERT_TRUE(ten.ok()) << limit << ": " << ten.status();
    EXPECT_EQ(*ten, "0123456789");
  }
  for (const size_t limit : {0, 1, 9}) {
    EXPECT_EQ(ErrnoOf(ReadAt(dir_fd_.get(), "ten", limit).status()), EFBIG) << limit;
  }
  // A large file, under a limit far larger.
  const std::string large(3 << 20, 'x');
  Write(dir_ + "/remote/large", large);
  const absl::StatusOr<std::string> got = ReadAt(dir_fd_.get(), "large", size_t{1} << 30);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, large);
}

TEST_F(ReadSmallFileTest, AFileWithMoreThanStatxSaidIsReadWhole) {
  // /proc files say size 0 and have content: the buffer grows past what statx said.
  Fd proc(open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(proc.valid());
  const absl::StatusOr<std::string> status = ReadAt(proc.get(), "status", 1 << 20);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_GT(status->size(), 100u);
  EXPECT_EQ(status->rfind("Name:", 0), 0u) << *status;
  EXPECT_NE(status->find("\nPid:"), std::string::npos);
  // And never past the limit.
  EXPECT_EQ(ErrnoOf(ReadAt(proc.get(), "status", 16).status()), EFBIG);
  EXPECT_EQ(ErrnoOf(ReadAt(proc.get(), "status", 0).status()), EFBIG);
}

TEST_F(ReadSmallFileTest, OnlyRegularFiles) {
  std::filesystem::create_directories(dir_ + "/remote/folder");
  ASSERT_EQ(mkfifo((dir_ + "/remote/fifo").c_str(), 0600), 0);
  std::filesystem::create_symlink(dir_ + "/outside", dir_ + "/remote/link");
  Write(dir_ + "/outside/x", "outside");
  for (const char* name : {"folder", "fifo", "link"}) {
    EXPECT_EQ(ErrnoOf(ReadAt(dir_fd_.get(), name, 100).status()), EINVAL) << name;
  }
  EXPECT_EQ(ErrnoOf(ReadAt(dir_fd_.get(), "missing", 100).status()), ENOENT);
}

}  // namespace
}  // namespace xoi
