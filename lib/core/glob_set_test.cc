#include "lib/core/glob_set.h"

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace xoi {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// ---------------------------------------------------------------------------------------------
// Compile errors: one test per kind.

absl::Status CompileError(const std::string& pattern) {
  const std::vector<std::string> patterns = {"xo-vm-backups/*/*.json", pattern};
  absl::StatusOr<GlobSet> set = GlobSet::Compile(patterns);
  return set.status();
}

void ExpectCompileError(const std::string& pattern, absl::string_view why) {
  SCOPED_TRACE(pattern);
  const absl::Status status = CompileError(pattern);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  // The message quotes the faulty pattern as written and says why.
  EXPECT_THAT(status.message(), HasSubstr(absl::StrCat("\"", pattern, "\"")));
  EXPECT_THAT(status.message(), HasSubstr(why));
}

TEST(GlobSetCompileTest, AbsolutePattern) {
  ExpectCompileError("/xo-vm-backups/*/*.json", "relative");
  ExpectCompileError("/", "relative");
  ExpectCompileError("/{a,b}", "relative");
}

TEST(GlobSetCompileTest, EmptyPattern) {
  ExpectCompileError("", "empty pattern");
  ExpectCompileError("{}", "empty pattern");
  ExpectCompileError("{,a}", "empty pattern");
}

TEST(GlobSetCompileTest, EmptySegment) {
  ExpectCompileError("a//b", "empty path segment");
  ExpectCompileError("a/b//", "empty path segment");
  ExpectCompileError("a//", "empty path segment");
  ExpectCompileError("a/{b,}/c", "empty path segment");
}

TEST(GlobSetCompileTest, DotAndDotDotSegments) {
  ExpectCompileError("./a", "'.' and '..'");
  ExpectCompileError("a/./b", "'.' and '..'");
  ExpectCompileError("a/../b", "'.' and '..'");
  ExpectCompileError("..", "'.' and '..'");
  ExpectCompileError("a/..", "'.' and '..'");
  ExpectCompileError("a/{b,..}/c", "'.' and '..'");
}

TEST(GlobSetCompileTest, DotLeadingSegment) {
  ExpectCompileError("a/.hidden", "starting with '.'");
  ExpectCompileError(".xo-vm-backups/*", "starting with '.'");
  ExpectCompileError("a/.*", "starting with '.'");
  ExpectCompileError("a/...", "starting with '.'");
  ExpectCompileError("a/.b/", "starting with '.'");
}

TEST(GlobSetCompileTest, DoubleStar) {
  ExpectCompileError("**", "'**'");
  ExpectCompileError("xo-vm-backups/**/*.vhd", "'**'");
  ExpectCompileError("a/b**", "'**'");
  ExpectCompileError("a/x***y", "'**'");
}

TEST(GlobSetCompileTest, BracketClass) {
  ExpectCompileError("a/[ab].json", "'['");
  ExpectCompileError("a/x[", "'['");
  ExpectCompileError("a/x]", "'['");
}

TEST(GlobSetCompileTest, Backslash) {
  ExpectCompileError("a\\b", "'\\'");
  ExpectCompileError("a/\\*", "'\\'");
}

TEST(GlobSetCompileTest, UnbalancedBraces) {
  ExpectCompileError("a/{b,c", "unbalanced '{'");
  ExpectCompileError("a/{b,{c,d}", "unbalanced '{'");
  ExpectCompileError("a/b}", "unbalanced '}'");
  ExpectCompileError("a/{b,c}}", "unbalanced '}'");
  ExpectCompileError("a}/{b,c}", "unbalanced '}'");
}

TEST(GlobSetCompileTest, TooManyAlternatives) {
  // 2^13 = 8192 expansions.
  std::string pattern;
  for (int i = 0; i < 13; ++i) absl::StrAppend(&pattern, "{a,b}");
  ExpectCompileError(pattern, "too many alternatives");
}

TEST(GlobSetCompileTest, DefaultPatternsCompile) {
  const absl::StatusOr<GlobSet> set = GlobSet::Compile(GlobSet::DefaultPatterns());
  ASSERT_TRUE(set.ok()) << set.status();
  // Braces expanded: 3 + 2 + 5 single patterns.
  EXPECT_EQ(set->patterns().size(), 10u);
}

TEST(GlobSetCompileTest, EmptyListMatchesNothing) {
  const absl::StatusOr<GlobSet> set = GlobSet::Compile({});
  ASSERT_TRUE(set.ok()) << set.status();
  GlobSet::Step step;
  set->Advance(set->Start(), "xo-vm-backups", &step);
  EXPECT_FALSE(step.descend());
  EXPECT_FALSE(step.file_item);
  EXPECT_FALSE(step.tree_item);
  std::vector<std::string> names = {"stale"};
  EXPECT_TRUE(set->LiteralChildren(set->Start(), &names));
  EXPECT_THAT(names, IsEmpty());
}

// ---------------------------------------------------------------------------------------------
// MatchSegment.

struct MatchCase {
  std::string segment;
  std::string name;
  bool want;
};

TEST(MatchSegmentTest, Table) {
  const std::vector<MatchCase> cases = {
      {"", "", true},
      {"", "a", false},
      {"a", "", false},
      {"abc", "abc", true},
      {"abc", "abd", false},
      {"abc", "ab", false},
      {"ab", "abc", false},
      {"ABC", "abc", false},  // case-sensitive
      {"*", "", true},
      {"*", "anything", true},
      {"**", "x", true},  // (Compile refuses '**'; the matcher itself treats it as '*')
      {"?", "", false},
      {"?", "a", true},
      {"?", "ab", false},
      {"??", "ab", true},
      {"a?c", "abc", true},
      {"a?c", "ac", false},
      {"*?", "", false},
      {"*?", "a", true},
      {"?*", "a", true},
      {"*.json", "20261101T010000Z.json", true},
      {"*.json", ".json", true},
      {"*.json", "x.json.gz", false},
      {"*.json", "x.jso", false},
      {"*.xva", "x.xva.checksum", false},
      {"*.xva.checksum", "x.xva.checksum", true},
      {"*.vhd", "20261101T010000Z.vhd", true},
      {"*.vhd", "vhd", false},
      {"a*", "a", true},
      {"a*", "ba", false},
      {"*a", "a", true},
      {"*a", "ab", false},
      {"*x", "xx", true},
      {"*ab", "aab", true},
      {"*aab", "aaab", true},
      {"*abc", "ababc", true},
      {"a*b*c", "abc", true},
      {"a*b*c", "aXbYc", true},
      {"a*b*c", "acb", false},
      {"a*b*c", "abcbc", true},
      {"a*b*c", "abcb", false},
      {"*a*b", "xaybzb", true},
      {"*.*", "a.b", true},
      {"*.*", "ab", false},
      {"x*y*z", "xyz", true},
      {"x*y*z", "xzy", false},
      {"*?*?*", "ab", true},
      {"*?*?*", "a", false},
      {"{a,b}", "a", false},  // braces are expanded by Compile, not by the matcher
      {"{a,b}", "{a,b}", true},
      {"*", "with space", true},
      {"\xff*", "\xff\xfe", true},  // bytes, not characters
      {"?", "\xc3\xa9", false},     // '?' is one byte: a 2-byte UTF-8 character is two
  };
  for (const MatchCase& c : cases) {
    EXPECT_EQ(MatchSegment(c.segment, c.name), c.want)
        << "segment \"" << c.segment << "\" name \"" << c.name << "\"";
  }
}

// The obvious exponential definition, fine for short inputs.
bool ReferenceMatch(absl::string_view segment, absl::string_view name) {
  if (segment.empty()) return name.empty();
  if (segment[0] == '*') {
    for (size_t skip = 0; skip <= name.size(); ++skip) {
      if (ReferenceMatch(segment.substr(1), name.substr(skip))) return true;
    }
    return false;
  }
  if (name.empty()) return false;
  if (segment[0] != '?' && segment[0] != name[0]) return false;
  return ReferenceMatch(segment.substr(1), name.substr(1));
}

TEST(MatchSegmentTest, AgreesWithReferenceOnEveryShortInput) {
  // Every segment of up to 5 symbols over {a, b, *, ?} against every name of up
  // to 7 letters over {a, b}.
  const std::string segment_symbols = "ab*?";
  std::vector<std::string> segments = {""};
  for (size_t i = 0; i < segments.size(); ++i) {
    if (segments[i].size() == 5) continue;
    for (char c : segment_symbols) segments.push_back(segments[i] + c);
  }
  std::vector<std::string> names = {""};
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].size() == 7) continue;
    for (char c : std::string("ab")) names.push_back(names[i] + c);
  }
  int mismatches = 0;
  for (const std::string& segment : segments) {
    for (const std::string& name : names) {
      const bool want = ReferenceMatch(segment, name);
      if (MatchSegment(segment, name) != want && ++mismatches <= 10) {
        ADD_FAILURE() << "segment \"" << segment << "\" name \"" << name << "\": want " << want;
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(MatchSegmentTest, PathologicalBacktrackingIsFast) {
  const std::string many_a(100000, 'a');
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(MatchSegment("*a*a*a*b", many_a));
  EXPECT_TRUE(MatchSegment("*a*a*a*b", many_a + "b"));
  EXPECT_FALSE(MatchSegment("*a*a*a*a*a*a*a*a*a*a*b", many_a));
  EXPECT_FALSE(MatchSegment(std::string(50, '*') + "b", many_a));
  EXPECT_TRUE(MatchSegment("a*a*a*a*a*a*a*a*a*a*a", many_a));
  EXPECT_FALSE(MatchSegment("*aaaaaaaaaaaaaaaaaaaaaaaaaaaaab", many_a));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  // Exponential backtracking would take ages; the single-backtrack matcher is
  // O(n * m).
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

// ---------------------------------------------------------------------------------------------
// Advance: walks a relative path segment by segment, as the walker does.

enum class Kind {
  kPruned,   // the walker never gets here (or the name is nothing)
  kDescend,  // a directory the walker lists (or looks into), not an item itself
  kFile,     // a file item (nothing below it)
  kTree,     // a tree item (nothing below it matched separately)
  kFileAndDescend,
};

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kPruned:
      return "pruned";
    case Kind::kDescend:
      return "descend";
    case Kind::kFile:
      return "file item";
    case Kind::kTree:
      return "tree item";
    case Kind::kFileAndDescend:
      return "file item and descend";
  }
  return "?";
}

struct Walked {
  bool reached = false;  // every parent segment descended
  GlobSet::Step step;    // the last segment's step
};

Walked WalkPath(const GlobSet& set, absl::string_view path) {
  Walked out;
  GlobSet::State state = set.Start();
  const std::vector<std::string> segments = absl::StrSplit(path, '/');
  for (size_t i = 0; i < segments.size(); ++i) {
    set.Advance(state, segments[i], &out.step);
    if (i + 1 == segments.size()) break;
    if (!out.step.descend()) return out;  // pruned above the last segment
    state = out.step.next;
  }
  out.reached = true;
  return out;
}

Kind Classify(const GlobSet& set, absl::string_view path) {
  const Walked w = WalkPath(set, path);
  if (!w.reached) return Kind::kPruned;
  EXPECT_FALSE(w.step.file_item && w.step.tree_item) << path;
  if (w.step.tree_item) {
    // A tree item is taken whole: nothing below it is listed.
    EXPECT_FALSE(w.step.descend()) << path;
    return Kind::kTree;
  }
  if (w.step.file_item) return w.step.descend() ? Kind::kFileAndDescend : Kind::kFile;
  return w.step.descend() ? Kind::kDescend : Kind::kPruned;
}

struct PathCase {
  std::string path;
  Kind want;
};

void ExpectKinds(const GlobSet& set, const std::vector<PathCase>& cases) {
  for (const PathCase& c : cases) {
    const Kind got = Classify(set, c.path);
    EXPECT_EQ(got, c.want) << c.path << ": got " << KindName(got) << ", want " << KindName(c.want);
  }
}

constexpr char kVm[] = "xo-vm-backups/2b4a3c8e-1d2f-4a5b-8c9d-0e1f2a3b4c5d";
constexpr char kVdi[] =
    "xo-vm-backups/2b4a3c8e-1d2f-4a5b-8c9d-0e1f2a3b4c5d/vdis/"
    "8f1e0c2d-job/5d6e7f80-vdi";

class DefaultPatternsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto compiled = GlobSet::Compile(GlobSet::DefaultPatterns());
    ASSERT_TRUE(compiled.ok()) << compiled.status();
    set_ = *std::move(compiled);
  }
  GlobSet set_;
};

