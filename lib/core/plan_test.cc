// SortByPath: the plan's order (by path; ties in the order the rules made them), every entry kept.
// ActionBudget: which entries a run takes on when there are more than it may hold.
#include "lib/core/plan.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace xoi {
namespace {

std::vector<std::string> Keys(const std::vector<Action>& actions) {
  std::vector<std::string> keys;
  for (const Action& a : actions) keys.push_back(absl::StrCat(a.path, "|", a.reason));
  return keys;
}

TEST(SortByPathTest, OrdersByPathAndKeepsTiesInTheirOrder) {
  std::vector<Action> actions;
  for (const char* path : {"vm/b", "vm/a", "", "vm/b", "vm/a/x", "vm/a"}) {
    Action a{ActionKind::kProtect, path};
    a.reason = absl::StrCat("entry ", actions.size());
    actions.push_back(std::move(a));
  }
  SortByPath(&actions);
  EXPECT_EQ(Keys(actions),
            (std::vector<std::string>{"|entry 2", "vm/a|entry 1", "vm/a|entry 5", "vm/a/x|entry 4",
                                      "vm/b|entry 0", "vm/b|entry 3"}));
}

TEST(SortByPathTest, AgreesWithAStableSortOnShuffledPlans) {
  std::mt19937 random(12);
  for (size_t n : {0, 1, 2, 3, 17, 1000}) {
    SCOPED_TRACE(n);
    std::vector<Action> actions;
    for (size_t i = 0; i < n; ++i) {
      Action a{ActionKind::kIndex, absl::StrCat("vm", random() % (n / 3 + 1), "/f")};
      a.reason = absl::StrCat(i);
      actions.push_back(std::move(a));
    }
    std::vector<Action> want = actions;
    std::stable_sort(want.begin(), want.end(),
                     [](const Action& x, const Action& y) { return x.path < y.path; });
    SortByPath(&actions);
    EXPECT_EQ(Keys(actions), Keys(want));
  }
}

Action Entry(ActionKind kind, std::string path, absl::Time reference, bool locked = true) {
  Action a{kind, std::move(path)};
  a.reference = reference;
  a.stat.immutable = locked;
  return a;
}

std::vector<std::string> Paths(std::vector<Action> actions) {
  SortByPath(&actions);
  std::vector<std::string> paths;
  for (const Action& a : actions) paths.push_back(a.path);
  return paths;
}

const absl::Time kT = absl::FromUnixSeconds(1764547200);

TEST(ActionBudgetTest, UnderTheLimitKeepsEverything) {
  ActionBudget budget(3);
  budget.Add(Entry(ActionKind::kWait, "w", kT));
  budget.Add(Entry(ActionKind::kLift, "l", kT));
  EXPECT_EQ(Paths(budget.Take()), (std::vector<std::string>{"l", "w"}));
  EXPECT_EQ(budget.deferred(), 0u);
  EXPECT_EQ(budget.deferred_lifts(), 0u);
}

// The caller appends the remote's own files to the kept entries: that must not copy tens of
// thousands of entries into a vector twice as large in the middle of a run.
TEST(ActionBudgetTest, TheKeptEntriesHaveRoomForWhatTheCallerAppends) {
  for (int added : {1, 3, 7}) {
    ActionBudget budget(5, /*room=*/2);
    for (int i = 0; i < added; ++i) {
      budget.Add(Entry(ActionKind::kProtect, absl::StrCat("p", i), kT));
    }
    std::vector<Action> kept = budget.Take();
    EXPECT_EQ(kept.size(), static_cast<size_t>(std::min(added, 5)));
    EXPECT_GE(kept.capacity(), kept.size() + 2) << added << " added";
  }
}

// Locking what is finished comes first, the oldest first; then the index's bookkeeping, then
// lifts, then what only reports. A million junk files an attacker made after a backup cannot
// push the backup out of the run.
TEST(ActionBudgetTest, KeepsTheMostUrgentWhateverTheOrderTheyCameIn) {
  std::vector<Action> entries = {
      Entry(ActionKind::kRefuse, "refuse", kT - absl::Hours(99)),
      Entry(ActionKind::kLift, "lift-old", kT - absl::Hours(48)),
      Entry(ActionKind::kProtect, "junk-new", kT),
      Entry(ActionKind::kUnindex, "unindex", kT - absl::Hours(50)),
      Entry(ActionKind::kProtect, "backup", kT - absl::Hours(1)),
      Entry(ActionKind::kReprotect, "drift", kT - absl::Hours(2)),
      Entry(ActionKind::kLift, "lift-new", kT - absl::Hours(47)),
      Entry(ActionKind::kProtect, "junk-b", kT - absl::Minutes(30)),
      Entry(ActionKind::kProtect, "junk-a", kT - absl::Minutes(30)),
  };
  std::mt19937 random(7);
  for (int round = 0; round < 20; ++round) {
    std::shuffle(entries.begin(), entries.end(), random);
    for (const auto& [limit, want] : std::vector<std::pair<int, std::vector<std::string>>>{
             {1, {"drift"}},
             {3, {"backup", "drift", "junk-a"}},
             {5, {"backup", "drift", "junk-a", "junk-b", "junk-new"}},
             {6, {"backup", "drift", "junk-a", "junk-b", "junk-new", "unindex"}},
             {7, {"backup", "drift", "junk-a", "junk-b", "junk-new", "lift-old", "unindex"}},
         }) {
      SCOPED_TRACE(absl::StrCat("round ", round, ", limit ", limit));
      ActionBudget budget(static_cast<uint64_t>(limit));
      for (const Action& a : entries) budget.Add(a);
      EXPECT_EQ(Paths(budget.Take()), want);
      EXPECT_EQ(budget.deferred(), entries.size() - static_cast<size_t>(limit));
      EXPECT_EQ(budget.deferred_lifts(), limit >= 7 ? 1u : 2u);
    }
  }
}

// What the mass-lift guard must count: lifts of something still locked.
TEST(ActionBudgetTest, CountsTheDeferredLiftsThatUnlockSomething) {
  ActionBudget budget(1);
  budget.Add(Entry(ActionKind::kProtect, "p", kT));
  budget.Add(Entry(ActionKind::kLift, "locked", kT));
  budget.Add(Entry(ActionKind::kLift, "already-mutable", kT, /*locked=*/false));
  Action tree = Entry(ActionKind::kLift, "mutable-tree", kT, /*locked=*/false);
  tree.tree = true;
  budget.Add(tree);
  budget.Add(Entry(ActionKind::kHold, "held", kT));  // a held lift is no lift
  budget.Add(Entry(ActionKind::kProtect, "p2", kT + absl::Hours(1)));
  EXPECT_EQ(budget.deferred(), 5u);
  EXPECT_EQ(budget.deferred_lifts(), 2u);
  EXPECT_EQ(budget.deferred_protections(), 1u) << "what the compliance checks count";
  EXPECT_EQ(Paths(budget.Take()), std::vector<std::string>{"p"});
}

TEST(ActionBudgetTest, ALimitOfZeroKeepsNothing) {
  ActionBudget budget(0);
  budget.Add(Entry(ActionKind::kProtect, "p", kT));
  EXPECT_TRUE(budget.Take().empty());
  EXPECT_EQ(budget.deferred(), 1u);
}

}  // namespace
}  // namespace xoi
