// End-to-end tests of `xo-immutable run` on generated XO remotes with real flags (root only; CI
// runs them as root). Each test works in its own ScratchDir, which lifts every flag when done.
#include "reconciler/remote_fixture.h"

namespace xoi {
namespace {

class RunTest : public OnEachFilesystem {};
XOI_ON_EACH_FILESYSTEM(RunTest);

TEST_P(RunTest, FirstRunLocksExactlyTheFinishedBackups) {
  const std::set<std::string> expected = Generate();
  WriteConfig("7d");
  const ProcessResult r = Run();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ImmutablePaths(root_), expected);
  EXPECT_THAT(ImmutablePaths(outside_), IsEmpty()) << "a flag was set outside the remote";
  EXPECT_EQ(Count(r, "waiting"), 5);  // the runs in progress
  EXPECT_GE(Count(r, "refused"), 6);  // symlinks, hard link, FIFO, tree with a symlink, dir
  EXPECT_EQ(Count(r, "errors"), 0);
  EXPECT_EQ(static_cast<int64_t>(CountIndexEntries(index_ + "/r1")), Count(r, "protected") - 2)
      << "every protected item but metadata.json and immutability.json is indexed";
}

TEST_P(RunTest, SecondRunChangesNothing) {
  const std::set<std::string> expected = Generate();
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  const ProcessResult again = Run();
  ASSERT_EQ(again.exit_code, 0) << again.err;
  for (const char* key : {"protected", "lifted", "reprotected", "indexed", "unindexed", "errors"}) {
    EXPECT_EQ(Count(again, key), 0) << key;
  }
  EXPECT_EQ(ImmutablePaths(root_), expected);
}

TEST_P(RunTest, DryRunChangesNothingAndListsThePlan) {
  const std::set<std::string> expected = Generate();
  WriteConfig("7d");
  const ProcessResult r =
      RunProcess({Runfile("reconciler/xo-immutable"), "--config", config_, "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(ImmutablePaths(root_), IsEmpty());
  EXPECT_FALSE(std::filesystem::exists(index_)) << "a dry run created the index";
  EXPECT_FALSE(std::filesystem::exists(root_ + "/immutability.json"));
  EXPECT_THAT(r.out, HasSubstr("would protect xo-vm-backups/"));
  EXPECT_THAT(r.out, HasSubstr("would write-marker immutability.json"));
  EXPECT_THAT(r.out, HasSubstr("backup run not complete: waiting for"));
}

// The plan is a value: what a dry run prints is exactly what the real run then carries out, entry
// for entry, in the same order (protections, waits, refusals, the marker; then, 9 days later,
// the lifts).
std::vector<std::string> PlannedEntries(const ProcessResult& r, bool executed) {
  std::vector<std::string> entries;
  boost::system::error_code ec;
  const json::value doc = json::parse(r.out, ec);
  if (ec) {
    ADD_FAILURE() << "report is not JSON: " << r.out << r.err;
    return entries;
  }
  for (const json::value& a : doc.at("remotes").at(0).at("actions").as_array()) {
    const json::object& o = a.as_object();
    const std::string kind(o.at("action").as_string());
    EXPECT_EQ(o.contains("outcome"), executed && kind != "wait" && kind != "refuse")
        << json::serialize(o);
    entries.push_back(kind + " " + std::string(o.at("path").as_string()) +
                      (o.at("tree").as_bool() ? "/" : ""));
  }
  return entries;
}

TEST_P(RunTest, TheDryRunPrintsExactlyThePlanTheRealRunCarriesOut) {
  Generate();
  WriteConfig("7d");
  const std::vector<std::string> planned = PlannedEntries(Run({"--dry-run"}), false);
  const std::vector<std::string> done = PlannedEntries(Run(), true);
  EXPECT_GT(planned.size(), 20u);
  EXPECT_EQ(planned, done);
  const std::vector<std::string> lifts = PlannedEntries(RunAt("+9d", {"--dry-run"}), false);
  EXPECT_EQ(lifts, PlannedEntries(RunAt("+9d"), true));
  EXPECT_TRUE(std::any_of(lifts.begin(), lifts.end(),
                          [](const std::string& e) { return e.rfind("lift ", 0) == 0; }));
}

// A run takes on at most maxEntriesPerRun entries (its memory is bounded by them, not by what an
// attacker can create); the dry run plans the same ones; the next runs go on with the rest until
// everything is locked.
TEST_P(RunTest, ARunTakesOnAtMostItsBudgetAndTheNextRunsGoOn) {
  const std::set<std::string> expected = Generate({});
  WriteFile(config_, "{\"indexPath\": \"" + index_ + "\", \"maxEntriesPerRun\": 5, " +
                         "\"remotes\": {\"r1\": {\"root\": \"" + root_ +
                         "\", \"immutabilityDuration\": \"7d\", \"settle\": \"0s\"}}}");
  const std::vector<std::string> planned = PlannedEntries(Run({"--dry-run"}), false);
  const ProcessResult first = Run();
  EXPECT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_EQ(planned, PlannedEntries(first, true));
  // Five items, then the remote's own files (never deferred: immutability.json follows the lifts).
  const auto items = std::count_if(planned.begin(), planned.end(), [](const std::string& e) {
    return e.find(" xo-") != std::string::npos;
  });
  EXPECT_EQ(items, 5) << first.out;
  EXPECT_GT(Count(first, "deferred"), 0) << first.out;
  // verify judges the whole remote, not the slice one run takes on.
  const ProcessResult verify =
      RunProcess({Runfile("reconciler/xo-immutable"), "verify", "--config", config_});
  EXPECT_EQ(verify.exit_code, 1) << verify.out;
  EXPECT_THAT(verify.out, HasSubstr("left for the next runs (maxEntriesPerRun)"));
  EXPECT_THAT(RunProcess({Runfile("reconciler/xo-immutable"), "--config", config_}).err,
              HasSubstr("more than one run takes on (maxEntriesPerRun)"));
  int runs = 2;
  for (; runs < 40 && ImmutablePaths(root_) != expected; ++runs) {
    const ProcessResult r = Run();
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  EXPECT_EQ(ImmutablePaths(root_), expected) << "not converged after " << runs << " runs";
  EXPECT_EQ(Count(Run(), "deferred"), 0);
}

// A held lift is held before the budget chooses: it took a lift's place, so expired backups
// outside an incident's hold were never lifted while it lasted (XO's retention failing on them),
// and the guard counted the held ones among the deferred lifts and tripped.
TEST_P(RunTest, HeldLiftsTakeNoLiftsPlaceInTheBudget) {
  const std::string held_vm = "11111111-2222-4333-8444-555555555555";
  const std::string other_vm = "66666666-7777-4888-8999-aaaaaaaaaaaa";
  for (const std::string& vm : {held_vm, other_vm}) {
    std::filesystem::create_directories(root_ + "/xo-vm-backups/" + vm);
  }
  for (int i = 0; i < 150; ++i) {
    WriteFile(absl::StrCat(root_, "/xo-vm-backups/", held_vm, "/", 1000 + i, ".json"), "{}");
  }
  for (int i = 0; i < 20; ++i) {
    WriteFile(absl::StrCat(root_, "/xo-vm-backups/", other_vm, "/", 1000 + i, ".json"), "{}");
  }
  WriteFile(config_, "{\"indexPath\": \"" + index_ +
                         "\", \"maxEntriesPerRun\": 50, \"timeShiftThreshold\": \"365d\", " +
                         "\"remotes\": {\"r1\": {\"root\": \"" + root_ +
                         "\", \"immutabilityDuration\": \"7d\", \"settle\": \"0s\"}}}");
  for (int run = 0; run < 10 && ImmutablePaths(root_).size() < 171; ++run) {
    ASSERT_EQ(Run().exit_code, 0);
  }
  ASSERT_EQ(ImmutablePaths(root_).size(), 171u);  // and immutability.json
  const ProcessResult hold = RunProcess({Runfile("reconciler/xo-immutable"), "hold", "--config",
                                         config_, "--vm", held_vm, "--reason", "incident 7"});
  ASSERT_EQ(hold.exit_code, 0) << hold.out << hold.err;
  const ProcessResult later = RunAt("+10d");
  EXPECT_EQ(later.exit_code, 0) << "the guard counted held lifts: " << later.out << later.err;
  EXPECT_EQ(Count(later, "lifted"), 20) << later.out;
  std::set<std::string> locked = ImmutablePaths(root_);
  EXPECT_EQ(locked.size(), 151u);
  for (const std::string& p : locked) {
    EXPECT_TRUE(p.find(held_vm) != std::string::npos || p == "immutability.json") << p;
  }
}

TEST_P(RunTest, ManualUnlockIsRepairedAtOnceAsDrift) {
  const std::set<std::string> expected = Generate({});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  WriteConfig("7d", "1h");  // a long settle: repairing drift must not wait for it
  std::string file, tree;
  for (const std::string& p : expected) {
    if (file.empty() && p.size() > 4 && p.substr(p.size() - 4) == ".xva") file = p;
    if (tree.empty() && p.size() > 4 && p.substr(p.size() - 4) == ".vhd" &&
        p.find("/data/") != std::string::npos) {
      tree = p;
    }
  }
  ASSERT_FALSE(file.empty());
  ASSERT_FALSE(tree.empty());
  ASSERT_TRUE(testing::SetImmutableFlag(root_ + "/" + file, false));
  ASSERT_TRUE(testing::SetImmutableFlag(root_ + "/" + tree, false));
  ASSERT_NE(ImmutablePaths(root_), expected);
  const ProcessResult r = Run();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Count(r, "reprotected"), 2);
  EXPECT_EQ(ImmutablePaths(root_), expected);
}

TEST_P(RunTest, RunPastTheDurationLiftsEverythingAndEmptiesTheIndex) {
  Generate();
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  ASSERT_GT(CountIndexEntries(index_ + "/r1"), 0u);
  // Not yet: 6 days later nothing created today has expired.
  const ProcessResult early = RunAt("+6d");
  ASSERT_EQ(early.exit_code, 0) << early.err;
  EXPECT_EQ(Count(early, "lifted"), 0);
  const ProcessResult late = RunAt("+9d");
  ASSERT_EQ(late.exit_code, 0) << late.err;
  EXPECT_GT(Count(late, "lifted"), 0);
  // Only the remote's own files stay locked while the remote is protected.
  EXPECT_EQ(ImmutablePaths(root_), (std::set<std::string>{"immutability.json", "metadata.json"}));
  EXPECT_EQ(CountIndexEntries(index_ + "/r1"), 0u);
  for (auto& e : std::filesystem::directory_iterator(index_ + "/r1")) {
    // Lifted items keep a record while they stay where they are: XO merging into one later must
    // not make it a new backup.
    if (e.path().extension() != ".idx") continue;
    EXPECT_THAT(ReadFile(e.path().string()), Not(HasSubstr("\nP\t")))
        << "a protected record left: " << e.path();
  }
}

TEST_P(RunTest, DurationZeroReleasesTheWholeRemote) {
  Generate();
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  WriteConfig("0");
  const ProcessResult r = Run();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(ImmutablePaths(root_), IsEmpty());
  EXPECT_FALSE(std::filesystem::exists(root_ + "/immutability.json"));
  EXPECT_EQ(CountIndexEntries(index_ + "/r1"), 0u);
}

// The release kept a lifted record of every backup, and a lifted item at its path is left alone
// (XO may merge into it): a duration set again locked nothing that was there, while `verify`
// passed. A released remote keeps no records; what it holds is judged anew.
TEST_P(RunTest, ADurationSetAgainAfterAReleaseLocksTheBackupsAgain) {
  const std::set<std::string> expected = Generate({});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  WriteConfig("0");
  const ProcessResult released = Run();
  ASSERT_EQ(released.exit_code, 0) << released.out << released.err;
  ASSERT_THAT(ImmutablePaths(root_), IsEmpty());
  const ProcessResult dump = RunProcess({Runfile("reconciler/xo-immutable"), "index", "dump",
                                         "--config", config_, "--report", "json"});
  EXPECT_THAT(dump.out, Not(HasSubstr("\"path\""))) << "records kept: " << dump.out;
  WriteConfig("7d");
  const ProcessResult verify =
      RunProcess({Runfile("reconciler/xo-immutable"), "verify", "--config", config_});
  EXPECT_EQ(verify.exit_code, 1) << "verify passed over unlocked backups: " << verify.out;
  const ProcessResult again = Run();
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(ImmutablePaths(root_), expected) << again.out;
}

TEST_P(RunTest, ImmutabilityJsonTellsXoAndKeepsSinceWhenTheDurationChanges) {
  Generate({});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  json::value first = json::parse(ReadFile(root_ + "/immutability.json"));
  EXPECT_EQ(first.at("duration").to_number<int64_t>(), 7 * 86400 * 1000LL);
  EXPECT_EQ(first.at("immutable").as_bool(), true);
  WriteConfig("14d");
  ASSERT_EQ(Run().exit_code, 0);
  json::value second = json::parse(ReadFile(root_ + "/immutability.json"));
  EXPECT_EQ(second.at("duration").to_number<int64_t>(), 14 * 86400 * 1000LL);
  EXPECT_EQ(second.at("since"), first.at("since"));
  EXPECT_TRUE(ImmutablePaths(root_).count("immutability.json"));
}

TEST_P(RunTest, NothingIsWrittenIntoARemoteXoHasNotInitialised) {
  std::filesystem::create_directories(root_);
  WriteConfig("7d");
  const ProcessResult r = Run();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::is_empty(root_)) << "XO refuses to initialise a non-empty folder";
}

TEST_P(RunTest, ItemsLockedByXosDaemonAreIndexed) {
  const std::set<std::string> expected = Generate({});
  std::string json_file;
  for (const std::string& p : expected) {
    if (p.find("xo-vm-backups/") == 0 && p.size() > 5 && p.substr(p.size() - 5) == ".json") {
      json_file = p;
      break;
    }
  }
  ASSERT_TRUE(testing::SetImmutableFlag(root_ + "/" + json_file, true));
  WriteConfig("7d");
  const ProcessResult r = Run();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Count(r, "indexed"), 1);
  EXPECT_EQ(ImmutablePaths(root_), expected);
}

TEST_P(RunTest, AHeldLockMeansExit75AndNothingTouched) {
  Generate({});
  WriteConfig("7d");
  std::filesystem::create_directories(index_ + "/r1");
  const int fd = open((index_ + "/r1/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_EX | LOCK_NB), 0);
  // The metrics are the lock holder's to write: this run's would say the remote unusable and
  // every count, unprotected items included, zero.
  const std::string metrics = scratch_.path() + "/metrics.prom";
  WriteFile(metrics, "the last run's metrics\n");
  const ProcessResult r = Run({"--metrics-file", metrics});
  close(fd);
  EXPECT_EQ(r.exit_code, 75) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("another xo-immutable run holds"));
  EXPECT_THAT(ImmutablePaths(root_), IsEmpty());
  EXPECT_EQ(ReadFile(metrics), "the last run's metrics\n");
}

TEST_P(RunTest, TwoConcurrentRunsDoNotBothAct) {
  const std::set<std::string> expected = Generate({"--vms", "8", "--blocks", "64"});
  WriteConfig("7d");
  std::vector<std::string> argv = {Runfile("reconciler/xo-immutable"), "--config", config_};
  ProcessResult a, b;
  std::thread ta([&] { a = RunProcess({argv[0], "--config", config_, "--report", "json"}); });
  std::thread tb([&] { b = RunProcess({argv[0], "--config", config_, "--report", "json"}); });
  ta.join();
  tb.join();
  ASSERT_TRUE(a.exit_code == 0 || a.exit_code == 75) << a.err;
  ASSERT_TRUE(b.exit_code == 0 || b.exit_code == 75) << b.err;
  auto protected_by = [&](const ProcessResult& r) {
    return r.exit_code == 75 ? 0 : Count(r, "protected");
  };
  // Each item is protected by exactly one of them (the other waits for the lock or finds it done).
  EXPECT_EQ(protected_by(a) + protected_by(b),
            static_cast<int64_t>(CountIndexEntries(index_ + "/r1")) + 2);
  EXPECT_EQ(ImmutablePaths(root_), expected);
}

TEST_P(RunTest, ARunKilledAtAnyPointConvergesOnTheNext) {
  const std::set<std::string> expected = Generate({"--vms", "6", "--blocks", "300"});
  WriteConfig("7d");
  for (int delay_ms : {2, 5, 10, 20, 40}) {
    const int pid =
        testing::StartProcess({Runfile("reconciler/xo-immutable"), "--config", config_});
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    kill(pid, SIGKILL);
    testing::WaitProcess(pid);
  }
  const ProcessResult r = Run();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ImmutablePaths(root_), expected);
  const ProcessResult again = Run();
  EXPECT_EQ(Count(again, "protected"), 0);
  EXPECT_EQ(Count(again, "indexed"), 0) << "every locked item is in the index";
  // And killed lifts converge too.
  for (int delay_ms : {2, 5, 10}) {
    const int pid = testing::StartProcess(
        {Runfile("reconciler/xo-immutable"), "--config", config_, "--allow-mass-lift"},
        testing::FaketimeEnv("+9d"));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    kill(pid, SIGKILL);
    testing::WaitProcess(pid);
  }
  ASSERT_EQ(RunAt("+9d", {"--allow-mass-lift"}).exit_code, 0);
  EXPECT_EQ(ImmutablePaths(root_), (std::set<std::string>{"immutability.json", "metadata.json"}));
  EXPECT_EQ(CountIndexEntries(index_ + "/r1"), 0u);
}

// XO merges a delta chain once both ends have expired and been lifted: the parent VHD takes the
// child's blocks, the child goes, and the parent takes the child's name. That used to make the
// parent a new backup at a new path, locked for a whole duration from the merge, and the chain's
// next merge failed with EPERM (every day, with daily backups). Its record follows it, lifted.
TEST_P(RunTest, AVhdMergedByXoIsNotLockedAgain) {
  const std::string vm = root_ + "/xo-vm-backups/0e6c3c5e-6f63-4b4e-9d0e-4c7c4a1f0d11";
  const std::string vdi = vm + "/vdis/job/vdi";
  std::filesystem::create_directories(vdi);
  WriteFile(root_ + "/metadata.json", "{}");
  for (const char* dt : {"20261101T000000Z", "20261102T000000Z", "20261103T000000Z"}) {
    WriteFile(vdi + "/" + dt + ".vhd", std::string("vhd ") + dt);
    WriteFile(vm + "/" + dt + ".json", "{}");
  }
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  ASSERT_TRUE(ImmutablePaths(root_).count(
      "xo-vm-backups/0e6c3c5e-6f63-4b4e-9d0e-4c7c4a1f0d11/vdis/job/vdi/20261102T000000Z.vhd"));
  const ProcessResult lifted = RunAt("+9d", {"--allow-mass-lift"});
  ASSERT_EQ(lifted.exit_code, 0) << lifted.out << lifted.err;

  // XO's retention and merge: the oldest run's json goes, the child's blocks go into the parent,
  // the child goes, the parent takes its name.
  std::filesystem::remove(vm + "/20261101T000000Z.json");
  WriteFile(vdi + "/20261101T000000Z.vhd", "vhd 20261101T000000Z + 20261102T000000Z");
  std::filesystem::remove(vdi + "/20261102T000000Z.vhd");
  std::filesystem::rename(vdi + "/20261101T000000Z.vhd", vdi + "/20261102T000000Z.vhd");

  // Back at the real time, a few minutes after the merge.
  const ProcessResult after = Run();
  ASSERT_EQ(after.exit_code, 0) << after.out << after.err;
  EXPECT_EQ(Count(after, "protected"), 0) << after.out;
  EXPECT_EQ(ImmutablePaths(root_), (std::set<std::string>{"immutability.json", "metadata.json"}));
  // The next merge, of the third run into it, succeeds (nothing there is locked), and is not
  // locked either: its record followed it to its new name.
  std::filesystem::remove(vm + "/20261102T000000Z.json");
  WriteFile(vdi + "/20261102T000000Z.vhd", "vhd 20261101T000000Z + 02 + 03");
  std::filesystem::remove(vdi + "/20261103T000000Z.vhd");
  std::filesystem::rename(vdi + "/20261102T000000Z.vhd", vdi + "/20261103T000000Z.vhd");
  const ProcessResult again = Run();
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(Count(again, "protected"), 0) << again.out;
  EXPECT_EQ(ImmutablePaths(root_), (std::set<std::string>{"immutability.json", "metadata.json"}));
}

TEST_P(RunTest, AMissingRootIsUnusableAndTheOtherRemotesGoOn) {
  const std::set<std::string> expected = Generate({});
  WriteFile(config_, "{\"indexPath\": \"" + index_ +
                         "\", \"remotes\": {"
                         "\"gone\": {\"root\": \"" +
                         scratch_.path() +
                         "/missing\", "
                         "\"immutabilityDuration\": \"7d\"}, "
                         "\"r1\": {\"root\": \"" +
                         root_ +
                         "\", \"immutabilityDuration\": \"7d\", "
                         "\"settle\": \"0s\"}}}");
  const ProcessResult r = Run();
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(r.out, HasSubstr("root missing"));
  EXPECT_EQ(ImmutablePaths(root_), expected);
}

TEST_P(RunTest, AConfigurationErrorExits2AndTouchesNothing) {
  Generate({});
  WriteFile(config_, "{\"remotes\": {\"r1\": {\"root\": \"" + root_ +
                         "\", \"immutabilityDuration\": \"7d\", \"setle\": \"0s\"}}}");
  const ProcessResult r = Run();
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("remotes.r1.setle"));
  EXPECT_THAT(r.err, HasSubstr(config_));
  EXPECT_THAT(ImmutablePaths(root_), IsEmpty());
}