TEST_F(DefaultPatternsTest, TopLevelFolders) {
  ExpectKinds(set_, {
                        {"xo-vm-backups", Kind::kDescend},
                        {"xo-config-backups", Kind::kDescend},
                        {"xo-pool-metadata-backups", Kind::kDescend},
                        // Unrelated top folders and files are pruned.
                        {"lost+found", Kind::kPruned},
                        {"home", Kind::kPruned},
                        {"immutability.json", Kind::kPruned},
                        {"xo-vm-backups2", Kind::kPruned},
                        {"xo-vm-backup", Kind::kPruned},
                        {"XO-VM-BACKUPS", Kind::kPruned},
                        {"xo-proxy-backups", Kind::kPruned},
                        {".xo-vm-backups", Kind::kPruned},
                        {"xo-vm-backups.lock", Kind::kPruned},
                        {"lost+found/xo-vm-backups", Kind::kPruned},
                        {"home/x/xo-vm-backups/vm/a.json", Kind::kPruned},
                    });
}

TEST_F(DefaultPatternsTest, VmBackupFiles) {
  const std::string vm = kVm;
  ExpectKinds(set_, {
                        {vm, Kind::kDescend},
                        {vm + "/20261101T010000Z.json", Kind::kFile},
                        {vm + "/20261101T010000Z.xva", Kind::kFile},
                        {vm + "/20261101T010000Z.xva.checksum", Kind::kFile},
                        {vm + "/anything.json", Kind::kFile},
                        // XO's cache, lock folders and temporary dotfiles: never.
                        {vm + "/cache.json.gz", Kind::kPruned},
                        {vm + "/20261101T010000Z.json.lock", Kind::kPruned},
                        {vm + "/x.json.lock", Kind::kPruned},
                        {vm + "/.20261101T010000Z.json", Kind::kPruned},
                        {vm + "/.20261101T010000Z.xva", Kind::kPruned},
                        {vm + "/.json", Kind::kPruned},
                        // Not a backup file.
                        {vm + "/20261101T010000Z.txt", Kind::kPruned},
                        {vm + "/20261101T010000Z.json.gz", Kind::kPruned},
                        {vm + "/20261101T010000Z.xva.tmp", Kind::kPruned},
                        {vm + "/20261101T010000Z.vhd", Kind::kPruned},
                        {vm + "/sub/20261101T010000Z.json", Kind::kPruned},
                        // Directly below xo-vm-backups: not items.
                        {"xo-vm-backups/20261101T010000Z.json", Kind::kDescend},
                        {"xo-vm-backups/cache.json.gz", Kind::kPruned},
                        {"xo-vm-backups/index.json", Kind::kDescend},
                        // A dot-leading VM folder is never entered.
                        {"xo-vm-backups/.tmp/20261101T010000Z.json", Kind::kPruned},
                        {"xo-vm-backups/x.lock/20261101T010000Z.json", Kind::kPruned},
                    });
}

