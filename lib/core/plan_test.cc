// SortByPath: the plan's order (by path; ties in the order the rules made them), every entry kept.
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

}  // namespace
}  // namespace xoi
