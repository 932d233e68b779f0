#include "lib/core/index_record.h"

#include <openssl/rand.h>

#include <algorithm>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "lib/core/expiry.h"
#include "lib/core/sha256.h"
#include "lib/core/status.h"

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
  const int64_t floor = absl::ToUnixSeconds(t);  // saturates for an infinite time
  return floor != INT64_MAX && absl::FromUnixSeconds(floor) < t ? floor + 1 : floor;
}

bool ParseHex(absl::string_view text, uint64_t* out) { return absl::SimpleHexAtoi(text, out); }

// Keyed by a secret drawn once per process, so that no one who names files can aim for a
// collision.
uint64_t PathHash(absl::string_view path) {
  static const uint64_t key = [] {
    uint64_t k = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&k), sizeof(k)) != 1) {
      k = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
    }
    return k;
  }();
  return absl::HashOf(key, path);
}

}  // namespace

bool IsRemotePath(absl::string_view path) {
  if (path.empty() || path.find('\0') != absl::string_view::npos) return false;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty() || part == "." || part == "..") return false;
  }
  return true;
}

IndexRecord RecordOf(std::string path, const FileStat& st, bool tree, absl::Time reference) {
  IndexRecord record;
  record.path = std::move(path);
  record.dev = st.dev;
  record.ino = st.ino;
  record.birth = st.birth;
  record.tree = tree;
  record.reference = reference;
  return record;
}

IndexRecord Stored(IndexRecord record) {
  record.reference = absl::FromUnixSeconds(FloorSeconds(record.reference));
  if (record.locked_at != absl::InfinitePast()) {
    record.locked_at = absl::FromUnixSeconds(CeilSeconds(record.locked_at));
  }
  return record;
}

absl::CivilDay RecordDay(const IndexRecord& record) { return CreationDay(record.reference); }

std::string DayFileName(absl::CivilDay day) { return absl::StrCat(FormatDay(day), ".idx"); }

bool DayFileOrder(const IndexRecord& a, const IndexRecord& b) {
  // By path; records of one path (a path reused by another inode) by identity.
  return std::tie(a.path, a.ino, a.birth) < std::tie(b.path, b.ino, b.birth);
}

DayFileEncoder::DayFileEncoder(absl::CivilDay day, size_t records)
    : announced_(records),
      out_(absl::StrCat(kMagic, " ", kVersion, " ", FormatDay(day), " ", records, "\n")) {}

void DayFileEncoder::Add(const IndexRecord& r) {
  if (added_ > 0) {
    ordered_ &=
        std::tie(previous_, previous_ino_, previous_birth_) < std::tie(r.path, r.ino, r.birth);
  }
  ++added_;
  const size_t shared = SharedPrefix(previous_, r.path);
  const bool locked_at_known = r.locked_at != absl::InfinitePast();
  absl::StrAppend(&out_, r.lifted ? "L" : (r.complete ? "P" : "I"), "\t", r.tree ? "t" : "f", "\t",
                  absl::Hex(r.dev), "\t", absl::Hex(r.ino), "\t", absl::ToUnixNanos(r.birth), "\t",
                  FloorSeconds(r.reference), "\t",
                  locked_at_known ? absl::StrCat(CeilSeconds(r.locked_at)) : "-", "\t", shared,
                  "\t");
  AppendEscaped(absl::string_view(r.path).substr(shared), &out_);
  out_.push_back('\n');
  previous_ = r.path;
  previous_ino_ = r.ino;
  previous_birth_ = r.birth;
}

std::string DayFileEncoder::TakeBytes() {
  sha_.Update(out_);
  std::string bytes;
  bytes.swap(out_);
  return bytes;
}

absl::StatusOr<std::string> DayFileEncoder::Finish() {
  if (added_ != announced_ || !ordered_) {
    return absl::InvalidArgumentError(absl::StrCat("day file of ", announced_, " records given ",
                                                   added_, ordered_ ? "" : ", out of order"));
  }
  std::string last = TakeBytes();
  absl::StrAppend(&last, "end\t", sha_.HexDigest().substr(0, kChecksumDigits), "\n");
  return last;
}

std::string EncodeDayFile(absl::CivilDay day, std::vector<const IndexRecord*> records) {
  std::sort(records.begin(), records.end(),
            [](const IndexRecord* a, const IndexRecord* b) { return DayFileOrder(*a, *b); });
  DayFileEncoder encoder(day, records.size());
  for (const IndexRecord* record : records) encoder.Add(*record);
  std::string out = encoder.TakeBytes();
  absl::StrAppend(&out, *encoder.Finish());  // as many, and in order: sorted above
  return out;
}

std::string EncodeDayFile(absl::CivilDay day, const std::vector<IndexRecord>& records) {
  std::vector<const IndexRecord*> pointers;
  pointers.reserve(records.size());
  for (const IndexRecord& r : records) pointers.push_back(&r);
  return EncodeDayFile(day, std::move(pointers));
}

absl::StatusOr<std::vector<IndexRecord>> DecodeDayFile(absl::CivilDay day, absl::string_view text) {
  std::vector<IndexRecord> records;
  DayFileDecoder decoder(day, [&](IndexRecord r) { records.push_back(std::move(r)); });
  XOI_RETURN_IF_ERROR(decoder.Feed(text));
  XOI_RETURN_IF_ERROR(decoder.Finish());
  return records;
}

static_assert(sizeof(RecordSummary) == 32, "a million records must cost 32 MB");