TEST_F(DefaultPatternsTest, VdiFilesAndVhdDirectories) {
  const std::string vm = kVm;
  const std::string vdi = kVdi;
  ExpectKinds(set_, {
                        {vm + "/vdis", Kind::kDescend},
                        {vm + "/vdis/8f1e0c2d-job", Kind::kDescend},
                        {vdi, Kind::kDescend},
                        {vdi + "/20261101T010000Z.vhd", Kind::kFile},
                        {vdi + "/20261101T010000Z.vhd.lock", Kind::kPruned},
                        {vdi + "/.20261101T010000Z.vhd", Kind::kPruned},
                        {vdi + "/20261101T010000Z.alias.vhd", Kind::kFile},
                        {vdi + "/20261101T010000Z.vhd.checksum", Kind::kPruned},
                        {vdi + "/cache.json.gz", Kind::kPruned},
                        {vdi + "/data", Kind::kDescend},
                        // A VHD directory: one tree item, its blocks never listed.
                        {vdi + "/data/20261101T010000Z.vhd", Kind::kTree},
                        {vdi + "/data/5f1a-uuid.vhd", Kind::kTree},
                        {vdi + "/data/20261101T010000Z.vhd/blocks", Kind::kPruned},
                        {vdi + "/data/20261101T010000Z.vhd/blocks/0/1", Kind::kPruned},
                        {vdi + "/data/20261101T010000Z.vhd/bat", Kind::kPruned},
                        {vdi + "/data/20261101T010000Z.vhd/header", Kind::kPruned},
                        {vdi + "/data/.20261101T010000Z.vhd", Kind::kPruned},
                        {vdi + "/data/20261101T010000Z.vhd.lock", Kind::kPruned},
                        {vdi + "/data/20261101T010000Z", Kind::kPruned},
                        {vdi + "/data/sub/x.vhd", Kind::kPruned},
                        // Wrong depth.
                        {vm + "/vdis/x.vhd", Kind::kDescend},  // a job folder named x.vhd
                        {vm + "/vdis/job/x.vhd", Kind::kDescend},
                        {vm + "/vdis/job/vdi/extra/x.vhd", Kind::kPruned},
                        {vm + "/vdis/.job/vdi/x.vhd", Kind::kPruned},
                    });
}

