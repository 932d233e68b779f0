// The rules: every decision the program makes about a remote, as functions from facts to plan
// entries. Every reason the program ever has to clear a flag is in rules.cc.
//
//   Decide()           one item the walk found
//   DecideUnreached()  an index record the walk did not reach
//   PlanRemoteFiles()  the remote's own files: immutability.json, XO's
//   encryption.json/metadata.json PlanSweep()        locked inodes no glob reaches any more
//   (`xo-immutable sweep`)
//
// (The guards that hold lifts back, the mass-lift guard and the time-shift policy, are in
// guards.h.)
//
// When an item expires. An item's expiry counts from its reference: when it was finished as this
// server saw it, the newest change (ctime) of its content when it was locked, recorded in the
// index. ctime is set by the kernel on every write, rename and link and cannot be moved back by
// anyone but root, so a writer cannot prepare an old inode, fill it with a new backup and have it
// look old: its birth time can be old, its ctime cannot. An item locked by someone else (XO's
// daemon) and not in the index is adopted with its ctime, which for an immutable inode is when it
// was locked (AdoptedReference); so are the backup folders XO's daemon locked whole
// (IsXoBackupFolder), which the walk reports as items taken whole. An item is expired from the
// start of the UTC day after its reference day plus the duration: never lifted before, at most a
// day after.
//
// No system call, no clock read, no file read: facts that cost I/O are asked for through the
// *Facts interfaces, and only when a rule needs them, so that the steady state (an immutable,
// indexed, unexpired item) costs none. lib/run implements them on a real remote; the tests with
// tables of fixed answers.
#ifndef XOI_LIB_CORE_RULES_H_
#define XOI_LIB_CORE_RULES_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "lib/core/facts.h"
#include "lib/core/glob_set.h"
#include "lib/core/index_record.h"
#include "lib/core/plan.h"
#include "lib/core/xo_layout.h"

