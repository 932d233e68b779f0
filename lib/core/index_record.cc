#include "lib/core/index_record.h"

#include <openssl/sha.h>

#include <algorithm>
#include <optional>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "lib/core/expiry.h"

namespace xoi {
namespace {

constexpr absl::string_view kMagic = "xo-immutable-index";
constexpr int kVersion = 3;
constexpr size_t kChecksumDigits = 16;

// Control characters (a tab or a newline would end the field or the record) and '%' are
// percent-escaped; every other byte is kept as it is (names are bytes on Linux).
void AppendEscaped(absl::string_view text, std::string* out) {
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f || c == '%') {
      absl::StrAppendFormat(out, "%%%02X", c);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
}

std::optional<std::string> Unescape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    int value = 0;
    if (i + 2 >= text.size() || !absl::ascii_isxdigit(text[i + 1]) ||
        !absl::ascii_isxdigit(text[i + 2]) || !absl::SimpleHexAtoi(text.substr(i + 1, 2), &value)) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(value));
    i += 2;
  }
  return out;
}

std::string Checksum(absl::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return absl::BytesToHexString(
             absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)))
      .substr(0, kChecksumDigits);
}

absl::Status Corrupt(absl::CivilDay day, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("day file ", DayFileName(day), ": ", why));
}

size_t SharedPrefix(absl::string_view a, absl::string_view b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

int64_t FloorSeconds(absl::Time t) { return absl::ToUnixSeconds(t); }

int64_t CeilSeconds(absl::Time t) {
  const int64_t floor = absl::ToUnixSeconds(t);
  return absl::FromUnixSeconds(floor) < t ? floor + 1 : floor;
}

bool ParseHex(absl::string_view text, uint64_t* out) { return absl::SimpleHexAtoi(text, out); }

}  // namespace

bool IsRemotePath(absl::string_view path) {
  if (path.empty() || path.find('\0') != absl::string_view::npos) return false;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty() || part == "." || part == "..") return false;
  }
  return true;
}

absl::CivilDay RecordDay(const IndexRecord& record) { return CreationDay(record.reference); }

std::string DayFileName(absl::CivilDay day) { return absl::StrCat(FormatDay(day), ".idx"); }

std::string EncodeDayFile(absl::CivilDay day, std::vector<IndexRecord> records) {
  // By path; records of one path (a path reused by another inode) by identity.
  std::sort(records.begin(), records.end(), [](const IndexRecord& a, const IndexRecord& b) {
    return std::tie(a.path, a.ino, a.birth) < std::tie(b.path, b.ino, b.birth);
  });
  std::string out =
      absl::StrCat(kMagic, " ", kVersion, " ", FormatDay(day), " ", records.size(), "\n");
  absl::string_view previous;
  for (const IndexRecord& r : records) {
    const size_t shared = SharedPrefix(previous, r.path);
    const bool locked_at_known = r.locked_at != absl::InfinitePast();
    absl::StrAppend(&out, r.lifted ? "L" : (r.complete ? "P" : "I"), "\t", r.tree ? "t" : "f", "\t",
                    absl::Hex(r.dev), "\t", absl::Hex(r.ino), "\t", absl::ToUnixNanos(r.birth),
                    "\t", FloorSeconds(r.reference), "\t",
                    locked_at_known ? absl::StrCat(CeilSeconds(r.locked_at)) : "-", "\t", shared,
                    "\t");
    AppendEscaped(absl::string_view(r.path).substr(shared), &out);
    out.push_back('\n');
    previous = r.path;
  }
  absl::StrAppend(&out, "end\t", Checksum(out), "\n");
  return out;
}

absl::StatusOr<std::vector<IndexRecord>> DecodeDayFile(absl::CivilDay day, absl::string_view text) {
  const size_t end = text.rfind("end\t");
  if (end == absl::string_view::npos || (end > 0 && text[end - 1] != '\n')) {
    return Corrupt(day, "truncated (no end line)");
  }
  absl::string_view tail = text.substr(end + 4);
  if (!absl::ConsumeSuffix(&tail, "\n") || tail != Checksum(text.substr(0, end))) {
    return Corrupt(day, "bad checksum");
  }
  std::vector<absl::string_view> lines = absl::StrSplit(text.substr(0, end), '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (lines.empty()) return Corrupt(day, "no header");
  const std::vector<absl::string_view> header = absl::StrSplit(lines[0], ' ');
  size_t count = 0;
  if (header.size() != 4 || header[0] != kMagic) return Corrupt(day, "not a day file");
  if (header[1] != absl::StrCat(kVersion)) {
    return Corrupt(day,
                   absl::StrCat("version ", header[1], " (this program reads ", kVersion, ")"));
  }
  if (header[2] != FormatDay(day) || !absl::SimpleAtoi(header[3], &count) ||
      count != lines.size() - 1) {
    return Corrupt(day, "header does not match its records");
  }
  std::vector<IndexRecord> records;
  records.reserve(count);
  std::string previous;
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::vector<absl::string_view> f = absl::StrSplit(lines[i], '\t');
    IndexRecord r;
    int64_t birth_ns = 0, reference = 0, locked_at = 0;
    size_t shared = 0;
    std::optional<std::string> suffix;
    if (f.size() != 9 || (f[0] != "P" && f[0] != "I" && f[0] != "L") ||
        (f[1] != "f" && f[1] != "t") || !ParseHex(f[2], &r.dev) || !ParseHex(f[3], &r.ino) ||
        !absl::SimpleAtoi(f[4], &birth_ns) || !absl::SimpleAtoi(f[5], &reference) ||
        (f[6] != "-" && !absl::SimpleAtoi(f[6], &locked_at)) || !absl::SimpleAtoi(f[7], &shared) ||
        shared > previous.size() || !(suffix = Unescape(f[8]))) {
      return Corrupt(day, absl::StrCat("record ", i, " is malformed"));
    }
    r.lifted = f[0] == "L";
    r.complete = f[0] != "I";
    r.tree = f[1] == "t";
    r.birth = absl::FromUnixNanos(birth_ns);
    r.reference = absl::FromUnixSeconds(reference);
    r.locked_at = f[6] == "-" ? absl::InfinitePast() : absl::FromUnixSeconds(locked_at);
    r.path = absl::StrCat(absl::string_view(previous).substr(0, shared), *suffix);
    if (!IsRemotePath(r.path) || r.path < previous || RecordDay(r) != day) {
      return Corrupt(day, absl::StrCat("record ", i, " is out of order or of another day"));
    }
    previous = r.path;
    records.push_back(std::move(r));
  }
  return records;
}

}  // namespace xoi
