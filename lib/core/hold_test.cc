// Holds: the selectors an administrator may give, what a hold covers (by path and by pinned
// identity), the hold file's codec (and every way it can be damaged), and the plan transform.
#include "lib/core/hold.h"

#include <openssl/sha.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/utc.h"

namespace xoi {
namespace {

using ::testing::HasSubstr;

constexpr char kUuid[] = "1c6d5e2a-0b1f-4c3d-9e8f-7a6b5c4d3e2f";

// ---------------------------------------------------------------------------------------------
// Selectors

struct SelectorCase {
  const char* path;
  const char* selector;  // nullptr: rejected
  const char* problem;   // part of the message when rejected
};

TEST(PathSelectorTest, RelativePathsInsideTheRemoteOnly) {
  const SelectorCase cases[] = {
      {"xo-vm-backups", "xo-vm-backups", ""},
      {"xo-vm-backups/a/20261006T000000Z.json", "xo-vm-backups/a/20261006T000000Z.json", ""},
      {"xo-vm-backups/a/vdis/b/c/data/d.vhd/", "xo-vm-backups/a/vdis/b/c/data/d.vhd", ""},
      {"name with spaces/and\ttab", "name with spaces/and\ttab", ""},
      {"...", "...", ""},  // a name, not a parent
      {"", nullptr, "empty"},
      {"/", nullptr, "absolute"},
      {"/srv/backups/r1/xo-vm-backups", nullptr, "absolute"},
      {"..", nullptr, ".."},
      {"xo-vm-backups/../../etc", nullptr, ".."},
      {"xo-vm-backups/a/..", nullptr, ".."},
      {"xo-vm-backups//a", nullptr, "empty"},
      {"./xo-vm-backups", nullptr, "\".\""},
  };
  for (const SelectorCase& c : cases) {
    const absl::StatusOr<std::string> s = PathSelector(c.path);
    if (c.selector == nullptr) {
      ASSERT_FALSE(s.ok()) << c.path;
      EXPECT_THAT(s.status().message(), HasSubstr(c.problem)) << c.path;
    } else {
      ASSERT_TRUE(s.ok()) << c.path << ": " << s.status();
      EXPECT_EQ(*s, c.selector);
    }
  }
  const absl::StatusOr<std::string> nul = PathSelector(absl::string_view("a\0b", 3));
  ASSERT_FALSE(nul.ok());
  EXPECT_THAT(nul.status().message(), HasSubstr("NUL"));
}

TEST(VmSelectorTest, OnlyTheShapeOfAUuid) {
  EXPECT_EQ(VmSelector(kUuid).value(), absl::StrCat("xo-vm-backups/", kUuid));
  EXPECT_EQ(VmSelector("1C6D5E2A-0B1F-4C3D-9E8F-7A6B5C4D3E2F").value(),
            "xo-vm-backups/1C6D5E2A-0B1F-4C3D-9E8F-7A6B5C4D3E2F");
  for (const char* bad :
       {"", "1c6d", "../../etc/passwd-0b1f-4c3d-9e8f-7a6b5c4d3e2f",
        "1c6d5e2a-0b1f-4c3d-9e8f-7a6b5c4d3e2f/..", "1c6d5e2a-0b1f-4c3d-9e8f-7a6b5c4d3e2g",
        "1c6d5e2a0b1f-4c3d-9e8f-7a6b5c4d3e2f-", "1c6d5e2a-0b1f-4c3d-9e8f"}) {
    const absl::StatusOr<std::string> s = VmSelector(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_THAT(s.status().message(), HasSubstr("not a VM UUID")) << bad;
  }
}

// ---------------------------------------------------------------------------------------------
// Coverage

TEST(HoldCoversTest, AtOrBelowItsSelectorTheItemHoldingItOrAPinnedIdentity) {
  Hold vm{1, "xo-vm-backups/a", "incident", "root", Utc(2026, 11, 30), {Identity{42, 7}}};
  Hold member{2, "xo-vm-backups/b/vdis/x/y/data/d.vhd/blocks/0", "r", "root", Utc(2026, 11, 30),
              {}};
  Hold all{3, "", "everything", "root", Utc(2026, 11, 30), {}};
  struct Case {
    const Hold* hold;
    const char* path;
    Identity id;
    bool covered;
  };
  const Case cases[] = {
      {&vm, "xo-vm-backups/a", {1, 1}, true},
      {&vm, "xo-vm-backups/a/20261006T000000Z.xva", {1, 1}, true},
      {&vm, "xo-vm-backups/a/vdis/x/y/data/d.vhd", {1, 1}, true},
      {&vm, "xo-vm-backups/ab/20261006T000000Z.xva", {1, 1}, false},  // a sibling, not below
      {&vm, "xo-vm-backups/b/20261006T000000Z.xva", {1, 1}, false},
      {&vm, "xo-vm-backups/renamed/20261006T000000Z.xva", {42, 7}, true},  // pinned, moved
      {&vm, "elsewhere.xva", {42, 8}, false},                              // same inode, reborn
      {&vm, "immutability.json", {1, 1}, false},
      {&member, "xo-vm-backups/b/vdis/x/y/data/d.vhd", {1, 1}, true},  // the tree holding it
      {&member, "xo-vm-backups/b/vdis/x/y/data/e.vhd", {1, 1}, false},
      {&member, "xo-vm-backups/b/vdis/x/y/data/d.vhd/blocks/0", {1, 1}, true},
      {&all, "xo-vm-backups/a/20261006T000000Z.xva", {1, 1}, true},
      {&all, "encryption.json", {1, 1}, true},
      {&all, "immutability.json", {1, 1}, true},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.hold->Covers(c.path, c.id), c.covered) << c.hold->id << " " << c.path;
  }
  HoldSet set{4, {vm, member, all}};
  const std::vector<const Hold*> covering =
      set.Covering("xo-vm-backups/a/20261006T000000Z.xva", {1, 1});
  ASSERT_EQ(covering.size(), 2u);
  EXPECT_EQ(covering[0]->id, 1u);
  EXPECT_EQ(covering[1]->id, 3u);
}

TEST(PinTest, PinsOnlyInHoldsOfAPathThatCoverTheItem) {
  HoldSet set{4,
              {{1, "xo-vm-backups/a", "r", "root", Utc(2026, 11, 30), {}},
               {2, "", "all", "root", Utc(2026, 11, 30), {}},
               {3, "xo-vm-backups/b", "r", "root", Utc(2026, 11, 30), {}}}};
  EXPECT_TRUE(Pin("xo-vm-backups/a/x.xva", {5, 6}, &set));
  EXPECT_FALSE(Pin("xo-vm-backups/a/x.xva", {5, 6}, &set)) << "pinned twice";
  EXPECT_FALSE(Pin("xo-vm-backups/c/x.xva", {7, 8}, &set));
  EXPECT_EQ(set.holds[0].pins.size(), 1u);
  EXPECT_TRUE(set.holds[1].pins.empty()) << "the whole remote needs no pins";
  EXPECT_TRUE(set.holds[2].pins.empty());
  // Moved out of its folder, the item is still held by its identity.
  EXPECT_TRUE(set.holds[0].Covers("xo-vm-backups/c/x.xva", {5, 6}));
}

// ---------------------------------------------------------------------------------------------
// The hold file

HoldSet Sample() {
  HoldSet set;
  set.next_id = 9;
  set.holds.push_back(Hold{3,
                           absl::StrCat("xo-vm-backups/", kUuid),
                           "incident 42\tvia\nmail",
                           "uid 0 (SUDO_USER=ann)",
                           Utc(2026, 11, 30, 9, 47, 52),
                           {Identity{0xabc, 1700000000123456789}, Identity{7, -1}}});
  set.holds.push_back(
      Hold{8, "", "all, \"quoted\" and \\ backslashed", "uid 1000", Utc(2026, 12, 1), {}});
  return set;
}

TEST(HoldCodecTest, RoundTrips) {
  const HoldSet set = Sample();
  const std::string text = EncodeHolds(set);
  EXPECT_THAT(text, HasSubstr("xo-immutable-holds 1\nnext\t9\nhold\t3\t"));
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 7) << "a reason's newline forged a line";
  const absl::StatusOr<HoldSet> back = DecodeHolds(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->next_id, 9u);
  ASSERT_EQ(back->holds.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const Hold &a = set.holds[i], &b = back->holds[i];
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.selector, b.selector);
    EXPECT_EQ(a.reason, b.reason);
    EXPECT_EQ(a.who, b.who);
    EXPECT_EQ(a.when, b.when);
    EXPECT_EQ(a.pins, b.pins);
  }
  EXPECT_EQ(EncodeHolds(*back), text) << "not deterministic";
  const absl::StatusOr<HoldSet> none = DecodeHolds(EncodeHolds(HoldSet{}));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->holds.empty());
}

