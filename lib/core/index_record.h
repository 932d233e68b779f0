// One record of the index (lib/fs/index.h) and the day file that holds a day's records. Pure:
// encoding and decoding only.
//
// A record says that this program locked one item (a file, or a directory taken whole) and what
// its expiry counts from. It is keyed by the item's identity (inode number and birth time), never
// by its path: a path can be reused for another inode, and renaming a mutable parent folder moves a
// locked item without changing it; the record follows the inode.
//
// The day file of day D holds the records whose reference time falls on D (UTC), so that the
// records that may have expired are found by file name:
//
//   xo-immutable-index 3 <D> <count>
//   <state> <kind> <dev> <ino> <birth ns> <reference s> <locked-at s> <shared> <path suffix>
//   ...
//   end <first 16 hex digits of the SHA-256 of every line above>
//
// where the state is P (protected), I (protected only in part: the next run finishes it) or L
// (lifted). Fields are separated by one tab; numbers are hex except the times; records are sorted
// by path, and each path is written as the length of the prefix it shares with the previous
// record's path and the rest, percent-escaped (so that a record stays one line whatever the file
// name holds). Paths are remote-relative.
#ifndef XOI_LIB_CORE_INDEX_RECORD_H_
#define XOI_LIB_CORE_INDEX_RECORD_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "lib/core/facts.h"
#include "lib/core/sha256.h"

namespace xoi {

// Who an inode is, across renames and reboots (device numbers can change on reboot).
struct Identity {
  uint64_t ino = 0;
  int64_t birth_ns = 0;

  friend bool operator==(const Identity& a, const Identity& b) {
    return a.ino == b.ino && a.birth_ns == b.birth_ns;
  }
  template <typename H>
  friend H AbslHashValue(H h, const Identity& id) {
    return H::combine(std::move(h), id.ino, id.birth_ns);
  }
};

struct IndexRecord {
  std::string path;  // remote-relative, where the item was last seen
  uint64_t dev = 0;
  uint64_t ino = 0;
  absl::Time birth;
  bool tree = false;  // a directory taken whole
  // What expiry counts from: when the item was finished as this server saw it (the newest change
  // of its content when it was locked), never anything its writer could prepare in advance.
  absl::Time reference;
  // Trees: every member that belongs to the item was born by then; InfinitePast when unknown
  // (adopted items: the directory's own ctime, its lock time, stands in).
  absl::Time locked_at = absl::InfinitePast();
  // Lifted once its time had passed; kept while the item stays at its path, so that XO merging
  // into it later does not make it a new backup to lock for a full duration.
  bool lifted = false;
  // False when the protection stopped half-way (an error, a writer): some of its members are
  // locked, and the next run finishes the job.
  bool complete = true;

  Identity identity() const { return Identity{ino, absl::ToUnixNanos(birth)}; }

  friend bool operator==(const IndexRecord& a, const IndexRecord& b) {
    return a.path == b.path && a.dev == b.dev && a.ino == b.ino && a.birth == b.birth &&
           a.tree == b.tree && a.reference == b.reference && a.locked_at == b.locked_at &&
           a.lifted == b.lifted && a.complete == b.complete;
  }
};

// The record of the inode `st` found at `path`, its expiry counting from `reference`: protected
// (not lifted), complete, a tree's lock time unknown.
IndexRecord RecordOf(std::string path, const FileStat& st, bool tree, absl::Time reference);

// `record` as its day file keeps it: times in whole seconds, the reference rounded down (never
// into the next day) and locked_at up (never leaving out a member that was locked).
IndexRecord Stored(IndexRecord record);

// The day file a record lives in: the UTC day of its reference time.
absl::CivilDay RecordDay(const IndexRecord& record);

// What the index keeps of a record in memory: everything but its path, of which it keeps a hash
// keyed afresh by each process. 32 bytes, so that a million items cost 32 MB of a run's memory;
// the paths stay in the day files. Times are whole seconds, as the day file keeps them.
class RecordSummary {
 public:
  RecordSummary() = default;
  explicit RecordSummary(const IndexRecord& record);