TEST_F(DefaultPatternsTest, PoolMetadataBackups) {
  const std::string run = "xo-pool-metadata-backups/schedule-1/pool-uuid/20261101T010000Z";
  ExpectKinds(set_, {
                        {"xo-pool-metadata-backups/schedule-1", Kind::kDescend},
                        {"xo-pool-metadata-backups/schedule-1/pool-uuid", Kind::kDescend},
                        {run, Kind::kDescend},
                        {run + "/metadata.json", Kind::kFile},
                        {run + "/data", Kind::kFile},
                        {run + "/data.json", Kind::kPruned},
                        {run + "/other", Kind::kPruned},
                        {run + "/metadata.json.lock", Kind::kPruned},
                        {run + "/.metadata.json", Kind::kPruned},
                        // Too shallow: metadata.json there is not an item.
                        {"xo-pool-metadata-backups/s/metadata.json", Kind::kDescend},
                        {"xo-pool-metadata-backups/metadata.json", Kind::kDescend},
                        {"xo-pool-metadata-backups/s/pool/metadata.json", Kind::kDescend},
                        // Too deep.
                        {run + "/data/x", Kind::kPruned},
                        {run + "/metadata.json/x", Kind::kPruned},
                    });
}

TEST_F(DefaultPatternsTest, ShallowMetadataJsonIsNotAnItem) {
  const Walked w = WalkPath(set_, "xo-pool-metadata-backups/s/metadata.json");
  ASSERT_TRUE(w.reached);
  EXPECT_FALSE(w.step.file_item);
  EXPECT_FALSE(w.step.tree_item);
}