TEST_P(RunTest, AFileReplacedOnTheSamePathIsNotTakenForDrift) {
  const std::set<std::string> expected = Generate({});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  std::string file;
  for (const std::string& p : expected) {
    if (p.size() > 4 && p.substr(p.size() - 4) == ".xva") file = p;
  }
  // Root lifts, deletes and rewrites the file: a new inode, which must settle like any other.
  const std::string path = root_ + "/" + file;
  ASSERT_TRUE(testing::SetImmutableFlag(path, false));
  std::filesystem::remove(path);
  WriteFile(path, "rewritten");
  WriteConfig("7d", "1h");
  const ProcessResult r = Run();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Count(r, "reprotected"), 0);
  EXPECT_EQ(Count(r, "waiting"), 1);
  EXPECT_FALSE(ImmutablePaths(root_).count(file));
}

TEST_P(RunTest, ADeepRunFindsAndRepairsAMemberUnlockedInsideAProtectedTree) {
  const std::set<std::string> expected = Generate({});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  const std::string member = FirstWith(expected, "/bat");
  ASSERT_FALSE(member.empty());
  ASSERT_TRUE(testing::SetImmutableFlag(root_ + "/" + member, false));
  // The steady state reads only the directory's own flag: cheap, and blind to this.
  const ProcessResult shallow = Run();
  EXPECT_EQ(Count(shallow, "reprotected"), 0);
  EXPECT_FALSE(ImmutablePaths(root_).count(member));
  const ProcessResult deep = Run({"--deep"});
  ASSERT_EQ(deep.exit_code, 0) << deep.err;
  EXPECT_EQ(Count(deep, "reprotected"), 1);
  EXPECT_EQ(ImmutablePaths(root_), expected);
}