  Identity identity() const { return Identity{ino_, birth_ns_}; }
  absl::Time birth() const { return absl::FromUnixNanos(birth_ns_); }
  absl::Time reference() const { return absl::FromUnixSeconds(reference_s_); }
  absl::Time locked_at() const;
  bool tree() const { return (flags_ & kTree) != 0; }
  bool lifted() const { return (flags_ & kLifted) != 0; }
  bool complete() const { return (flags_ & kIncomplete) == 0; }
  absl::CivilDay day() const;
  // The record was made at `path`. A false "yes" has a chance of 2^-32, different in every run
  // (the key is), which an attacker can neither aim for nor repeat.
  bool IsAt(absl::string_view path) const;
  // What IsAt compares: the key of the path the record was made at.
  uint32_t path_key() const { return path_hash_; }
  static uint32_t PathKey(absl::string_view path);

 private:
  static constexpr uint8_t kTree = 1, kLifted = 2, kIncomplete = 4;
  static constexpr int32_t kLockedAtUnknown = INT32_MIN;

  uint64_t ino_ = 0;
  int64_t birth_ns_ = 0;
  int64_t reference_s_ : 61 = 0;
  uint8_t flags_ : 3 = 0;
  uint32_t path_hash_ = 0;
  // Seconds after the reference; an earlier bound (fewer members lifted with the tree) when far.
  int32_t locked_at_delta_ = kLockedAtUnknown;
};

// Decodes a day file piece by piece, so that a day of a million records is never in memory at
// once: feed it the file's bytes in order, in pieces of any size, then call Finish(). Records go
// to `sink` as they are decoded, but only Finish() says whether the file was whole and intact:
// nothing may be acted on before it returned OK. Errors are those of DecodeDayFile.
class DayFileDecoder {
 public:
  DayFileDecoder(absl::CivilDay day, std::function<void(IndexRecord)> sink);
  ~DayFileDecoder();
  absl::Status Feed(absl::string_view bytes);
  absl::Status Finish();
  // The number of records the header announces (0 until the header was fed): what a caller
  // collecting them reserves room for.
  size_t announced() const { return expected_; }

 private:
  absl::Status Line(absl::string_view line);

  const absl::CivilDay day_;
  std::function<void(IndexRecord)> sink_;
  Sha256 sha_;
  std::string partial_;   // the bytes after the last newline fed
  std::string previous_;  // the previous record's path
  size_t expected_ = 0, records_ = 0, lines_ = 0;
  bool ended_ = false;
  absl::Status status_;
};

// Writes a day file piece by piece, so that a day of a million records is written from a stream
// (the day file's own, merged with a run's changes) and never held: the header, then each record
// in the file's order (by path, then inode and birth time), then the checksum.
class DayFileEncoder {
 public:
  // `records`: how many will be added (the header says it).
  DayFileEncoder(absl::CivilDay day, size_t records);

  void Add(const IndexRecord& record);
  // How many bytes TakeBytes would return.
  size_t pending() const { return out_.size(); }
  // The bytes encoded since the last call.
  std::string TakeBytes();
  // The last bytes, with the checksum; InvalidArgument when the records added are not as many as
  // announced, or out of order (the file would not read back).
  absl::StatusOr<std::string> Finish();

 private:
  const size_t announced_;
  size_t added_ = 0;
  bool ordered_ = true;
  std::string out_;
  std::string previous_;  // the previous record's path
  uint64_t previous_ino_ = 0;
  absl::Time previous_birth_ = absl::InfinitePast();
  Sha256 sha_;
};

// The order of records in a day file.
bool DayFileOrder(const IndexRecord& a, const IndexRecord& b);

// The text of day `day` holding `records` (sorted by path here; all must have that day).
std::string EncodeDayFile(absl::CivilDay day, const std::vector<IndexRecord>& records);
// The same, from records held elsewhere (the index's changes and a day file's stream), so that a
// day of a million records is not copied to be written.
std::string EncodeDayFile(absl::CivilDay day, std::vector<const IndexRecord*> records);

// The records of a day file. InvalidArgument, saying why, for anything that is not a complete,
// intact day file of `day` in this version: truncated, a bad checksum, another version, a record
// of another day.
absl::StatusOr<std::vector<IndexRecord>> DecodeDayFile(absl::CivilDay day, absl::string_view text);

// True for a path below a remote root: relative, without an empty, "." or ".." component or a NUL.
// The index lives outside the remote, but nothing read from a file may lead a flag change out of
// the remote.
bool IsRemotePath(absl::string_view path);

// "YYYY-MM-DD.idx"
std::string DayFileName(absl::CivilDay day);

}  // namespace xoi

#endif  // XOI_LIB_CORE_INDEX_RECORD_H_