RecordSummary::RecordSummary(const IndexRecord& record)
    : ino_(record.ino),
      birth_ns_(absl::ToUnixNanos(record.birth)),
      reference_s_(FloorSeconds(record.reference)),
      flags_((record.tree ? kTree : 0) | (record.lifted ? kLifted : 0) |
             (record.complete ? 0 : kIncomplete)),
      path_hash_(static_cast<uint32_t>(PathHash(record.path))) {
  if (record.locked_at != absl::InfinitePast()) {
    // Durations saturate where seconds would overflow (an infinite locked_at, a far reference).
    const int64_t delta = absl::ToInt64Seconds(
        absl::Ceil(record.locked_at - absl::FromUnixSeconds(reference_s_), absl::Seconds(1)));
    locked_at_delta_ = static_cast<int32_t>(std::clamp<int64_t>(delta, INT32_MIN + 1, INT32_MAX));
  }
}

absl::Time RecordSummary::locked_at() const {
  return locked_at_delta_ == kLockedAtUnknown
             ? absl::InfinitePast()
             : absl::FromUnixSeconds(reference_s_ + locked_at_delta_);
}

absl::CivilDay RecordSummary::day() const { return CreationDay(reference()); }

uint32_t RecordSummary::PathKey(absl::string_view path) {
  return static_cast<uint32_t>(PathHash(path));
}

bool RecordSummary::IsAt(absl::string_view path) const { return path_hash_ == PathKey(path); }

DayFileDecoder::DayFileDecoder(absl::CivilDay day, std::function<void(IndexRecord)> sink)
    : day_(day), sink_(std::move(sink)) {}

DayFileDecoder::~DayFileDecoder() = default;

absl::Status DayFileDecoder::Feed(absl::string_view bytes) {
  while (status_.ok() && !bytes.empty()) {
    const size_t newline = bytes.find('\n');
    if (newline == absl::string_view::npos) {
      partial_.append(bytes.data(), bytes.size());
      break;
    }
    if (partial_.empty()) {
      status_ = Line(bytes.substr(0, newline));
    } else {
      partial_.append(bytes.data(), newline);
      status_ = Line(partial_);
      partial_.clear();
    }
    bytes.remove_prefix(newline + 1);
  }
  return status_;
}

absl::Status DayFileDecoder::Finish() {
  XOI_RETURN_IF_ERROR(status_);
  if (!ended_ || !partial_.empty()) return Corrupt(day_, "truncated (no end line)");
  if (records_ != expected_) return Corrupt(day_, "header does not match its records");
  return absl::OkStatus();
}

absl::Status DayFileDecoder::Line(absl::string_view line) {
  if (ended_) return Corrupt(day_, "truncated (no end line)");  // bytes after the end line
  if (absl::string_view sum = line; absl::ConsumePrefix(&sum, "end\t")) {
    const std::string hex = sha_.HexDigest();
    if (sum != absl::string_view(hex).substr(0, kChecksumDigits)) {
      return Corrupt(day_, "bad checksum");
    }
    ended_ = true;
    return lines_ == 0 ? Corrupt(day_, "no header") : absl::OkStatus();
  }
  sha_.Update(line);
  sha_.Update("\n");
  if (lines_++ == 0) {
    const std::vector<absl::string_view> header = absl::StrSplit(line, ' ');
    if (header.size() != 4 || header[0] != kMagic) return Corrupt(day_, "not a day file");
    if (header[1] != absl::StrCat(kVersion)) {
      return Corrupt(day_,
                     absl::StrCat("version ", header[1], " (this program reads ", kVersion, ")"));
    }
    if (header[2] != FormatDay(day_) || !absl::SimpleAtoi(header[3], &expected_)) {
      return Corrupt(day_, "header does not match its records");
    }
    return absl::OkStatus();
  }
  const size_t i = ++records_;
  if (i > expected_) return Corrupt(day_, "header does not match its records");
  const std::vector<absl::string_view> f = absl::StrSplit(line, '\t');
  IndexRecord r;
  int64_t birth_ns = 0, reference = 0, locked_at = 0;
  size_t shared = 0;
  std::optional<std::string> suffix;
  if (f.size() != 9 || (f[0] != "P" && f[0] != "I" && f[0] != "L") ||
      (f[1] != "f" && f[1] != "t") || !ParseHex(f[2], &r.dev) || !ParseHex(f[3], &r.ino) ||
      !absl::SimpleAtoi(f[4], &birth_ns) || !absl::SimpleAtoi(f[5], &reference) ||
      (f[6] != "-" && !absl::SimpleAtoi(f[6], &locked_at)) || !absl::SimpleAtoi(f[7], &shared) ||
      shared > previous_.size() || !(suffix = Unescape(f[8]))) {
    return Corrupt(day_, absl::StrCat("record ", i, " is malformed"));
  }
  r.lifted = f[0] == "L";
  r.complete = f[0] != "I";
  r.tree = f[1] == "t";
  r.birth = absl::FromUnixNanos(birth_ns);
  r.reference = absl::FromUnixSeconds(reference);
  r.locked_at = f[6] == "-" ? absl::InfinitePast() : absl::FromUnixSeconds(locked_at);
  r.path = absl::StrCat(absl::string_view(previous_).substr(0, shared), *suffix);
  if (!IsRemotePath(r.path) || r.path < previous_ || RecordDay(r) != day_) {
    return Corrupt(day_, absl::StrCat("record ", i, " is out of order or of another day"));
  }
  previous_ = r.path;
  sink_(std::move(r));
  return absl::OkStatus();
}

}  // namespace xoi