TEST_P(RunTest, AFileStillOpenForWritingWaits) {
  const std::set<std::string> expected = Generate({});
  WriteConfig("7d");
  const std::string file = FirstWith(expected, ".xva");
  ASSERT_FALSE(file.empty());
  const int writer = open((root_ + "/" + file).c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  ASSERT_GE(writer, 0);
  const ProcessResult r = Run();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Count(r, "waiting"), 1);
  EXPECT_THAT(r.out, HasSubstr("open for writing"));
  EXPECT_FALSE(ImmutablePaths(root_).count(file)) << "locked under an open writer";
  ASSERT_EQ(write(writer, "more", 4), 4) << "the writer must still be able to write";
  close(writer);
  ASSERT_EQ(Run().exit_code, 0);
  EXPECT_EQ(ImmutablePaths(root_), expected);
}

TEST_P(RunTest, AFilesystemWithoutTheAttributeIsUnusableForCheckRunAndStatus) {
  ScopedMount ramfs("ramfs", root_);
  ASSERT_TRUE(ramfs.ok());
  Generate({});
  WriteConfig("7d");
  const ProcessResult check =
      RunProcess({Runfile("reconciler/xo-immutable"), "check", "--config", config_});
  EXPECT_EQ(check.exit_code, 3) << check.out << check.err;
  EXPECT_THAT(check.out, HasSubstr("does not support the immutable attribute"));
  const ProcessResult r = Run();
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("does not support the immutable attribute"));
  EXPECT_FALSE(std::filesystem::exists(root_ + "/immutability.json"));
  // Not "nothing locked" with exit 0: the reason, and the remote is unusable.
  const ProcessResult status =
      RunProcess({Runfile("reconciler/xo-immutable"), "status", "--config", config_});
  EXPECT_EQ(status.exit_code, 3) << status.out << status.err;
  EXPECT_THAT(status.out, HasSubstr("does not support the immutable attribute"));
}

