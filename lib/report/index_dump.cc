#include "lib/report/index_dump.h"

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "lib/core/expiry.h"
#include "lib/core/iso_time.h"
#include "lib/core/json_text.h"
#include "lib/core/rules.h"
#include "lib/report/escape.h"

namespace xoi {
namespace {

namespace json = boost::json;

const char* StateName(const IndexRecord& r) {
  return r.lifted ? "lifted" : r.complete ? "protected" : "partial";
}

}  // namespace

std::string FormatIndexDumpText(const std::vector<IndexDump>& dumps) {
  std::string out;
  for (const IndexDump& d : dumps) {
    absl::StrAppend(&out, "remote ", d.id, " (", Printable(d.root), "): ");
    if (!d.error.empty()) {
      absl::StrAppend(&out, "index unreadable: ", Printable(d.error), "\n");
      continue;
    }
    absl::StrAppend(&out, d.records.size(), " records in ", Printable(d.dir), "\n");
    for (const std::string& notice : d.notices) {
      absl::StrAppend(&out, "  notice: ", Printable(notice), "\n");
    }
    for (const IndexRecord& r : d.records) {
      absl::StrAppend(&out, "  ", FormatDay(RecordDay(r)), " ", StateName(r), " ",
                      r.tree ? "tree" : "file", " ino ", r.ino, " born ", IsoTime(r.birth),
                      " reference ", IsoTime(r.reference), " expires ",
                      IsoTime(ItemExpiresAt(r.reference, Settings{d.duration})), " ",
                      PrintablePath(r.path), r.tree ? "/" : "", "\n");
    }
  }
  return out;
}

std::string FormatIndexDumpJson(const std::vector<IndexDump>& dumps) {
  json::array remotes;
  for (const IndexDump& d : dumps) {
    json::object o;
    o["id"] = d.id;
    PutText(o, "root", d.root);
    PutText(o, "index", d.dir);
    if (!d.error.empty()) PutText(o, "error", d.error);
    json::array notices;
    for (const std::string& notice : d.notices) {
      bool valid = true;
      notices.emplace_back(ToUtf8(notice, &valid));
    }
    o["notices"] = std::move(notices);
    json::array records;
    for (const IndexRecord& r : d.records) {
      json::object j;
      j["day"] = FormatDay(RecordDay(r));
      j["state"] = StateName(r);
      j["kind"] = r.tree ? "tree" : "file";
      PutText(j, "path", r.path);
      j["dev"] = r.dev;
      j["ino"] = r.ino;
      j["birth"] = IsoTime(r.birth);
      j["reference"] = IsoTime(r.reference);
      if (r.locked_at != absl::InfinitePast()) j["lockedAt"] = IsoTime(r.locked_at);
      j["expiresAt"] = IsoTime(ItemExpiresAt(r.reference, Settings{d.duration}));
      records.emplace_back(std::move(j));
    }
    o["records"] = std::move(records);
    remotes.emplace_back(std::move(o));
  }
  return json::serialize(json::object{{"remotes", std::move(remotes)}}) + "\n";
}

}  // namespace xoi