// `body` (the lines above the end line) with its end line, as the encoder signs it: the cases
// that use it test the validation behind the checksum.
std::string Signed(const std::string& body) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest);
  return absl::StrCat(body, "end\t",
                      absl::BytesToHexString(
                          absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest))),
                      "\n");
}

constexpr char kHead[] = "xo-immutable-holds 1\nnext\t5\n";

TEST(HoldCodecTest, EveryDamageIsRefused) {
  const absl::StatusOr<HoldSet> valid =
      DecodeHolds(Signed(absl::StrCat(kHead, "hold\t1\t0\tw\ta\tr\npin\t1\tab\t5\n")));
  ASSERT_TRUE(valid.ok()) << valid.status() << ": the helper signs differently from the encoder";
  const std::string good = EncodeHolds(Sample());
  const size_t end = good.find("end\t");
  struct Case {
    std::string text;
    const char* why;
  };
  std::string flipped = good;
  flipped[good.find("incident") + 2] ^= 1;
  const Case cases[] = {
      {"", "truncated"},
      {good.substr(0, good.size() / 2), "truncated"},
      {good.substr(0, good.size() - 2), "checksum"},
      {flipped, "checksum"},
      {absl::StrReplaceAll(good, {{"holds 1", "holds 2"}}), "checksum"},
      {good + "hold\t9\t0\tx\tx\tx\n", "checksum"},
      {good.substr(end), "checksum"},
      {Signed(""), "version 1"},
      {Signed("xo-immutable-holds 2\nnext\t1\n"), "version 1"},
      {Signed("xo-immutable-holds 1\n"), "version 1"},
      {Signed("xo-immutable-holds 1\nnext\tx\n"), "next id"},
      {Signed(absl::StrCat(kHead, "hold\t5\t0\tw\txo-vm-backups\tr\n")), "out of order"},
      {Signed(absl::StrCat(kHead, "hold\t2\t0\tw\ta\tr\nhold\t2\t0\tw\tb\tr\n")), "out of order"},
      {Signed(absl::StrCat(kHead, "hold\t1\t0\tw\t../etc\tr\n")), "not a valid hold"},
      {Signed(absl::StrCat(kHead, "hold\t1\t0\tw\t/srv\tr\n")), "not a valid hold"},
      {Signed(absl::StrCat(kHead, "hold\t1\t0\tw\ta\t\n")), "not a valid hold"},
      {Signed(absl::StrCat(kHead, "hold\t1\t0\tw\ta\tbad escape \\\n")), "not a valid hold"},
      {Signed(absl::StrCat(kHead, "hold\t1\t0\tw\ta\tr\textra\n")), "neither"},
      {Signed(absl::StrCat(kHead, "pin\t1\tab\t5\n")), "pin"},
      {Signed(absl::StrCat(kHead, "hold\t1\t0\tw\ta\tr\npin\t2\tab\t5\n")), "pin"},
      {Signed(absl::StrCat(kHead, "hold\t1\t0\tw\ta\tr\npin\t1\tzz\t5\n")), "pin"},
      {Signed(absl::StrCat(kHead, "release\t1\n")), "neither"},
  };
  for (const Case& c : cases) {
    const absl::StatusOr<HoldSet> got = DecodeHolds(c.text);
    ASSERT_FALSE(got.ok()) << c.text;
    EXPECT_THAT(got.status().message(), HasSubstr(c.why)) << c.text;
  }
}

