// Switching a remote from XO's own daemon (`xo-immutable-remote`) to this program: each shape it
// leaves on a remote is rebuilt by hand, as its v1 and v3 left them, on ext4, XFS and btrfs loop
// filesystems, and the program must lift nothing before it expires, everything after, so that XO's
// retention (`rm -r`) can delete the backups. Root only: every flag lives on a loop filesystem of
// the test's own, lifted when it ends.
#include <signal.h>

#include <chrono>
#include <thread>

#include "reconciler/remote_fixture.h"

namespace xoi {
namespace {

constexpr char kConfigRun[] = "xo-config-backups/sched/20261101T000000Z";
constexpr char kPoolRun[] = "xo-pool-metadata-backups/sched/pool/20261101T000000Z";
constexpr char kVm[] = "xo-vm-backups/vm1";
constexpr char kVhdDir[] = "xo-vm-backups/vm1/vdis/job/vdi/data/2f6b2a4c.vhd";

class SwitchTest : public OnEachFilesystem {
 protected:
  void SetUp() override {
    OnEachFilesystem::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    xo_index_ = scratch_.path() + "/xo-daemon-index";
    Put(root_ + "/metadata.json", "{}");  // XO initialised the remote
  }

  // A VHD directory of a backup run whose bat, header and footer XO's daemon v1 locked (never the
  // folder, nor the blocks); returns its path.
  std::string VhdDirectoryXosV1Locked() {
    const std::string vhd = std::string(kVm) + "/vdis/job/vdi/data/20261101T000000Z.vhd";
    for (const char* name : {"header", "footer", "bat", "blocks/0/1"}) {
      Put(At(vhd + "/" + name), "vhd");
    }
    Put(At(std::string(kVm) + "/20261101T000000Z.json"), "{}");
    for (const char* name : {"header", "footer", "bat"}) LockAsXoDid(vhd + "/" + name, false);
    return vhd;
  }

  std::string At(const std::string& relative) { return root_ + "/" + relative; }

  // Writes a file, making the folders that lead to it.
  static void Put(const std::string& path, const std::string& content) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    WriteFile(path, content);
  }

  // Locks `relative` and, with `whole`, everything below it, as XO's daemon did (`chattr -R +i`).
  void LockAsXoDid(const std::string& relative, bool whole) {
    ASSERT_EQ(RunProcess({"chattr", whole ? "-R" : "-f", "+i", At(relative)}).exit_code, 0);
  }

  // A config and a pool metadata backup, their date folders locked whole (XO's daemon 2.x-3.x);
  // a VM backup whose VHD directory (named by UUID, as older XO did) is locked on the folder
  // only, and its other files locked one by one: the run's json, an XVA, a VHD file, the alias.
  void BuildXoLeftovers() {
    for (const char* name : {"data", "data.json", "metadata.json"}) {
      Put(At(std::string(kConfigRun) + "/" + name), "{}");
    }
    for (const char* name : {"data", "metadata.json"}) {
      Put(At(std::string(kPoolRun) + "/" + name), "{}");
    }
    for (const char* name : {"header", "footer", "bat", "blocks/0/1"}) {
      Put(At(std::string(kVhdDir) + "/" + name), "vhd");
    }
    Put(At(std::string(kVm) + "/vdis/job/vdi/20261101T000000Z.alias.vhd"), "data/2f6b2a4c.vhd");
    Put(At(std::string(kVm) + "/20261101T000000Z.json"), "{}");
    Put(At(std::string(kVm) + "/20261101T000000Z.xva"), "xva");
    Put(At(std::string(kVm) + "/vdis/job/vdi2/20261101T000000Z.vhd"), "vhd");
    LockAsXoDid(kConfigRun, true);
    LockAsXoDid(kPoolRun, true);
    LockAsXoDid(kVhdDir, false);
    for (const char* file :
         {"/20261101T000000Z.json", "/20261101T000000Z.xva", "/vdis/job/vdi2/20261101T000000Z.vhd",
          "/vdis/job/vdi/20261101T000000Z.alias.vhd"}) {
      LockAsXoDid(kVm + std::string(file), false);
    }
  }

  // XO's daemon's v1 index of this remote: an entry for a locked run json (which the walk adopts
  // anyway), one for a file it locked that no glob of ours reaches (v1 locked such names), and one
  // for a file deleted since.
  void BuildV1Index() {
    Put(At(std::string(kVm) + "/legacy-v1.txt"), "locked by v1");
    LockAsXoDid(std::string(kVm) + "/legacy-v1.txt", false);
    const std::string day = xo_index_ + "/2026-11-01/";
    Put(day + "0a1b", At(std::string(kVm) + "/20261101T000000Z.json"));
    Put(day + "2c3d", At(std::string(kVm) + "/legacy-v1.txt"));
    Put(day + "4e5f", At(std::string(kVm) + "/20261001T000000Z.xva"));
  }