// A file with a second name is never locked here; one locked by someone else (root) was adopted
// and then lifted, which unlocked its other name outside the remote: a backup file, and XO's
// metadata.json when the remote was released.
TEST_P(RunTest, AHardLinkedFileLockedBySomeoneElseIsNeverUnlocked) {
  const std::string vm = root_ + "/xo-vm-backups/3b0c8f5e-2d4a-4f6b-9c1e-7a8d9e0f1a2b";
  std::filesystem::create_directories(vm);
  WriteFile(vm + "/20261120T000000Z.json", "{}");
  WriteFile(outside_ + "/canary", "outside");
  ASSERT_EQ(link((outside_ + "/canary").c_str(), (vm + "/20261120T000000Z.xva").c_str()), 0);
  WriteFile(outside_ + "/meta", "outside");
  ASSERT_EQ(link((outside_ + "/meta").c_str(), (root_ + "/metadata.json").c_str()), 0);
  ASSERT_TRUE(testing::SetImmutableFlag(outside_ + "/canary", true));
  ASSERT_TRUE(testing::SetImmutableFlag(outside_ + "/meta", true));
  const std::set<std::string> locked_outside = {"canary", "meta"};
  WriteConfig("7d");
  const ProcessResult first = Run();
  EXPECT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_THAT(first.out, HasSubstr("2 hard links, locked by someone else"));
  EXPECT_EQ(Count(first, "indexed"), 0) << "adopted: " << first.out;
  const ProcessResult later = RunAt("+30d", {"--allow-mass-lift"});
  EXPECT_EQ(later.exit_code, 0) << later.out << later.err;
  EXPECT_EQ(ImmutablePaths(outside_), locked_outside) << later.out;
  WriteConfig("0");
  const ProcessResult released = Run();
  EXPECT_EQ(released.exit_code, 0) << released.out << released.err;
  EXPECT_THAT(released.out, HasSubstr("not unlocked (its other names would be too)"));
  EXPECT_EQ(ImmutablePaths(outside_), locked_outside) << released.out;
}