TEST_F(DefaultPatternsTest, ConfigBackups) {
  const std::string run = "xo-config-backups/schedule-1/20261101T010000Z";
  ExpectKinds(set_, {
                        {"xo-config-backups/schedule-1", Kind::kDescend},
                        {run, Kind::kDescend},
                        {run + "/data", Kind::kFile},
                        {run + "/data.json", Kind::kFile},
                        {run + "/metadata.json", Kind::kFile},
                        {run + "/other.json", Kind::kPruned},
                        {run + "/data.json.lock", Kind::kPruned},
                        {run + "/.data", Kind::kPruned},
                        {run + "/cache.json.gz", Kind::kPruned},
                        {"xo-config-backups/schedule-1/metadata.json", Kind::kDescend},
                        {run + "/data/x", Kind::kPruned},
                    });
}

TEST_F(DefaultPatternsTest, ExcludedNamesNeverMatchAtAnyLevel) {
  for (const std::string& name : {std::string(".hidden"), std::string("a.lock"),
                                  std::string("cache.json.gz"), std::string("")}) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(GlobSet::IsExcludedName(name));
    for (const std::string& dir :
         {std::string(""), std::string("xo-vm-backups/"), std::string(kVm) + "/",
          std::string(kVdi) + "/", std::string(kVdi) + "/data/"}) {
      SCOPED_TRACE(dir);
      EXPECT_EQ(Classify(set_, dir + name), Kind::kPruned);
    }
  }
  EXPECT_FALSE(GlobSet::IsExcludedName("cache.json"));
  EXPECT_FALSE(GlobSet::IsExcludedName("x.locked"));
  EXPECT_FALSE(GlobSet::IsExcludedName("lock"));
  EXPECT_FALSE(GlobSet::IsExcludedName("a.b"));
  EXPECT_TRUE(GlobSet::IsExcludedName(".lock"));
  EXPECT_TRUE(GlobSet::IsExcludedName("."));
  EXPECT_TRUE(GlobSet::IsExcludedName(".."));
}