  // Its immutability.json, locked, saying another duration (1 day).
  void BuildOldMarker() {
    Put(At("immutability.json"),
        "{\"since\":1700000000000,\"immutable\":true,\"duration\":86400000}");
    LockAsXoDid("immutability.json", false);
  }

  void WriteSwitchConfig() {
    Put(config_, "{\"indexPath\": \"" + index_ +
                     "\", \"timeShiftThreshold\": \"365d\", \"remotes\": {\"r1\": {\"root\": "
                     "\"" +
                     root_ +
                     "\", \"immutabilityDuration\": \"7d\", \"settle\": "
                     "\"0s\", \"indexPath\": \"" +
                     xo_index_ + "\"}}}");
  }

  std::string xo_index_;
};
XOI_ON_EACH_FILESYSTEM(SwitchTest);

TEST_P(SwitchTest, XosLeftoversAreAdoptedLiftedOnlyOnceExpiredAndThenDeletable) {
  BuildXoLeftovers();
  BuildV1Index();
  BuildOldMarker();
  WriteSwitchConfig();
  const std::set<std::string> locked_by_xo = ImmutablePaths(root_);
  ASSERT_TRUE(locked_by_xo.count(kConfigRun) && locked_by_xo.count(kVhdDir));

  // The dry run says what is adopted and when each expires, and changes nothing.
  const ProcessResult dry = Run({"--dry-run", "--report", "text"});
  ASSERT_EQ(dry.exit_code, 0) << dry.out << dry.err;
  EXPECT_THAT(dry.out, HasSubstr("adopted: a backup folder XO's daemon locked whole"));
  EXPECT_THAT(dry.out, HasSubstr("lifted from"));
  EXPECT_THAT(dry.out, HasSubstr("imported from XO's daemon index"));
  EXPECT_THAT(dry.out, HasSubstr("1 vanished, skipped"));
  EXPECT_EQ(ImmutablePaths(root_), locked_by_xo);
  EXPECT_FALSE(std::filesystem::exists(index_ + "/r1/xo-daemon-index-imported"));

  const ProcessResult first = Run();
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_THAT(first.out, HasSubstr("XO's daemon index"));
  EXPECT_TRUE(std::filesystem::exists(index_ + "/r1/xo-daemon-index-imported"));
  // Its immutability.json is taken over: our duration, locked again.
  EXPECT_THAT(ReadFile(At("immutability.json")), HasSubstr("\"duration\":604800000"));
  const std::set<std::string> locked = ImmutablePaths(root_);
  for (const std::string& path : locked_by_xo) EXPECT_TRUE(locked.count(path)) << path;
  EXPECT_TRUE(locked.count(std::string(kVhdDir) + "/blocks/0/1")) << "its members locked too";
  // The compliance check passes but for the one file XO's daemon locked that no glob of ours
  // reaches: recorded so that it is lifted when it expires, and named until then.
  const ProcessResult verify =
      RunProcess({Runfile("reconciler/xo-immutable"), "verify", "--config", config_});
  EXPECT_EQ(verify.exit_code, 1) << verify.out << verify.err;
  EXPECT_THAT(verify.out, HasSubstr("FAIL the index agrees with the flags (1 offending)\n"
                                    "       xo-vm-backups/vm1/legacy-v1.txt\n"));
  EXPECT_THAT(verify.out, HasSubstr("PASS every finished backup is immutable"));
  EXPECT_THAT(verify.out, Not(HasSubstr("FAIL no expired")));
  EXPECT_THAT(verify.out, Not(HasSubstr("FAIL immutability.json")));
  EXPECT_THAT(verify.out, Not(HasSubstr("FAIL no backup is refused")));

  // Before expiry nothing XO locked is unlocked, whatever the index of XO's daemon said (its day
  // is a month old).
  const ProcessResult early = RunAt("+3d");
  ASSERT_EQ(early.exit_code, 0) << early.out << early.err;
  EXPECT_EQ(Count(early, "lifted"), 0);
  EXPECT_EQ(ImmutablePaths(root_), locked);

  // After: everything, members and folders; only the remote's own files stay locked.
  const ProcessResult late = RunAt("+9d", {"--allow-mass-lift"});
  ASSERT_EQ(late.exit_code, 0) << late.out << late.err;
  EXPECT_EQ(ImmutablePaths(root_), (std::set<std::string>{"immutability.json", "metadata.json"}));
  // A run back at the real time: the lift moved the ctime of the config and pool backups' files,
  // which the walk reaches as items once their folder is mutable; they looked like new backups and
  // were locked for 7 days more, holding XO's retention back.
  const ProcessResult next = Run();
  ASSERT_EQ(next.exit_code, 0) << next.out << next.err;
  EXPECT_EQ(Count(next, "protected"), 0) << next.out;
  EXPECT_EQ(ImmutablePaths(root_), (std::set<std::string>{"immutability.json", "metadata.json"}));

  // XO's retention deletes the expired backups.
  for (const std::string& backup :
       {std::string(kConfigRun), std::string(kPoolRun), std::string(kVm) + "/vdis",
        std::string(kVm) + "/20261101T000000Z.xva", std::string(kVm) + "/legacy-v1.txt"}) {
    std::error_code ec;
    std::filesystem::remove_all(At(backup), ec);
    EXPECT_FALSE(ec) << backup << ": " << ec.message();
  }
  // And the next run tidies the index: the records of what was deleted go.
  const ProcessResult after = RunAt("+9d");
  ASSERT_EQ(after.exit_code, 0) << after.out << after.err;
  EXPECT_EQ(CountIndexEntries(index_ + "/r1"), 0u);
}

// XO's daemon v1 locked a VHD directory's bat, header and footer, never the folder. Seen in
// time, the directory is protected whole from their lock times and lifted whole later.
TEST_P(SwitchTest, AVhdDirectoryWhoseFilesXosV1LockedIsProtectedWholeThenFreed) {
  const std::string vhd = VhdDirectoryXosV1Locked();
  WriteSwitchConfig();
  const ProcessResult early = Run();
  ASSERT_EQ(early.exit_code, 0) << early.out << early.err;
  EXPECT_TRUE(ImmutablePaths(root_).count(vhd));
  EXPECT_TRUE(ImmutablePaths(root_).count(vhd + "/blocks/0/1"));
  const ProcessResult late = RunAt("+9d", {"--allow-mass-lift"});
  ASSERT_EQ(late.exit_code, 0) << late.out << late.err;
  EXPECT_THAT(ImmutablePaths(At(vhd)), IsEmpty());
  std::error_code ec;
  std::filesystem::remove_all(At(vhd), ec);
  EXPECT_FALSE(ec) << ec.message();
}

// The same directory, when this program's first run comes after its time: never protected by
// it, but the files XO's daemon locked must not stay locked for ever.
TEST_P(SwitchTest, AVhdDirectoryPastItsTimeAtTheFirstRunHasItsLockedFilesLifted) {
  const std::string vhd = VhdDirectoryXosV1Locked();
  WriteSwitchConfig();
  const ProcessResult first = RunAt("+30d", {"--allow-mass-lift"});
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_THAT(first.out, HasSubstr("members locked by XO's daemon"));
  EXPECT_THAT(ImmutablePaths(At(vhd)), IsEmpty());
  std::error_code ec;
  std::filesystem::remove_all(At(vhd), ec);
  EXPECT_FALSE(ec) << ec.message();
}

// Nothing configured: XO's daemon kept the index at its XDG default, which is also where a run by
// hand without indexPath keeps ours (<XDG_DATA_HOME>/xo-immutable-backups/<id>). Found, imported.
TEST_P(SwitchTest, XosIndexIsFoundAtItsDefaultPlaceWhichOursMayShare) {
  Put(At("xo-vm-backups/vm1/legacy-v1.txt"), "locked by v1");
  LockAsXoDid("xo-vm-backups/vm1/legacy-v1.txt", false);
  const std::string xdg = scratch_.path() + "/xdg";
  index_ = xdg + "/xo-immutable-backups";
  Put(index_ + "/r1/2026-11-01/9f86d081", At("xo-vm-backups/vm1/legacy-v1.txt"));
  Put(index_ + "/r1/2026-11-01/60303ae2", At("xo-vm-backups/vm1/gone.xva"));
  Put(config_, "{\"timeShiftThreshold\": \"365d\", \"remotes\": {\"r1\": {\"root\": \"" + root_ +
                   "\", \"immutabilityDuration\": \"7d\", \"settle\": \"0s\"}}}");
  // Every run with it: our index goes there too, never to the real home folder.
  auto at = [&](const std::string& offset) {
    std::vector<std::string> env = testing::FaketimeEnv(offset);
    env.push_back("XDG_DATA_HOME=" + xdg);
    return env;
  };
  const ProcessResult first = Run({"--report", "text"}, at("+0"));
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_THAT(first.out, HasSubstr("1 still locked, imported"));
  EXPECT_THAT(first.out, HasSubstr("1 vanished, skipped"));
  EXPECT_TRUE(std::filesystem::exists(index_ + "/r1/xo-daemon-index-imported"));
  // Recorded: lifted once expired, never before.
  ASSERT_EQ(Run({}, at("+3d")).exit_code, 0);
  EXPECT_TRUE(ImmutablePaths(root_).count("xo-vm-backups/vm1/legacy-v1.txt"));
  const ProcessResult late = Run({"--allow-mass-lift"}, at("+9d"));
  ASSERT_EQ(late.exit_code, 0) << late.out << late.err;
  EXPECT_FALSE(ImmutablePaths(root_).count("xo-vm-backups/vm1/legacy-v1.txt"));
}

// A run killed after it had read XO's daemon index, before the records it imported were durable,
// used to have recorded the import as done already: the next run skipped it and, XO's index
// sharing our folder, removed XO's entries as old ones of ours, so what XO had locked beyond our
// globs stayed locked for ever. The import is recorded only once its records are durable: killed
// as soon as that record appears, the next run still knows the file, and lifts it in time.
TEST_P(SwitchTest, ARunKilledAsItImportsXosIndexLosesNothing) {
  Put(At("xo-vm-backups/vm1/legacy-v1.txt"), "locked by v1");
  LockAsXoDid("xo-vm-backups/vm1/legacy-v1.txt", false);
  // Enough backups that carrying the plan out takes a while after the import is planned.
  for (int i = 0; i < 3000; ++i) Put(At("xo-vm-backups/vm2/" + std::to_string(i) + ".json"), "{}");
  const std::string xdg = scratch_.path() + "/xdg";
  index_ = xdg + "/xo-immutable-backups";
  Put(index_ + "/r1/2026-11-01/9f86d081", At("xo-vm-backups/vm1/legacy-v1.txt"));
  Put(config_, "{\"timeShiftThreshold\": \"365d\", \"remotes\": {\"r1\": {\"root\": \"" + root_ +
                   "\", \"immutabilityDuration\": \"7d\", \"settle\": \"0s\"}}}");
  const std::vector<std::string> env = {"XDG_DATA_HOME=" + xdg};
  const std::string imported = index_ + "/r1/xo-daemon-index-imported";
  const int pid =
      testing::StartProcess({Runfile("reconciler/xo-immutable"), "--config", config_}, env);
  ASSERT_GT(pid, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!std::filesystem::exists(imported) && kill(pid, 0) == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  kill(pid, SIGKILL);
  testing::WaitProcess(pid);

  const ProcessResult next = Run({}, env);
  ASSERT_EQ(next.exit_code, 0) << next.out << next.err;
  const ProcessResult dump =
      RunProcess({Runfile("reconciler/xo-immutable"), "index", "dump", "--config", config_}, env);
  EXPECT_THAT(dump.out, HasSubstr("xo-vm-backups/vm1/legacy-v1.txt"))
      << "XO's record of a file beyond our globs was lost";
  std::vector<std::string> later = testing::FaketimeEnv("+9d");
  later.insert(later.end(), env.begin(), env.end());
  const ProcessResult late = Run({"--allow-mass-lift"}, later);
  ASSERT_EQ(late.exit_code, 0) << late.out << late.err;
  EXPECT_FALSE(ImmutablePaths(root_).count("xo-vm-backups/vm1/legacy-v1.txt"))
      << "what XO's daemon locked beyond our globs stays locked for ever";
}

// The attacker (XO's access: create, rename, delete anything mutable; never set a flag) against
// adoption: a folder it plants at a backup level is mutable, so it is no leftover; a locked folder
// outside those levels (locked by root for reasons of its own) stays locked, as before; a symlink
// planted at a backup level leads nowhere.
TEST_P(SwitchTest, AdoptionNeverLiftsAPlantedOrStrangeFolder) {
  Put(At(std::string(kConfigRun) + "/data"), "planted");
  Put(At(std::string(kConfigRun) + "/metadata.json"), "{}");
  Put(At(std::string(kVm) + "/stranger/file"), "root's");
  LockAsXoDid(std::string(kVm) + "/stranger", true);
  Put(outside_ + "/locked/file", "outside");
  ASSERT_EQ(RunProcess({"chattr", "-R", "+i", outside_ + "/locked"}).exit_code, 0);
  std::filesystem::create_directory_symlink(outside_ + "/locked",
                                            At("xo-config-backups/sched/20261102T000000Z"));
  WriteSwitchConfig();

  const ProcessResult first = Run();
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  std::set<std::string> locked = ImmutablePaths(root_);
  EXPECT_FALSE(locked.count(kConfigRun)) << "a planted folder is never locked whole";
  EXPECT_TRUE(locked.count(std::string(kConfigRun) + "/data")) << "its backup files are";

  const ProcessResult late = RunAt("+30d", {"--allow-mass-lift"});
  ASSERT_EQ(late.exit_code, 0) << late.out << late.err;
  locked = ImmutablePaths(root_);
  EXPECT_TRUE(locked.count(std::string(kVm) + "/stranger"));
  EXPECT_TRUE(locked.count(std::string(kVm) + "/stranger/file"));
  EXPECT_EQ(ImmutablePaths(outside_ + "/locked"), (std::set<std::string>{"file"}));
  const ProcessResult sweep = RunProcess(
      {Runfile("reconciler/xo-immutable"), "sweep", "--config", config_, "--report", "json"},
      testing::FaketimeEnv("+30d"));
  EXPECT_EQ(sweep.exit_code, 0) << sweep.out << sweep.err;
  EXPECT_THAT(sweep.out, HasSubstr("left alone"));
  EXPECT_TRUE(ImmutablePaths(root_).count(std::string(kVm) + "/stranger"));
}

// Once adopted, a folder moved out of XO's layout (its schedule folder, mutable, renamed) keeps its
// record, found by identity: lifted by the sweep once expired, never before.
TEST_P(SwitchTest, AnAdoptedFolderMovedOutOfXosLayoutIsLiftedByTheSweepOnlyOnceExpired) {
  BuildXoLeftovers();
  WriteSwitchConfig();
  ASSERT_EQ(Run().exit_code, 0);
  std::filesystem::rename(At("xo-config-backups/sched"), At("moved-away"));
  const std::string moved = "moved-away/20261101T000000Z";
  auto sweep_at = [&](const std::string& offset) {
    return RunProcess(
        {Runfile("reconciler/xo-immutable"), "sweep", "--config", config_, "--report", "json"},
        testing::FaketimeEnv(offset));
  };
  ASSERT_EQ(RunAt("+3d").exit_code, 0);
  const ProcessResult early = sweep_at("+3d");
  EXPECT_EQ(early.exit_code, 0) << early.out << early.err;
  EXPECT_TRUE(ImmutablePaths(root_).count(moved));
  EXPECT_TRUE(ImmutablePaths(root_).count(moved + "/data"));
  const ProcessResult late = sweep_at("+9d");
  EXPECT_EQ(late.exit_code, 0) << late.out << late.err;
  EXPECT_FALSE(ImmutablePaths(root_).count(moved));
  EXPECT_FALSE(ImmutablePaths(root_).count(moved + "/data"));
  std::error_code ec;
  std::filesystem::remove_all(At(moved), ec);
  EXPECT_FALSE(ec) << ec.message();
}

TEST_P(SwitchTest, XosDaemonStillRunningIsSaidOnEveryRunAndFailsCheck) {
  BuildXoLeftovers();
  WriteSwitchConfig();
  const int daemon =
      testing::StartProcess({"/bin/bash", "-c", "exec -a xo-immutable-remote sleep 60"});
  ASSERT_GT(daemon, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // until exec is done
  const ProcessResult r = Run();
  const ProcessResult check =
      RunProcess({Runfile("reconciler/xo-immutable"), "check", "--config", config_});
  kill(daemon, SIGKILL);
  testing::WaitProcess(daemon);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("daemon is still running (process " + std::to_string(daemon) +
                               " (xo-immutable-remote))"));
  EXPECT_THAT(r.out, HasSubstr("still running"));  // in the report's notices too
  EXPECT_EQ(check.exit_code, 1) << check.out << check.err;
  EXPECT_THAT(check.out, HasSubstr("usable"));
  EXPECT_THAT(check.out, HasSubstr("still running"));
  EXPECT_THAT(check.err, Not(HasSubstr("still running"))) << "said twice";

  const ProcessResult gone =
      RunProcess({Runfile("reconciler/xo-immutable"), "check", "--config", config_});
  EXPECT_EQ(gone.exit_code, 0) << gone.out << gone.err;
  EXPECT_THAT(gone.out, Not(HasSubstr("still running")));
}

}  // namespace
}  // namespace xoi