// A file bind-mounted onto a backup's name (the same filesystem: its device is the remote's) was
// locked through the mount. Something mounted on a name is never followed.
TEST_P(RunTest, AFileBindMountedOntoABackupIsNotFollowed) {
  const std::string vm = root_ + "/xo-vm-backups/3b0c8f5e-2d4a-4f6b-9c1e-7a8d9e0f1a2b";
  std::filesystem::create_directories(vm);
  WriteFile(vm + "/20261120T000000Z.json", "{}");
  WriteFile(vm + "/20261120T000000Z.xva", "");
  WriteFile(outside_ + "/bound", "outside");
  const std::string target = vm + "/20261120T000000Z.xva";
  ASSERT_EQ(RunProcess({"mount", "--bind", outside_ + "/bound", target}).exit_code, 0);
  const UnmountWhenDone unmount{target};
  WriteConfig("7d");
  const ProcessResult r = Run();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(ImmutablePaths(outside_), IsEmpty()) << "locked through a bind mount: " << r.out;
  EXPECT_THAT(r.out, HasSubstr("something is mounted here (a bind mount), not followed"));
}

// A remote mounted read-only (a service unit without ReadWritePaths= for it) passed `check` and
// the dry run, then every item failed with EROFS. It is unusable, and says why.
TEST_P(RunTest, ARemoteMountedReadOnlyIsUnusableForCheckAndRun) {
  Generate({});
  WriteConfig("7d");
  ASSERT_EQ(RunProcess({"mount", "--bind", root_, root_}).exit_code, 0);
  const UnmountWhenDone unmount{root_};
  ASSERT_EQ(RunProcess({"mount", "-o", "remount,bind,ro", root_}).exit_code, 0);
  const ProcessResult check =
      RunProcess({Runfile("reconciler/xo-immutable"), "check", "--config", config_});
  EXPECT_EQ(check.exit_code, 3) << check.out << check.err;
  EXPECT_THAT(check.out, HasSubstr("mounted read-only"));
  const ProcessResult r = Run();
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("mounted read-only"));
}