// ---------------------------------------------------------------------------------------------
// The plan transform

Action Lift(std::string path, Identity id) {
  Action a{ActionKind::kLift, std::move(path), false, FileStat{}};
  a.stat.ino = id.ino;
  a.stat.birth = absl::FromUnixNanos(id.birth_ns);
  a.reason = "expired";
  return a;
}

TEST(ApplyHoldsTest, HeldLiftsAndTheMarkerRemovalStayEverythingElseIsUntouched) {
  const HoldSet set{3,
                    {{1, "xo-vm-backups/a", "incident 42", "root", Utc(2026, 11, 30), {{9, 9}}},
                     {2, "xo-vm-backups/a/x.xva", "lawyers", "root", Utc(2026, 11, 30), {}}}};
  Plan plan;
  plan.actions = {Lift("xo-vm-backups/a/x.xva", {1, 1}), Lift("xo-vm-backups/b/y.xva", {2, 2}),
                  Lift("xo-vm-backups/moved/z.xva", {9, 9}), Lift("xo-vm-backups/b/w.xva", {3, 3})};
  for (ActionKind kind :
       {ActionKind::kProtect, ActionKind::kReprotect, ActionKind::kIndex, ActionKind::kUnindex,
        ActionKind::kWriteMarker, ActionKind::kWait, ActionKind::kRefuse}) {
    Action a = Lift("xo-vm-backups/a/other", {4, 4});
    a.kind = kind;
    plan.actions.push_back(a);
  }
  Action remove = Lift("immutability.json", {5, 5});
  remove.kind = ActionKind::kRemoveMarker;
  plan.actions.push_back(remove);

  EXPECT_EQ(ApplyHolds(set, &plan), 3u);
  const std::vector<Action>& a = plan.actions;
  EXPECT_EQ(a[0].kind, ActionKind::kHold);
  EXPECT_EQ(a[0].reason, "held by hold 1 (incident 42), hold 2 (lawyers); would lift: expired");
  EXPECT_EQ(a[1].kind, ActionKind::kLift);
  EXPECT_EQ(a[2].kind, ActionKind::kHold) << "a pinned item moved out of its folder";
  EXPECT_EQ(a[2].reason, "held by hold 1 (incident 42); would lift: expired");
  EXPECT_EQ(a[3].kind, ActionKind::kLift);
  for (size_t i = 4; i + 1 < a.size(); ++i) {
    EXPECT_NE(a[i].kind, ActionKind::kHold) << "a hold never stops " << ActionKindName(a[i].kind);
    EXPECT_EQ(a[i].reason, "expired");
  }
  EXPECT_EQ(a.back().kind, ActionKind::kHold) << "the remote is not released while items are held";
}