TEST_F(DefaultPatternsTest, LiteralChildrenOfRoot) {
  std::vector<std::string> names;
  ASSERT_TRUE(set_.LiteralChildren(set_.Start(), &names));
  EXPECT_THAT(names, UnorderedElementsAre("xo-config-backups", "xo-pool-metadata-backups",
                                          "xo-vm-backups"));
}

TEST_F(DefaultPatternsTest, LiteralChildrenOfWildcardStates) {
  for (const std::string& dir :
       {std::string("xo-vm-backups"), std::string(kVm), std::string(kVm) + "/vdis",
        std::string(kVdi), std::string(kVdi) + "/data", std::string("xo-config-backups"),
        std::string("xo-pool-metadata-backups/s/p")}) {
    SCOPED_TRACE(dir);
    const Walked w = WalkPath(set_, dir);
    ASSERT_TRUE(w.reached);
    ASSERT_TRUE(w.step.descend());
    std::vector<std::string> names;
    EXPECT_FALSE(set_.LiteralChildren(w.step.next, &names));
  }
}

TEST_F(DefaultPatternsTest, LiteralChildrenOfRunFolders) {
  std::vector<std::string> names;
  Walked w = WalkPath(set_, "xo-pool-metadata-backups/s/p/r");
  ASSERT_TRUE(w.step.descend());
  ASSERT_TRUE(set_.LiteralChildren(w.step.next, &names));
  EXPECT_THAT(names, UnorderedElementsAre("metadata.json", "data"));

  w = WalkPath(set_, "xo-config-backups/s/r");
  ASSERT_TRUE(w.step.descend());
  ASSERT_TRUE(set_.LiteralChildren(w.step.next, &names));
  EXPECT_THAT(names, UnorderedElementsAre("data", "data.json", "metadata.json"));
}

// ---------------------------------------------------------------------------------------------
// Custom patterns.

