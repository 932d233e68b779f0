// Test helpers: an Index's records read back whole, as a test compares them.
#ifndef XOI_LIB_FS_INDEX_TESTING_H_
#define XOI_LIB_FS_INDEX_TESTING_H_

#include <algorithm>
#include <optional>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "lib/fs/index.h"

namespace xoi {

// Every record as it stands, by path (then identity); a failed read fails the test.
inline std::vector<IndexRecord> AllRecords(const Index& index) {
  std::vector<IndexRecord> records;
  const absl::Status read =
      index.ForEach([&](const IndexRecord& record) { records.push_back(record); });
  EXPECT_TRUE(read.ok()) << read;
  std::sort(records.begin(), records.end(), [](const IndexRecord& a, const IndexRecord& b) {
    return std::tie(a.path, a.ino, a.birth) < std::tie(b.path, b.ino, b.birth);
  });
  return records;
}

// The whole record of `id`, path included, or nullopt.
inline std::optional<IndexRecord> FindRecord(const Index& index, const Identity& id) {
  std::optional<IndexRecord> found;
  const absl::Status read =
      index.ForEach([&](const RecordSummary& summary) { return summary.identity() == id; },
                    [&](const IndexRecord& record) { found = record; });
  EXPECT_TRUE(read.ok()) << read;
  return found;
}

}  // namespace xoi

#endif  // XOI_LIB_FS_INDEX_TESTING_H_
