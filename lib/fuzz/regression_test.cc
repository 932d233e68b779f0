// Every input in testdata/fuzz/<target>/ (seeds, and the crashes fuzzing found) must go through
// its target without crashing or breaking an invariant.
#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "lib/fuzz/fuzz_targets.h"
#include "lib/testing/scratch.h"

namespace xoi::fuzz {
namespace {

size_t ReplayCorpus(const std::string& target, void (*fn)(const uint8_t*, size_t)) {
  size_t replayed = 0;
  for (const auto& file :
       std::filesystem::directory_iterator(testing::Runfile("testdata/fuzz/" + target))) {
    const std::string input = testing::ReadFile(file.path().string());
    SCOPED_TRACE(file.path().string());
    fn(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    ++replayed;
  }
  return replayed;
}

TEST(FuzzRegressionTest, ConfigParser) { EXPECT_GE(ReplayCorpus("config", ConfigParser), 3u); }
TEST(FuzzRegressionTest, DurationParser) {
  EXPECT_GE(ReplayCorpus("duration", DurationParser), 5u);
}
TEST(FuzzRegressionTest, GlobCompiler) { EXPECT_GE(ReplayCorpus("glob", GlobCompiler), 2u); }
TEST(FuzzRegressionTest, IndexEntryDecoder) {
  EXPECT_GE(ReplayCorpus("index_entry", IndexEntryDecoder), 3u);
}
TEST(FuzzRegressionTest, MarkerParser) { EXPECT_GE(ReplayCorpus("marker", MarkerParser), 3u); }
TEST(FuzzRegressionTest, AliasParser) { EXPECT_GE(ReplayCorpus("alias", AliasParser), 3u); }
TEST(FuzzRegressionTest, RunMetadataParser) {
  EXPECT_GE(ReplayCorpus("run_metadata", RunMetadataParser), 3u);
}
TEST(FuzzRegressionTest, ClockRecordDecoder) {
  EXPECT_GE(ReplayCorpus("clock_record", ClockRecordDecoder), 2u);
}
TEST(FuzzRegressionTest, HoldFileDecoder) {
  EXPECT_GE(ReplayCorpus("hold_file", HoldFileDecoder), 2u);
}
TEST(FuzzRegressionTest, DayFileDecoder) {
  EXPECT_GE(ReplayCorpus("day_file", DayFileDecoder), 1u);
}

}  // namespace
}  // namespace xoi::fuzz