GlobSet MustCompile(const std::vector<std::string>& patterns) {
  auto set = GlobSet::Compile(patterns);
  EXPECT_TRUE(set.ok()) << set.status();
  return set.ok() ? *std::move(set) : GlobSet();
}

TEST(GlobSetBracesTest, ExpandsAlternatives) {
  const GlobSet set = MustCompile({"a/{b,c}/d"});
  EXPECT_THAT(set.patterns(), ElementsAre("a/b/d", "a/c/d"));
  ExpectKinds(set, {
                       {"a/b/d", Kind::kFile},
                       {"a/c/d", Kind::kFile},
                       {"a/e/d", Kind::kPruned},
                       {"a/{b,c}/d", Kind::kPruned},
                   });
}

TEST(GlobSetBracesTest, NestedAndEmptyAlternatives) {
  EXPECT_THAT(MustCompile({"x/{a,b{c,d}}"}).patterns(), ElementsAre("x/a", "x/bc", "x/bd"));
  EXPECT_THAT(MustCompile({"x/y{,.json}"}).patterns(), ElementsAre("x/y", "x/y.json"));
  EXPECT_THAT(MustCompile({"{a,b}/{c,d}"}).patterns(), ElementsAre("a/c", "a/d", "b/c", "b/d"));
  EXPECT_THAT(MustCompile({"{a}/b"}).patterns(), ElementsAre("a/b"));
  // Alternatives may span segments.
  EXPECT_THAT(MustCompile({"{a/b,c}/d"}).patterns(), ElementsAre("a/b/d", "c/d"));
  // Each alternative is wildcards as usual.
  const GlobSet set = MustCompile({"v/*.{xva,json}"});
  EXPECT_THAT(set.patterns(), ElementsAre("v/*.xva", "v/*.json"));
  ExpectKinds(set, {
                       {"v/a.xva", Kind::kFile},
                       {"v/a.json", Kind::kFile},
                       {"v/a.vhd", Kind::kPruned},
                   });
}

TEST(GlobSetCustomTest, TreePatternWithTrailingSlash) {
  const GlobSet set = MustCompile({"backups/*/"});
  EXPECT_THAT(set.patterns(), ElementsAre("backups/*/"));
  ExpectKinds(set, {
                       {"backups", Kind::kDescend},
                       {"backups/job-1", Kind::kTree},
                       {"backups/.tmp", Kind::kPruned},
                       {"backups/job-1/file", Kind::kPruned},
                       {"backups/job-1/sub/file", Kind::kPruned},
                       {"other", Kind::kPruned},
                   });
  const Walked w = WalkPath(set, "backups/job-1");
  EXPECT_TRUE(w.step.tree_item);
  EXPECT_FALSE(w.step.file_item);
  EXPECT_FALSE(w.step.descend());
}

TEST(GlobSetCustomTest, LiteralTreePattern) {
  const GlobSet set = MustCompile({"a/b/"});
  ExpectKinds(set, {{"a", Kind::kDescend}, {"a/b", Kind::kTree}, {"a/c", Kind::kPruned}});
}

TEST(GlobSetCustomTest, SameNameFileAndTreePatterns) {
  const GlobSet set = MustCompile({"a/*", "a/*/"});
  const Walked w = WalkPath(set, "a/x");
  ASSERT_TRUE(w.reached);
  EXPECT_TRUE(w.step.file_item);
  EXPECT_TRUE(w.step.tree_item);
  EXPECT_FALSE(w.step.descend());
}

TEST(GlobSetCustomTest, FileItemThatIsAlsoADirectoryOnTheWay) {
  const GlobSet set = MustCompile({"a/b", "a/b/c"});
  ExpectKinds(set, {
                       {"a/b", Kind::kFileAndDescend},
                       {"a/b/c", Kind::kFile},
                   });
}

