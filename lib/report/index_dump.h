// `xo-immutable index dump`: what a remote's index records, for people (text) and scripts (JSON).
#ifndef XOI_LIB_REPORT_INDEX_DUMP_H_
#define XOI_LIB_REPORT_INDEX_DUMP_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "lib/core/index_record.h"

namespace xoi {

struct IndexDump {
  std::string id;
  std::string root;
  std::string dir;                   // <indexPath>/<id>
  absl::Duration duration;           // the remote's immutabilityDuration, for each record's expiry
  std::vector<IndexRecord> records;  // sorted by day, then path
  std::vector<std::string> notices;  // day files that could not be used, migration
  std::string error;                 // non-empty: the index could not be read at all
};

// One line a record: day, state (protected, partial, lifted), kind (file, tree), inode, birth,
// reference, expiry and the escaped path.
std::string FormatIndexDumpText(const std::vector<IndexDump>& dumps);
std::string FormatIndexDumpJson(const std::vector<IndexDump>& dumps);

}  // namespace xoi

#endif  // XOI_LIB_REPORT_INDEX_DUMP_H_