TEST(ApplyHoldsTest, NoHeldLiftKeepsTheMarkerRemoval) {
  const HoldSet set{2, {{1, "xo-vm-backups/a", "r", "root", Utc(2026, 11, 30), {}}}};
  Plan plan;
  plan.actions = {Lift("xo-vm-backups/b/y.xva", {2, 2})};
  Action remove = Lift("immutability.json", {5, 5});
  remove.kind = ActionKind::kRemoveMarker;
  plan.actions.push_back(remove);
  EXPECT_EQ(ApplyHolds(set, &plan), 0u);
  EXPECT_EQ(plan.actions[0].kind, ActionKind::kLift);
  EXPECT_EQ(plan.actions[1].kind, ActionKind::kRemoveMarker);
  EXPECT_EQ(ApplyHolds(HoldSet{}, &plan), 0u);
}

// Lifts are held as they are planned (before the run's budget chooses its entries, so that a held
// lift never takes a lift's place): ApplyHolds afterwards still keeps immutability.json.
TEST(ApplyHoldsTest, ALiftHeldAsItWasPlannedStillKeepsTheMarker) {
  const HoldSet set{2, {{1, "xo-vm-backups/a", "r", "root", Utc(2026, 11, 30), {}}}};
  Action lift = Lift("xo-vm-backups/a/x.xva", {1, 1});
  EXPECT_TRUE(HoldLift(set, &lift));
  EXPECT_EQ(lift.kind, ActionKind::kHold);
  EXPECT_FALSE(HoldLift(set, &lift)) << "held once";
  Action other = Lift("xo-vm-backups/b/y.xva", {2, 2});
  EXPECT_FALSE(HoldLift(set, &other));
  Plan plan;
  plan.actions = {lift, other};
  Action remove = Lift("immutability.json", {5, 5});
  remove.kind = ActionKind::kRemoveMarker;
  plan.actions.push_back(remove);
  EXPECT_EQ(ApplyHolds(set, &plan), 1u);  // the marker's removal
  EXPECT_EQ(plan.actions[1].kind, ActionKind::kLift);
  EXPECT_EQ(plan.actions[2].kind, ActionKind::kHold);
}

}  // namespace
}  // namespace xoi