namespace xoi {

struct Settings {
  absl::Duration duration;  // zero: lift everything, protect nothing
  absl::Duration settle;
  absl::Duration orphan_grace;
  // Also verify every member of protected trees (steady state otherwise reads only the
  // directory's own flag), for operators who suspect tampering by root.
  bool deep = false;
  // How far the wall clock is behind what the clock record proves (guards.h): added to references.
  absl::Duration clock_lag;
  // The wall clock moved (a time shift, guards.h): lifts are held back elsewhere, and here no
  // finished backup is judged too old to be locked, since the clock saying so is the one moved.
  bool clock_shifted = false;
};

// ---------------------------------------------------------------------------------------------
// One item.

// A member of a tree that can never be locked: a FIFO, socket, device or symlink (inert once the
// folder holding it is locked), a file with other hard links (locking it would lock its other
// names, possibly outside the remote), or another filesystem mounted inside. The tree is locked
// without it, and it is reported.
struct OddMember {
  std::string path;  // remote-relative
  std::string why;
};

// What changed last in a still-mutable item: for a file its ctime; for a tree the newest ctime of
// the directory and of its members that are not immutable yet (our own flag changes touch ctime
// too, so immutable members are left out).
struct ChangeFacts {
  absl::Time newest_change;
  uint64_t mutable_members = 0;  // trees: members without the flag
  // Trees: members someone else locked already, in a folder nobody locked (XO's daemon v1 locked a
  // VHD directory's bat, header and footer, never the folder), and the newest of their lock times
  // (ctime, which nobody but root can move).
  uint64_t locked_members = 0;
  absl::Time newest_lock = absl::InfinitePast();
  std::vector<OddMember> odd_members;
  // Trees: why not every member could be examined (the first error, with its path); the newest
  // change is then unknown (InfiniteFuture) and the tree waits.
  std::string unexamined;
};

// Facts about one walked item that cost I/O, computed on demand.
class ItemFacts {
 public:
  virtual ~ItemFacts() = default;
  virtual ChangeFacts Changes() = 0;
  virtual RunCheck Run() = 0;
  // Whether the index has a record, made at the item's path, of another item lifted once there.
  virtual bool LiftedHere() = 0;
};

// What Decide() says about an item: an action, warnings, both or neither.
struct Decision {
  std::optional<Action> action;
  std::vector<Warning> warnings;
};

// Decides for `item`, found by the walk, whose index record (found by its identity) is `record`,
// or nullptr.
Decision Decide(const Candidate& item, const RecordSummary* record, const Settings& settings,
                absl::Time now, ItemFacts& facts);

// The reference of an immutable item the index does not know (adopted: locked by XO's daemon, or
// by a run killed before it recorded it): when it was locked, its ctime, which nobody but root can
// move; never before its birth (a clock stepped back between the two). Never the birth time alone:
// a writer can create a folder days ahead, have a new backup written into it and XO's daemon lock
// it, and a birth-time reference would then lift it days early. For XO's daemon, which locked a
// backup as soon as it was written, the two are minutes apart. Corrected for a clock that was
// behind, like any reference.
absl::Time AdoptedReference(const FileStat& st, const Settings& settings);

// The first instant at which an item whose expiry counts from `reference` may be lifted.
absl::Time ItemExpiresAt(absl::Time reference, const Settings& settings);

// ---------------------------------------------------------------------------------------------
// An index record the walk did not reach: the item vanished, was moved out of the globs' reach,
// was replaced by another inode, or the globs changed.

class UnreachedFacts {
 public:
  virtual ~UnreachedFacts() = default;
  // What `relative` (below the remote root, never through a symlink or a mount) holds now;
  // nullopt when it is gone or cannot be examined.
  virtual std::optional<FileStat> StatBeneath(const std::string& relative) = 0;
};

// Adds to `plan` what to do about `record`: lift it (expired, and its path still holds the indexed
// inode, locked), drop it (expired and already mutable, or a lifted item that left its path), or
// warn (kept for the sweep). Never lifts an inode other than the indexed one.
void DecideUnreached(const IndexRecord& record, const Settings& settings, absl::Time now,
                     UnreachedFacts& facts, Plan* plan);

// ---------------------------------------------------------------------------------------------
// The remote's own files at its root.

class RemoteFileFacts {
 public:
  virtual ~RemoteFileFacts() = default;
  // The root file `name` (kMarkerName or one of kXoRootFiles); nullopt when missing.
  virtual std::optional<FileStat> Stat(const char* name) = 0;
  // XO has initialised the remote: its root holds an `xo-*` folder or one of kXoRootFiles.
  virtual bool Initialised() = 0;
  // immutability.json's content; nullopt when it cannot be read.
  virtual std::optional<std::string> MarkerContent() = 0;
};

// XO's content of immutability.json: {"since":<ms>,"immutable":true,"duration":<ms>}.
std::string MarkerContent(absl::Time since, absl::Duration duration);

// What an existing immutability.json says. Anything the remote's writer put there is read
// defensively: every field is optional and no value is trusted to fit.
struct MarkerFields {
  std::optional<absl::Time> since;
  std::optional<int64_t> duration_ms;
  bool immutable = false;
};
MarkerFields ParseMarker(absl::string_view content);

// Adds to `plan` what to do with immutability.json and XO's root files. Nothing is written into a
// root XO has not initialised yet: XO refuses to create an encrypted remote in a folder that holds
// anything. With duration 0, the marker's removal waits until every lift of the plan took effect.
void PlanRemoteFiles(const Settings& settings, absl::Time now, RemoteFileFacts& facts, Plan* plan);

// ---------------------------------------------------------------------------------------------
// Switching from XO's daemon: the index its v1 kept (lib/fs/xo_daemon.h), read once.

// One entry of that index.
struct XoIndexEntry {
  absl::CivilDay day;  // its day folder: the file's birth day as XO's daemon saw it
  std::string path;    // absolute
};

class XoIndexFacts : public UnreachedFacts {
 public:
  // True when the index already records `st`'s inode, or this run's plan already adopts it.
  virtual bool Known(const FileStat& st) = 0;
};

// What became of the entries.
struct XoIndexImport {
  uint64_t imported = 0;  // still locked at their path: recorded
  uint64_t known = 0;     // already in the index, or adopted by the walk
  uint64_t vanished = 0;  // nothing at their path any more
  uint64_t unlocked = 0;  // at their path, but not immutable (or neither a file nor a folder)
  uint64_t within = 0;    // members of an item taken whole (a VHD directory): handled with it
  uint64_t outside = 0;   // not below this remote's root
};

// Adds to `plan` an index action for each entry still locked at its path (statx: the inode there
// now, whatever the entry says), with the reference any adopted item gets (AdoptedReference): the
// entry only names a path to look at, and its day is never a reason to lift anything earlier. Adds
// a notice with the counts.
XoIndexImport PlanXoIndexImport(const std::vector<XoIndexEntry>& entries, absl::string_view root,
                                const std::string& source, const GlobSet& globs,
                                const Settings& settings, XoIndexFacts& facts, Plan* plan);

// ---------------------------------------------------------------------------------------------
// The sweep: a writer can rename the mutable parent folder of a locked file out of the globs'
// reach, where the regular run never sees it again.

// A record, and whether the sweep's walk found its inode anywhere in the remote.
struct SweptRecord {
  IndexRecord record;
  bool found = false;
};

// A locked inode the regular run cannot reach.
struct LockedInode {
  std::string path;  // remote-relative
  FileStat stat;
};

struct SweepFacts {
  std::vector<SweptRecord> indexed;
  std::vector<LockedInode> unreached;  // sorted by path
};

// True when the regular run reaches `path` (remote-relative) holding an inode like `st`: a file
// item, a tree item, a member of one, or one of the remote's own files.
bool ReachedByRun(const GlobSet& globs, const std::string& path, const FileStat& st);

// Adds to `plan`: lift what the index knows (same inode and birth time) once expired; warn about
// what it does not know (never lifted) and what has not expired yet; drop records whose inode
// exists nowhere in the remote once expired.
void PlanSweep(const SweepFacts& facts, const Settings& settings, absl::Time now, Plan* plan);

}  // namespace xoi

#endif  // XOI_LIB_CORE_RULES_H_