TEST(GlobSetCustomTest, WildcardAndLiteralBranchesMerge) {
  const GlobSet set = MustCompile({"*/x", "a/y", "a/z/"});
  ExpectKinds(set, {
                       {"a/x", Kind::kFile},
                       {"a/y", Kind::kFile},
                       {"a/z", Kind::kTree},
                       {"b/x", Kind::kFile},
                       {"b/y", Kind::kPruned},
                       {"b/z", Kind::kPruned},
                   });
  const Walked a = WalkPath(set, "a");
  EXPECT_EQ(a.step.next.size(), 2u);  // both branches
  const Walked b = WalkPath(set, "b");
  EXPECT_EQ(b.step.next.size(), 1u);
}

TEST(GlobSetCustomTest, DuplicatePatternsShareNodes) {
  const GlobSet set = MustCompile({"a/*/c", "a/*/c", "a/{*,*}/c"});
  const Walked w = WalkPath(set, "a/q");
  ASSERT_TRUE(w.reached);
  EXPECT_EQ(w.step.next.size(), 1u);
  EXPECT_EQ(Classify(set, "a/q/c"), Kind::kFile);
}

TEST(GlobSetCustomTest, ExcludedNamesNeverMatchEvenWhenWritten) {
  const GlobSet set = MustCompile({"a/cache.json.gz", "a/x.lock", "a/*", "a/*.lock/"});
  ExpectKinds(set, {
                       {"a/cache.json.gz", Kind::kPruned},
                       {"a/x.lock", Kind::kPruned},
                       {"a/y.lock", Kind::kPruned},
                       {"a/.x", Kind::kPruned},
                       {"a/ok", Kind::kFile},
                   });
}

TEST(GlobSetCustomTest, QuestionMarkSegments) {
  const GlobSet set = MustCompile({"d/v??.log"});
  ExpectKinds(set, {
                       {"d/v12.log", Kind::kFile},
                       {"d/v1.log", Kind::kPruned},
                       {"d/v123.log", Kind::kPruned},
                       {"d/w12.log", Kind::kPruned},
                   });
}

TEST(GlobSetLiteralChildrenTest, LiteralLevels) {
  const GlobSet set = MustCompile({"a/b/c", "a/d/e", "x/{p,q}", "a/b/f"});
  std::vector<std::string> names;
  ASSERT_TRUE(set.LiteralChildren(set.Start(), &names));
  EXPECT_THAT(names, UnorderedElementsAre("a", "x"));

  Walked w = WalkPath(set, "a");
  ASSERT_TRUE(set.LiteralChildren(w.step.next, &names));
  EXPECT_THAT(names, UnorderedElementsAre("b", "d"));

  w = WalkPath(set, "a/b");
  ASSERT_TRUE(set.LiteralChildren(w.step.next, &names));
  EXPECT_THAT(names, UnorderedElementsAre("c", "f"));

  w = WalkPath(set, "x");
  ASSERT_TRUE(set.LiteralChildren(w.step.next, &names));
  EXPECT_THAT(names, UnorderedElementsAre("p", "q"));
}

TEST(GlobSetLiteralChildrenTest, NoDuplicatesAcrossMergedStates) {
  // "a" reaches two nodes (via "*" and via "a"), both followed by a literal
  // "x".
  const GlobSet set = MustCompile({"*/x/1", "a/x/2", "a/y"});
  std::vector<std::string> names;
  EXPECT_FALSE(set.LiteralChildren(set.Start(), &names));  // "*" at the root
  const Walked w = WalkPath(set, "a");
  ASSERT_EQ(w.step.next.size(), 2u);
  ASSERT_TRUE(set.LiteralChildren(w.step.next, &names));
  EXPECT_THAT(names, UnorderedElementsAre("x", "y"));
}

TEST(GlobSetLiteralChildrenTest, AnyWildcardSiblingMakesItFalse) {
  const GlobSet set = MustCompile({"a/b", "a/c?"});
  const Walked w = WalkPath(set, "a");
  std::vector<std::string> names;
  EXPECT_FALSE(set.LiteralChildren(w.step.next, &names));
}

}  // namespace
}  // namespace xoi