// A run killed between writing a state file's temporary and renaming it left
// ".clock.json.tmp-<pid>" in the index folder for good (the day files' were cleaned, not these).
// The next run removes those of processes that are gone, never a live one's.
TEST_P(RunTest, TemporariesOfKilledRunsAreRemovedNotThoseOfLiveOnes) {
  Generate({});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  const pid_t gone = fork();
  if (gone == 0) _exit(0);
  ASSERT_GT(gone, 0);
  ASSERT_EQ(waitpid(gone, nullptr, 0), gone);
  const std::string dead_clock = absl::StrCat(index_, "/.clock.json.tmp-", gone);
  const std::string dead_holds = absl::StrCat(index_, "/r1/.holds.tmp-", gone, "-1");
  const std::string live = absl::StrCat(index_, "/.clock.json.tmp-", getpid());
  for (const std::string& f : {dead_clock, dead_holds, live}) WriteFile(f, "half");
  ASSERT_EQ(Run({"--dry-run"}).exit_code, 0);
  EXPECT_TRUE(std::filesystem::exists(dead_clock)) << "a dry run writes nothing, removes nothing";
  ASSERT_EQ(Run().exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(dead_clock));
  EXPECT_FALSE(std::filesystem::exists(dead_holds));
  EXPECT_TRUE(std::filesystem::exists(live)) << "a live process's temporary was removed";
  std::filesystem::remove(live);
}

