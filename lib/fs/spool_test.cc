#include "lib/fs/spool.h"

#include <cerrno>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/core/status.h"
#include "lib/fs/fake_file_system.h"
#include "lib/testing/scratch.h"

namespace xoi {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::xoi::testing::ScratchDir;
using Records = std::vector<std::pair<std::string, std::string>>;

Records All(Spool& spool) {
  Records out;
  const absl::Status status = spool.ForEach([&](absl::string_view key, absl::string_view value) {
    out.emplace_back(key, value);
    return true;
  });
  EXPECT_TRUE(status.ok()) << status;
  return out;
}

TEST(SpoolTest, InMemoryRecordsComeBackInKeyOrder) {
  const ScratchDir scratch;
  const std::string& dir = scratch.path();
  Spool spool(RealFileSystem(), dir);
  ASSERT_TRUE(spool.Add("b", "2").ok());
  ASSERT_TRUE(spool.Add("a", "1").ok());
  ASSERT_TRUE(spool.Add("c", "3").ok());
  EXPECT_EQ(spool.runs(), 0u);
  EXPECT_EQ(spool.size(), 3u);
  EXPECT_THAT(All(spool), ElementsAre(std::pair<std::string, std::string>("a", "1"),
                                      std::pair<std::string, std::string>("b", "2"),
                                      std::pair<std::string, std::string>("c", "3")));
}

// The plan of a first run over a million items must not sit in memory: beyond the budget the
// records go to disk in sorted runs and come back merged, in order, equal keys in the order added,
// whatever bytes keys and values hold.
TEST(SpoolTest, SpillsBeyondTheBudgetAndMergesTheRunsInOrder) {
  const ScratchDir scratch;
  const std::string& dir = scratch.path();
  Spool spool(RealFileSystem(), dir, /*memory_budget=*/4096);
  Records want;
  for (int i = 0; i < 5000; ++i) {
    // Keys repeat (i % 1000) and hold NULs and high bytes; values say which copy they are.
    std::string key = absl::StrFormat("%04d", (i * 7919) % 1000);
    key += std::string("\0\xff", 2);
    const std::string value = absl::StrCat("copy-", i, std::string(i % 50, 'x'));
    ASSERT_TRUE(spool.Add(key, value).ok());
    want.emplace_back(key, value);
  }
  EXPECT_GT(spool.runs(), 10u);
  std::stable_sort(want.begin(), want.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  EXPECT_EQ(All(spool), want);
  // Readable again, and nothing was left in the folder (unnamed files).
  EXPECT_EQ(All(spool), want);
  EXPECT_TRUE(std::filesystem::is_empty(dir));
}

TEST(SpoolTest, StopsWhenTheCallerSaysSo) {
  const ScratchDir scratch;
  const std::string& dir = scratch.path();
  Spool spool(RealFileSystem(), dir, /*memory_budget=*/256);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(spool.Add(absl::StrFormat("%03d", i), "v").ok());
  std::vector<std::string> seen;
  ASSERT_TRUE(spool
                  .ForEach([&](absl::string_view key, absl::string_view) {
                    seen.emplace_back(key);
                    return seen.size() < 3;
                  })
                  .ok());
  EXPECT_THAT(seen, ElementsAre("000", "001", "002"));
}

TEST(SpoolTest, EmptySpoolVisitsNothing) {
  const ScratchDir scratch;
  Spool spool(RealFileSystem(), scratch.path());
  EXPECT_THAT(All(spool), IsEmpty());
}

// A full disk while spilling is an error the caller reports, never a silently shorter plan.
TEST(SpoolTest, AFailedSpillIsAnError) {
  const ScratchDir scratch;
  const std::string& dir = scratch.path();
  FakeFileSystem fs;
  fs.Fail(FakeFileSystem::Op::kWrite, "(spool)", ENOSPC);
  Spool spool(fs, dir, /*memory_budget=*/256);
  absl::Status status;
  for (int i = 0; i < 100 && status.ok(); ++i) status = spool.Add(absl::StrCat(i), "value");
  EXPECT_EQ(ErrnoOf(status), ENOSPC) << status;
  EXPECT_THAT(status.message(), HasSubstr("spool"));
}

TEST(SpoolTest, AReadErrorWhileMergingIsAnError) {
  const ScratchDir scratch;
  const std::string& dir = scratch.path();
  FakeFileSystem fs;
  Spool spool(fs, dir, /*memory_budget=*/256);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(spool.Add(absl::StrFormat("%03d", i), "v").ok());
  ASSERT_GT(spool.runs(), 0u);
  fs.Fail(FakeFileSystem::Op::kRead, "(spool)", EIO);
  const absl::Status status =
      spool.ForEach([](absl::string_view, absl::string_view) { return true; });
  EXPECT_FALSE(status.ok());
}

}  // namespace
}  // namespace xoi
