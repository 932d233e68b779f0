// The set of backup globs, compiled once into a tree of path segments.
//
// A pattern is a relative path whose segments are literals ("vdis") or wildcards using `*` (any
// run of characters but `/`) and `?` (one character); `{a,b}` alternatives are expanded when
// compiling. A pattern names FILE items; a pattern ending in `/` names TREE items: a directory
// taken whole with everything below it (an XO "VHD directory").
//
// Some names are never matched by any segment, whatever the patterns say: names starting with `.`
// (XO's temporary files), names ending in `.lock` (lock folders), and `cache.json.gz` (XO's cache,
// rewritten freely).
//
// The walker keeps, per directory, a State: the tree nodes the directory's path reached. From it,
// Advance() answers for a child name both "is it an item?" and "can anything below it be one?", so
// that directories no pattern can reach are never listed. Thread-safe after Compile().
#ifndef XOI_LIB_CORE_GLOB_SET_H_
#define XOI_LIB_CORE_GLOB_SET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace xoi {

class GlobSet {
 public:
  using State = absl::InlinedVector<uint32_t, 4>;

  struct Step {
    State next;              // nodes reached by the child; empty: nothing below it can match
    bool file_item = false;  // the child matches a file pattern
    bool tree_item = false;  // the child matches a tree pattern
    bool descend() const { return !next.empty(); }
  };

  // Compiles `patterns`. Errors (InvalidArgument) quote the faulty pattern and say why: absolute
  // path, empty, `.`/`..` or dot-leading segment, `**`, `[...]`, `\`, unbalanced braces.
  static absl::StatusOr<GlobSet> Compile(absl::Span<const std::string> patterns);

  // The default patterns: every file of a finished XO backup (VM, config and pool metadata).
  static const std::vector<std::string>& DefaultPatterns();

  // True for names no pattern ever matches (see the file comment).
  static bool IsExcludedName(absl::string_view name);

  // The state of the remote root.
  State Start() const { return State{0}; }

  // What child `name` of a directory in state `from` is.
  void Advance(const State& from, absl::string_view name, Step* step) const;

  // When every segment that can follow `from` is a literal, stores those names in `names` (without
  // duplicates) and returns true: the caller may look them up instead of listing the directory.
  bool LiteralChildren(const State& from, std::vector<std::string>* names) const;

  // The patterns as compiled (after brace expansion), for reports.
  const std::vector<std::string>& patterns() const { return patterns_; }

 private:
  struct Edge {
    std::string segment;
    bool literal;
    uint32_t target;
  };
  struct Node {
    std::vector<Edge> edges;
    bool file_item = false;
    bool tree_item = false;
  };

  absl::Status Add(absl::string_view pattern, absl::string_view original);

  std::vector<Node> nodes_;
  std::vector<std::string> patterns_;
};

// True when `name` matches the single-segment wildcard `segment` (`*` and `?`; no `/` anywhere).
bool MatchSegment(absl::string_view segment, absl::string_view name);

}  // namespace xoi

#endif  // XOI_LIB_CORE_GLOB_SET_H_