TEST_P(RunTest, CheckSaysUsableAndWritesNothing) {
  Generate({});
  WriteConfig("7d");
  const ProcessResult check =
      RunProcess({Runfile("reconciler/xo-immutable"), "check", "--config", config_});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_THAT(check.out, HasSubstr("remote r1 (" + root_ + "): usable"));
  EXPECT_FALSE(std::filesystem::exists(index_));
  EXPECT_THAT(ImmutablePaths(root_), IsEmpty());
}

TEST_P(RunTest, ARemoteWhoseDiskIsNoLongerMountedIsUnusable) {
  ScopedMount disk("tmpfs", root_);
  ASSERT_TRUE(disk.ok());
  Generate({});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  disk.Unmount();  // root_ is now the empty mount point on the parent filesystem
  const ProcessResult r = Run();
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("not on the filesystem seen before"));
  EXPECT_TRUE(std::filesystem::is_empty(root_));
}

TEST_P(RunTest, AFilesystemMountedInsideTheRemoteIsNotEntered) {
  const std::set<std::string> expected = Generate({});
  const std::string vm = root_ + "/xo-vm-backups/mounted-vm";
  ScopedMount inner("tmpfs", vm);
  ASSERT_TRUE(inner.ok());
  WriteFile(vm + "/20261101T000000Z.xva", "x");
  WriteFile(vm + "/20261101T000000Z.json", "{}");
  WriteConfig("7d");
  const ProcessResult r = Run();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(ImmutablePaths(vm), IsEmpty());
  EXPECT_THAT(r.out, HasSubstr("another filesystem is mounted here"));
  EXPECT_EQ(ImmutablePaths(root_), expected);
}

