// XO's layout: which run an item belongs to (RunOf, for `status`) and whether that run is complete
// (CheckRun, for `run`), and the names and alias contents they rely on.
#include "lib/core/xo_layout.h"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace xoi {
namespace {

// Returns fixed facts and records every question. Aliases are given by content and resolved the
// way the real facts do (lib/run/facts.cc): alias names only, through AliasTarget(), in name order.
class FakeRunFacts : public RunFacts {
 public:
  std::set<std::string> markers;
  std::map<std::string, std::map<std::string, std::string>> aliases;  // folder -> name -> content

  std::vector<std::string> markers_asked;
  std::vector<std::pair<std::string, std::string>> aliases_asked;  // (folder, target)

  bool MarkerExists(const std::string& marker) override {
    markers_asked.push_back(marker);
    return markers.count(marker) > 0;
  }
  std::vector<std::string> AliasesPointingAt(const std::string& folder,
                                             const std::string& target) override {
    aliases_asked.emplace_back(folder, target);
    std::vector<std::string> names;
    auto it = aliases.find(folder);
    if (it == aliases.end()) return names;
    for (const auto& [name, content] : it->second) {
      if (IsAliasName(name) && AliasTarget(content) == target) names.push_back(name);
    }
    return names;
  }
};

const std::string kVm = "xo-vm-backups/vm-1";
const std::string kVdi = kVm + "/vdis/job-1/vdi-1";
const std::string kDt = "20261119T100000Z";
const std::string kDt2 = "20261120T100000Z";
const std::string kJson = kVm + "/" + kDt + ".json";
const std::string kJson2 = kVm + "/" + kDt2 + ".json";
const std::string kUuid = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";
const std::string kUuidDir = kVdi + "/data/" + kUuid + ".vhd";
const std::string kUuidTarget = "data/" + kUuid + ".vhd";
const std::string kAlias = kDt + ".alias.vhd";
const std::string kAlias2 = kDt2 + ".alias.vhd";
const std::string kConfig = "xo-config-backups/sched-1/" + kDt;
const std::string kPool = "xo-pool-metadata-backups/sched-1/pool-1/" + kDt;

using Folders = std::map<std::string, std::map<std::string, std::string>>;
using Asked = std::vector<std::pair<std::string, std::string>>;

struct Case {
  std::string name;
  std::string path;
  bool tree = false;
  // Facts.
  std::set<std::string> markers = {};
  Folders aliases = {};
  // CheckRun.
  bool want_complete;
  std::string want_marker;
  std::vector<std::string> markers_asked = {};
  Asked aliases_asked = {};  // by CheckRun, and by RunOf (which asks the same one question)
  // RunOf.
  std::string want_run = "";
};

void RunCase(const Case& c) {
  SCOPED_TRACE(c.name);
  {
    FakeRunFacts facts;
    facts.markers = c.markers;
    facts.aliases = c.aliases;
    const RunCheck got = CheckRun(c.path, c.tree, facts);
    EXPECT_EQ(got.complete, c.want_complete);
    EXPECT_EQ(got.marker, c.want_marker);
    EXPECT_EQ(facts.markers_asked, c.markers_asked) << "CheckRun: MarkerExists() calls";
    EXPECT_EQ(facts.aliases_asked, c.aliases_asked) << "CheckRun: AliasesPointingAt() calls";
  }
  {
    FakeRunFacts facts;
    facts.markers = c.markers;
    facts.aliases = c.aliases;
    EXPECT_EQ(RunOf(c.path, c.tree, facts), c.want_run);
    EXPECT_THAT(facts.markers_asked, ::testing::IsEmpty()) << "RunOf never asks for markers";
    Asked want_asked = c.aliases_asked;
    if (want_asked.size() > 1) want_asked.resize(1);
    EXPECT_EQ(facts.aliases_asked, want_asked) << "RunOf: AliasesPointingAt() calls";
  }
}

TEST(CheckRunTest, VmFiles) {
  const std::vector<Case> cases = {
      {.name = "the VM json itself completes its run: nothing asked",
       .path = kJson,
       .want_complete = true,
       .want_marker = "",
       .want_run = kDt},
      {.name = "an .xva whose json exists",
       .path = kVm + "/" + kDt + ".xva",
       .markers = {kJson},
       .want_complete = true,
       .want_marker = kJson,
       .markers_asked = {kJson},
       .want_run = kDt},
      {.name = "an .xva whose json does not exist yet",
       .path = kVm + "/" + kDt + ".xva",
       .markers = {kJson2},
       .want_complete = false,
       .want_marker = kJson,
       .markers_asked = {kJson},
       .want_run = kDt},
      {.name = "an .xva.checksum: the same run",
       .path = kVm + "/" + kDt + ".xva.checksum",
       .markers = {kJson},
       .want_complete = true,
       .want_marker = kJson,
       .markers_asked = {kJson},
       .want_run = kDt},
      {.name = "a VHD file in vdis/<job>/<vdi>/",
       .path = kVdi + "/" + kDt + ".vhd",
       .markers = {kJson},
       .want_complete = true,
       .want_marker = kJson,
       .markers_asked = {kJson},
       .want_run = kDt},
      {.name = "a VHD file, run incomplete",
       .path = kVdi + "/" + kDt + ".vhd",
       .want_complete = false,
       .want_marker = kJson,
       .markers_asked = {kJson},
       .want_run = kDt},
      {.name = "an alias file: the run of its own name",
       .path = kVdi + "/" + kAlias,
       .markers = {kJson},
       .want_complete = true,
       .want_marker = kJson,
       .markers_asked = {kJson},
       .want_run = kDt},
      {.name = "a json in vdis/<job>/<vdi>/ is no VM json: its run's marker is asked",
       .path = kVdi + "/" + kDt + ".json",
       .want_complete = false,
       .want_marker = kJson,
       .markers_asked = {kJson},
       .want_run = kDt},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(CheckRunTest, VhdDirectories) {
  const std::vector<Case> cases = {
      {.name = "named by timestamp, run complete: no alias asked",
       .path = kVdi + "/data/" + kDt + ".vhd",
       .tree = true,
       .markers = {kJson},
       .want_complete = true,
       .want_marker = kJson,
       .markers_asked = {kJson},
       .want_run = kDt},
      {.name = "named by timestamp, run incomplete",
       .path = kVdi + "/data/" + kDt + ".vhd",
       .tree = true,
       .want_complete = false,
       .want_marker = kJson,
       .markers_asked = {kJson},
       .want_run = kDt},
      {.name = "named by UUID, an alias points at it, run complete",
       .path = kUuidDir,
       .tree = true,
       .markers = {kJson},
       .aliases = {{kVdi, {{kAlias, kUuidTarget}}}},
       .want_complete = true,
       .want_marker = kJson,
       .markers_asked = {kJson},
       .aliases_asked = {{kVdi, kUuidTarget}},
       .want_run = kDt},
      {.name = "named by UUID, an alias points at it, run incomplete",
       .path = kUuidDir,
       .tree = true,
       .aliases = {{kVdi, {{kAlias, kUuidTarget}}}},
       .want_complete = false,
       .want_marker = kJson,
       .markers_asked = {kJson},
       .aliases_asked = {{kVdi, kUuidTarget}},
       .want_run = kDt},
      {.name = "named by UUID, no alias points at it: incomplete, says which alias it waits for",
       .path = kUuidDir,
       .tree = true,
       .markers = {kJson},
       .aliases = {{kVdi, {{kAlias, "data/another.vhd"}}}},
       .want_complete = false,
       .want_marker = "an alias in " + kVdi + " pointing at " + kUuidTarget,
       .aliases_asked = {{kVdi, kUuidTarget}},
       .want_run = ""},
      {.name = "named by UUID, an alias in another VDI folder does not count",
       .path = kUuidDir,
       .tree = true,
       .markers = {kJson},
       .aliases = {{kVm + "/vdis/job-1/vdi-2", {{kAlias, kUuidTarget}}}},
       .want_complete = false,
       .want_marker = "an alias in " + kVdi + " pointing at " + kUuidTarget,
       .aliases_asked = {{kVdi, kUuidTarget}},
       .want_run = ""},
      {.name = "two aliases, the first run incomplete, the second complete",
       .path = kUuidDir,
       .tree = true,
       .markers = {kJson2},
       .aliases = {{kVdi, {{kAlias, kUuidTarget}, {kAlias2, kUuidTarget}}}},
       .want_complete = true,
       .want_marker = kJson2,
       .markers_asked = {kJson, kJson2},
       .aliases_asked = {{kVdi, kUuidTarget}},
       .want_run = kDt},
      {.name = "two aliases, the first run complete: the second never asked",
       .path = kUuidDir,
       .tree = true,
       .markers = {kJson, kJson2},
       .aliases = {{kVdi, {{kAlias, kUuidTarget}, {kAlias2, kUuidTarget}}}},
       .want_complete = true,
       .want_marker = kJson,
       .markers_asked = {kJson},
       .aliases_asked = {{kVdi, kUuidTarget}},
       .want_run = kDt},
      {.name = "two aliases, both incomplete: the last marker asked is named",
       .path = kUuidDir,
       .tree = true,
       .aliases = {{kVdi, {{kAlias, kUuidTarget}, {kAlias2, kUuidTarget}}}},
       .want_complete = false,
       .want_marker = kJson2,
       .markers_asked = {kJson, kJson2},
       .aliases_asked = {{kVdi, kUuidTarget}},
       .want_run = kDt},
      // `status` (RunOf) and `run` (CheckRun) once resolved such an alias differently.
      {.name = "alias content \"./data/<uuid>.vhd\\n\": RunOf and CheckRun agree on the run",
       .path = kUuidDir,
       .tree = true,
       .markers = {kJson},
       .aliases = {{kVdi, {{kAlias, "./" + kUuidTarget + "\n"}}}},
       .want_complete = true,
       .want_marker = kJson,
       .markers_asked = {kJson},
       .aliases_asked = {{kVdi, kUuidTarget}},
       .want_run = kDt},
      {.name = "alias content with NUL bytes (encrypted): names nothing",
       .path = kUuidDir,
       .tree = true,
       .markers = {kJson},
       .aliases = {{kVdi, {{kAlias, std::string("data/\0x.vhd", 11)}}}},
       .want_complete = false,
       .want_marker = "an alias in " + kVdi + " pointing at " + kUuidTarget,
       .aliases_asked = {{kVdi, kUuidTarget}},
       .want_run = ""},
      {.name = "a dot-named alias (XO's temporary file) does not count",
       .path = kUuidDir,
       .tree = true,
       .markers = {kJson},
       .aliases = {{kVdi, {{"." + kAlias, kUuidTarget}}}},
       .want_complete = false,
       .want_marker = "an alias in " + kVdi + " pointing at " + kUuidTarget,
       .aliases_asked = {{kVdi, kUuidTarget}},
       .want_run = ""},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(CheckRunTest, ConfigAndPoolBackups) {
  const std::vector<Case> cases = {
      {.name = "config data, metadata.json present",
       .path = kConfig + "/data",
       .markers = {kConfig + "/metadata.json"},
       .want_complete = true,
       .want_marker = kConfig + "/metadata.json",
       .markers_asked = {kConfig + "/metadata.json"}},
      {.name = "config data.json, metadata.json missing",
       .path = kConfig + "/data.json",
       .want_complete = false,
       .want_marker = kConfig + "/metadata.json",
       .markers_asked = {kConfig + "/metadata.json"}},
      {.name = "config metadata.json itself: nothing asked",
       .path = kConfig + "/metadata.json",
       .want_complete = true,
       .want_marker = ""},
      {.name = "pool data, metadata.json present",
       .path = kPool + "/data",
       .markers = {kPool + "/metadata.json"},
       .want_complete = true,
       .want_marker = kPool + "/metadata.json",
       .markers_asked = {kPool + "/metadata.json"}},
      {.name = "pool data, metadata.json missing",
       .path = kPool + "/data",
       .markers = {kConfig + "/metadata.json"},
       .want_complete = false,
       .want_marker = kPool + "/metadata.json",
       .markers_asked = {kPool + "/metadata.json"}},
      {.name = "pool metadata.json itself: nothing asked",
       .path = kPool + "/metadata.json",
       .want_complete = true,
       .want_marker = ""},
      {.name = "a pool path at the config depth is no pool backup",
       .path = "xo-pool-metadata-backups/sched-1/" + kDt + "/data",
       .want_complete = true,
       .want_marker = ""},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(CheckRunTest, OutsideXoFolders) {
  const std::vector<Case> cases = {
      {.name = "another top folder: no run to wait for",
       .path = "backups/vm-1/" + kDt + ".xva",
       .want_complete = true,
       .want_marker = ""},
      {.name = "a remote root file",
       .path = "metadata.json",
       .want_complete = true,
       .want_marker = ""},
      {.name = "a tree outside vdis",
       .path = kVm + "/other/a/b/data/x.vhd",
       .tree = true,
       .want_complete = true,
       .want_marker = ""},
      {.name = "a VM file one level too deep",
       .path = kVm + "/moved/" + kDt + ".xva",
       .want_complete = true,
       .want_marker = ""},
      {.name = "a VHD file taken as a tree is not a VM file",
       .path = kVdi + "/" + kDt + ".vhd",
       .tree = true,
       .want_complete = true,
       .want_marker = ""},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(AliasTargetTest, Table) {
  const std::vector<std::pair<std::string, std::optional<std::string>>> cases = {
      {"data/x.vhd", "data/x.vhd"},
      {"data/x.vhd\n", "data/x.vhd"},
      {"  data/x.vhd \t\r\n", "data/x.vhd"},
      {"./data/x.vhd", "data/x.vhd"},
      {"./data/x.vhd\n", "data/x.vhd"},
      {"\n ./data/x.vhd\n", "data/x.vhd"},
      // Only one leading "./" is removed; what remains must then equal the target exactly.
      {"././data/x.vhd", "./data/x.vhd"},
      {"../data/x.vhd", "../data/x.vhd"},
      {"", std::nullopt},
      {" \n\t", std::nullopt},
      {"./", std::nullopt},
      {" ./\n", std::nullopt},
      {std::string("\0", 1), std::nullopt},
      {std::string("data/\0x.vhd", 11), std::nullopt},
      {std::string("data/x.vhd\0", 11), std::nullopt},
      {std::string("\x8f\x00\x13\xa7", 4), std::nullopt},
  };
  for (const auto& [content, want] : cases) {
    EXPECT_EQ(AliasTarget(content), want) << "content: \"" << content << "\"";
  }
}

TEST(IsAliasNameTest, Table) {
  EXPECT_TRUE(IsAliasName("20261119T100000Z.alias.vhd"));
  EXPECT_TRUE(IsAliasName("x.alias.vhd"));
  EXPECT_FALSE(IsAliasName(".20261119T100000Z.alias.vhd")) << "a dot-name is XO's temporary file";
  EXPECT_FALSE(IsAliasName(".alias.vhd"));
  EXPECT_FALSE(IsAliasName(""));
  EXPECT_FALSE(IsAliasName("alias.vhd"));
  EXPECT_FALSE(IsAliasName("20261119T100000Z.vhd"));
  EXPECT_FALSE(IsAliasName("20261119T100000Z.alias.vhd.tmp"));
}

TEST(XoNamesTest, TimestampsStemsAndRootFiles) {
  EXPECT_TRUE(IsXoTimestamp("20261101T010000Z"));
  EXPECT_FALSE(IsXoTimestamp("20261101T010000"));
  EXPECT_FALSE(IsXoTimestamp("20261101T010000Z0"));
  EXPECT_FALSE(IsXoTimestamp("20261101t010000Z"));
  EXPECT_FALSE(IsXoTimestamp("2026110XT010000Z"));
  EXPECT_FALSE(IsXoTimestamp(""));

  EXPECT_EQ(RunStem("20261101T010000Z.xva.checksum"), "20261101T010000Z");
  EXPECT_EQ(RunStem("20261101T010000Z"), "20261101T010000Z");
  EXPECT_EQ(RunStem(".hidden.json"), "");

  EXPECT_TRUE(IsRemoteFile("immutability.json"));
  EXPECT_TRUE(IsRemoteFile("encryption.json"));
  EXPECT_TRUE(IsRemoteFile("metadata.json"));
  EXPECT_FALSE(IsRemoteFile("xo-vm-backups/metadata.json"));
  EXPECT_FALSE(IsRemoteFile("/metadata.json"));
  EXPECT_FALSE(IsRemoteFile(""));
}

TEST(IsXoBackupFolderTest, OnlyTheLevelsThatHoldOneBackupWhole) {
  EXPECT_TRUE(IsXoBackupFolder("xo-config-backups/sched/20261101T000000Z"));
  EXPECT_TRUE(IsXoBackupFolder("xo-pool-metadata-backups/sched/pool/20261101T000000Z"));
  // Any name: XO's daemon locked whatever folder the run was written in.
  EXPECT_TRUE(IsXoBackupFolder("xo-config-backups/sched/not-a-timestamp"));
  for (const char* not_one :
       {"xo-config-backups", "xo-config-backups/sched", "xo-config-backups/sched/dt/deeper",
        "xo-pool-metadata-backups/sched/pool", "xo-pool-metadata-backups/sched/pool/dt/x",
        "xo-vm-backups/vm/20261101T000000Z", "xo-vm-backups/vm/vdis/job/vdi/data/x.vhd",
        "elsewhere/sched/20261101T000000Z", "xo-config-backups/sched/.tmp-run",
        "xo-config-backups/sched/run.lock", "xo-config-backups//dt", ""}) {
    EXPECT_FALSE(IsXoBackupFolder(not_one)) << not_one;
  }
}

}  // namespace
}  // namespace xoi