// A btrfs subvolume is another st_dev on the same mount (openat2's RESOLVE_NO_XDEV lets it
// through): its inode numbers are its own, so identities could collide with the remote's, and the
// checks of step 2 were made on the root's. Nothing in it is locked: each backup found there is
// refused, named in the report; the sweep does not look inside either.
class BtrfsRunTest : public OnEachFilesystem {};
INSTANTIATE_TEST_SUITE_P(Filesystems, BtrfsRunTest, ::testing::Values("btrfs"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

TEST_P(BtrfsRunTest, NothingInABtrfsSubvolumeInsideTheRemoteIsLocked) {
  const std::set<std::string> expected = Generate({});
  const std::string vm = root_ + "/xo-vm-backups/subvolume-vm";
  ASSERT_EQ(RunProcess({"btrfs", "-q", "subvolume", "create", vm}).exit_code, 0);
  WriteFile(vm + "/20261101T000000Z.xva", "x");
  WriteFile(vm + "/20261101T000000Z.json", "{}");
  WriteConfig("7d");
  const ProcessResult r = Run();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("on another filesystem, not followed"));
  EXPECT_THAT(ImmutablePaths(vm), IsEmpty());
  EXPECT_EQ(ImmutablePaths(root_), expected);
  const ProcessResult sweep = RunProcess(
      {Runfile("reconciler/xo-immutable"), "sweep", "--config", config_, "--report", "json"});
  EXPECT_EQ(sweep.exit_code, 0) << sweep.out << sweep.err;
  EXPECT_THAT(ImmutablePaths(vm), IsEmpty());
}

TEST_P(RunTest, TheJsonReportIsValidUtf8AndKeepsOddNamesExactly) {
  Generate();
  WriteConfig("7d");
  const ProcessResult r = Run({"--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  boost::system::error_code ec;
  const json::value doc = json::parse(r.out, ec);  // Boost.JSON rejects invalid UTF-8
  ASSERT_FALSE(ec) << ec.message();
  bool found = false;
  for (const json::value& a : doc.at("remotes").at(0).at("actions").as_array()) {
    if (const json::value* b64 = a.as_object().if_contains("path_base64")) {
      std::string exact;
      ASSERT_TRUE(absl::Base64Unescape(std::string(b64->as_string()), &exact));
      if (exact.find("\xff\xfe") == std::string::npos) continue;
      found = true;
      EXPECT_THAT(std::string(a.at("path").as_string()), HasSubstr("\xEF\xBF\xBD"));
    }
  }
  EXPECT_TRUE(found) << "the non-UTF-8 name got no path_base64";
}

TEST_P(RunTest, XosOwnConfigTomlWorksAsIs) {
  const std::set<std::string> expected = Generate({});
  const std::string toml = scratch_.path() + "/config.toml";
  WriteFile(toml, "liftEvery = \"1h\"\nindexPath = \"" + index_ + "\"\n\n[remotes.remote1]\n" +
                      "root = \"" + root_ +
                      "/\"\nimmutabilityDuration = \"7d\"\nsettle = \"0s\"\n");
  const ProcessResult r = RunProcess({Runfile("reconciler/xo-immutable"), "run", "--config", toml});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("liftEvery is an option of XO's daemon, ignored"));
  EXPECT_EQ(ImmutablePaths(root_), expected);
}

TEST_P(RunTest, ReportFileAndRemoteSelection) {
  const std::set<std::string> expected = Generate({});
  WriteConfig("7d");
  const std::string report = scratch_.path() + "/report.json";
  const ProcessResult unknown = Run({"--remote", "nope"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("no remote \"nope\""));
  const ProcessResult r = Run({"--remote", "r1", "--report-file", report});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.empty());
  const json::value doc = json::parse(ReadFile(report));
  EXPECT_EQ(doc.at("remotes").at(0).at("id").as_string(), "r1");
  EXPECT_EQ(ImmutablePaths(root_), expected);
}

}  // namespace
}  // namespace xoi
