// The red-team suite: each test plays one attack of someone who holds XO's access to the remote
// (create, write, rename, delete anything mutable, at any moment) or feeds the server's NTP, for
// real, against the shipped program, and asserts the real inode flags. Every one of them failed on
// the program before the hardening it checks. Root only (CI runs them as root): every flag lives
// in a ScratchDir or a loop filesystem of the test's own, and is lifted when it ends.
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <atomic>
#include <ctime>

#include "absl/time/time.h"
#include "lib/testing/loop_fs.h"
#include "reconciler/remote_fixture.h"

namespace xoi {
namespace {

using ::xoi::testing::LoopFilesystem;

constexpr int64_t kDay = 24 * 3600;

// What every attack needs: writing XO's files, and reading the real flags.
template <typename Base>
class AttackBase : public Base {
 protected:
  // A finished VM backup run: the data file, then its metadata json.
  void WriteRun(const std::string& vm, const std::string& dt, const std::string& data = "xva") {
    std::filesystem::create_directories(this->root_ + "/" + vm);
    WriteFile(this->root_ + "/" + vm + "/" + dt + ".xva", data);
    WriteFile(this->root_ + "/" + vm + "/" + dt + ".json", "{}");
  }

  bool Locked(const std::string& path) { return ImmutablePaths(this->root_).count(path) > 0; }

  // Every directory below `dir` (absolute) and `dir` itself, as paths relative to the remote root.
  std::vector<std::string> Folders(const std::string& dir) {
    std::vector<std::string> out = {dir.substr(this->root_.size() + 1)};
    for (auto& e : std::filesystem::recursive_directory_iterator(dir)) {
      if (e.is_directory() && !e.is_symlink()) {
        out.push_back(e.path().string().substr(this->root_.size() + 1));
      }
    }
    return out;
  }

  static int64_t Now() { return static_cast<int64_t>(time(nullptr)); }
};

// The attacks that need no particular filesystem run on each of ext4, XFS and btrfs.
using AttackTest = AttackBase<OnEachFilesystem>;
XOI_ON_EACH_FILESYSTEM(AttackTest);

// The attacks staged with a particular filesystem's tools: inodes prepared days ahead (ext4's
// debugfs sets birth time and ctime), a disk renumbered (XFS, whose f_fsid follows the device),
// a disk filled up.
class StagedAttackTest : public AttackBase<RemoteTest> {
 protected:
  // Moves the remote (and the "outside" folder) onto a loop filesystem of `type`.
  void UseLoopFilesystem(const std::string& type, int size_mib = 0) {
    std::string error;
    loop_ = LoopFilesystem::Create(type, scratch_.path(), &error,
                                   size_mib > 0 ? size_mib : (type == "ext4" ? 256 : 0));
    ASSERT_NE(loop_, nullptr) << error;
    root_ = loop_->mount_point() + "/remote";
    outside_ = loop_->mount_point() + "/outside";
    std::filesystem::create_directories(root_);
    std::filesystem::create_directories(outside_);
  }

  // Sets birth time, ctime and mtime of paths (relative to the remote root) on the loop
  // filesystem: what an attacker who prepared them days ahead gets.
  bool SetTimes(std::vector<std::pair<std::string, int64_t>> times) {
    for (auto& [path, when] : times) path = "remote/" + path;
    return loop_->SetTimes(times);
  }

  std::unique_ptr<LoopFilesystem> loop_;  // destroyed before scratch_, which holds it
};

// ---------------------------------------------------------------------------------------------
// Never lift early, never skip: the inode's age (hole 1b).

// The writer prepares spare inodes days ahead, then, once XO has written a backup and before a run
// locks it, copies its bytes into a spare and renames the spare into place. A spare older than the
// duration used to be "expired and never protected" (never locked, silently); a younger one was
// lifted days early. Expiry now counts from the newest change of the item (the copy and the rename
// set its ctime, which nobody but root can move back).
TEST_F(StagedAttackTest, ABackupMovedIntoAnInodePreparedDaysAheadIsLockedForTheFullDuration) {
  XOI_REQUIRE_LOOP_FS("ext4");
  UseLoopFilesystem("ext4");
  const std::string vm = "xo-vm-backups/vm1";
  std::filesystem::create_directories(root_ + "/" + vm);
  WriteFile(root_ + "/" + vm + "/.spare-30d", "");
  WriteFile(root_ + "/" + vm + "/.spare-5d", "");
  ASSERT_TRUE(
      SetTimes({{vm + "/.spare-30d", Now() - 30 * kDay}, {vm + "/.spare-5d", Now() - 5 * kDay}}));
  for (const auto& [spare, dt] :
       {std::pair<std::string, std::string>{".spare-30d", "20261201T000000Z"},
        {".spare-5d", "20261202T000000Z"}}) {
    WriteRun(vm, dt, "the real backup");
    WriteFile(root_ + "/" + vm + "/" + spare, ReadFile(root_ + "/" + vm + "/" + dt + ".xva"));
    std::filesystem::rename(root_ + "/" + vm + "/" + spare, root_ + "/" + vm + "/" + dt + ".xva");
  }
  WriteConfig("7d");
  const ProcessResult first = Run();
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_TRUE(Locked(vm + "/20261201T000000Z.xva")) << "the 30-day-old spare was never locked";
  EXPECT_TRUE(Locked(vm + "/20261202T000000Z.xva"));
  // `status` says when the runs will lift each file: from its reference, not its birth (which
  // put the 30-day-old spare's expiry three weeks in the past).
  const ProcessResult status = RunProcess(
      {Runfile("reconciler/xo-immutable"), "status", "--config", config_, "--report", "json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  const std::string soonest = absl::FormatTime(
      "%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(Now() + 6 * kDay), absl::UTCTimeZone());
  const json::value doc = json::parse(status.out);
  int files = 0;
  for (const json::value& run : doc.at("remotes").at(0).at("vms").at(0).at("runs").as_array()) {
    for (const json::value& file : run.at("files").as_array()) {
      EXPECT_GE(std::string(file.at("expires").as_string()), soonest) << file;
      ++files;
    }
  }
  EXPECT_EQ(files, 4);
  const ProcessResult later = RunAt("+3d");
  ASSERT_EQ(later.exit_code, 0) << later.out << later.err;
  EXPECT_TRUE(Locked(vm + "/20261202T000000Z.xva")) << "the 5-day-old spare was lifted early";
  EXPECT_TRUE(Locked(vm + "/20261201T000000Z.xva"));
}

// ---------------------------------------------------------------------------------------------
// Never lift early: VHD directories (hole 1).

// No race needed: the writer keeps a VHD directory of its own unfinished (born days ago), renames
// the folder holding a newer, locked backup into it, then completes it. It used to be locked whole
// with its old creation day and lifted, with the newer backup inside, days early.
TEST_F(StagedAttackTest, ANewerBackupMovedIntoAnOlderVhdDirectoryIsNotLiftedWithIt) {
  XOI_REQUIRE_LOOP_FS("ext4");
  UseLoopFilesystem("ext4");
  // A legitimate, newer backup: locked by the first run.
  const std::string victim_vdi = "xo-vm-backups/vmB/vdis/job/vdi";
  const std::string victim = victim_vdi + "/data/20261202T000000Z.vhd";
  std::filesystem::create_directories(root_ + "/" + victim + "/blocks/0");
  WriteFile(root_ + "/" + victim + "/bat", "bat");
  WriteFile(root_ + "/" + victim + "/blocks/0/0", "block");
  WriteFile(root_ + "/xo-vm-backups/vmB/20261202T000000Z.json", "{}");
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  ASSERT_TRUE(Locked(victim + "/blocks/0/0"));
  // The attacker's VHD directory, born 5 days ago, its run never completed (no json yet).
  const std::string trap = "xo-vm-backups/vmA/vdis/job/vdi/data/20261201T000000Z.vhd";
  std::filesystem::create_directories(root_ + "/" + trap + "/blocks");
  WriteFile(root_ + "/" + trap + "/bat", "bat");
  ASSERT_TRUE(SetTimes({{trap, Now() - 5 * kDay},
                        {trap + "/bat", Now() - 5 * kDay},
                        {trap + "/blocks", Now() - 5 * kDay}}));
  // The strike: the victim's (mutable) data folder moves into the trap, and the trap's run
  // completes.
  std::filesystem::rename(root_ + "/" + victim_vdi + "/data", root_ + "/" + trap + "/stash");
  WriteFile(root_ + "/xo-vm-backups/vmA/20261201T000000Z.json", "{}");
  ASSERT_EQ(Run().exit_code, 0);
  ASSERT_TRUE(Locked(trap)) << "the trap is a finished backup now";
  const std::string moved = trap + "/stash/20261202T000000Z.vhd/blocks/0/0";
  ASSERT_TRUE(Locked(moved));
  const ProcessResult later = RunAt("+3d");
  EXPECT_EQ(later.exit_code, 0) << later.out << later.err;
  EXPECT_TRUE(Locked(moved)) << "the newer backup was lifted with the older directory";
  EXPECT_TRUE(Locked(trap)) << "the trap expired by its birth time";
}

// Staged for real: a thread watches the blocks of a large VHD directory, and the moment the first
// one is locked it tries to make folders inside the directory. The directory used to be locked
// last, from a listing made earlier, so such a folder stayed mutable, and anything renamed into it
// later was unlocked when the directory expired. Every folder is now locked before it is listed:
// the strike fails, or whatever it made is locked.
TEST_P(AttackTest, AFolderMadeInsideAVhdDirectoryWhileItIsBeingLockedDoesNotStayMutable) {
  int strikes = 0;
  for (int attempt = 0; attempt < 3 && strikes < 2; ++attempt) {
    const std::string vhd =
        absl::StrCat("xo-vm-backups/vm", attempt, "/vdis/job/vdi/data/20261201T000000Z.vhd");
    const std::string dir = root_ + "/" + vhd;
    std::filesystem::create_directories(dir + "/blocks/0");
    WriteFile(dir + "/bat", "bat");
    std::vector<std::string> blocks;
    for (int b = 0; b < 3000; ++b) {
      blocks.push_back(absl::StrCat(dir, "/blocks/0/", b));
      WriteFile(blocks.back(), "block");
    }
    WriteFile(absl::StrCat(root_, "/xo-vm-backups/vm", attempt, "/20261201T000000Z.json"), "{}");
    WriteConfig("7d");
    std::atomic<bool> stop{false};
    std::atomic<int> struck{0}, refused{0};
    std::thread attacker([&] {
      while (!stop) {
        for (const std::string& block : blocks) {
          struct statx sx;
          if (statx(AT_FDCWD, block.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) != 0 ||
              !(sx.stx_attributes & STATX_ATTR_IMMUTABLE)) {
            continue;
          }
          for (const std::string& folder : {dir + "/evil", dir + "/blocks/evil"}) {
            ++struck;
            if (mkdir(folder.c_str(), 0755) != 0 && errno == EPERM) ++refused;
          }
          return;
        }
      }
    });
    const ProcessResult r = Run();
    stop = true;
    attacker.join();
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    ASSERT_TRUE(Locked(vhd));
    strikes += struck > 0 ? 1 : 0;
    for (const std::string& folder : Folders(dir)) {
      EXPECT_TRUE(Locked(folder)) << folder << " is mutable inside a locked VHD directory";
    }
    EXPECT_EQ(refused.load(), struck.load()) << "a folder could still be made inside the tree";
  }
  EXPECT_GT(strikes, 0) << "the race was never staged";
}

// A chain of folders too deep to walk, planted in a VHD directory before it was locked, kept the
// whole backup waiting for ever ("changed 0s ago"): unlocked, and no error said so. The backup is
// now locked down to the walk's reach, and the run names the first folder beyond it, left as it is.
TEST_P(AttackTest, FoldersTooDeepToWalkDoNotKeepABackupUnlocked) {
  const std::string vhd = "xo-vm-backups/vm1/vdis/job/vdi/data/20261201T000000Z.vhd";
  const std::string dir = root_ + "/" + vhd;
  std::string last_in_reach = vhd + "/blocks";  // one level below the top, then 31 more
  for (int level = 2; level <= 32; ++level) last_in_reach += "/d";
  const std::string beyond = last_in_reach + "/d";
  std::filesystem::create_directories(root_ + "/" + beyond + "/d/d/d/d/d/d/d");
  std::filesystem::create_directories(dir + "/blocks/0");
  WriteFile(dir + "/bat", "bat");
  WriteFile(dir + "/blocks/0/0", "block");
  WriteFile(root_ + "/xo-vm-backups/vm1/20261201T000000Z.json", "{}");
  WriteConfig("7d");
  const ProcessResult r = Run();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(Locked(vhd)) << r.out;
  EXPECT_TRUE(Locked(vhd + "/blocks/0/0"));
  EXPECT_TRUE(Locked(last_in_reach));
  EXPECT_FALSE(Locked(beyond));
  EXPECT_THAT(r.out, AllOf(HasSubstr(beyond), HasSubstr("beyond the walk's reach")));
}

// A folder inside a locked VHD directory that is mutable (made by root, or by an older version of
// this program that lost the race above) holds whatever was renamed into it. The directory's lift
// must not descend into it, nor clear anything born after the directory was locked.
TEST_P(AttackTest, ALiftNeverDescendsIntoAMutableFolderNorClearsWhatCameInLater) {
  const std::string vhd = "xo-vm-backups/vm1/vdis/job/vdi/data/20261201T000000Z.vhd";
  std::filesystem::create_directories(root_ + "/" + vhd + "/blocks/0");
  WriteFile(root_ + "/" + vhd + "/blocks/0/0", "block");
  WriteFile(root_ + "/xo-vm-backups/vm1/20261201T000000Z.json", "{}");
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  ASSERT_TRUE(Locked(vhd));
  // Root makes a mutable folder inside the locked directory; a newer locked backup (of another
  // VM, locked by a later run) gets moved into it.
  const std::string hole = root_ + "/" + vhd + "/hole";
  ASSERT_TRUE(testing::SetImmutableFlag(root_ + "/" + vhd, false));
  std::filesystem::create_directories(hole);
  ASSERT_TRUE(testing::SetImmutableFlag(root_ + "/" + vhd, true));
  WriteRun("xo-vm-backups/vm2", "20261202T000000Z");
  ASSERT_EQ(Run().exit_code, 0);
  ASSERT_TRUE(Locked("xo-vm-backups/vm2/20261202T000000Z.xva"));
  std::filesystem::rename(root_ + "/xo-vm-backups/vm2", hole + "/vm2");
  const ProcessResult lift = RunAt("+9d", {"--allow-mass-lift"});
  EXPECT_EQ(lift.exit_code, 0) << lift.out << lift.err;
  EXPECT_FALSE(Locked(vhd)) << "the expired directory itself is lifted";
  EXPECT_TRUE(Locked(vhd + "/hole/vm2/20261202T000000Z.xva"))
      << "a lift cleared a backup that was moved into a mutable folder of the directory";
}

// ---------------------------------------------------------------------------------------------
// Never lift early: the clock (hole 2).

// A wall clock moved forward by less than the threshold at each NTP poll used to pass the time
// guard every time (it compared each run with the previous one only) and empty the remote. Drift is
// now measured against the first record of this boot.
TEST_P(AttackTest, AClockMovedForwardInStepsBelowTheThresholdSuspendsLifting) {
  const std::set<std::string> expected = Generate({});
  WriteConfig("1d", "0s", "24h");
  ASSERT_EQ(Run().exit_code, 0);
  int worst = 0;
  for (int step = 1; step <= 8; ++step) {
    const ProcessResult r = RunAt(absl::StrCat("+", 20 * step, "h"));
    worst = std::max(worst, r.exit_code);
    EXPECT_EQ(Count(r, "lifted"), 0) << "step " << step;
  }
  EXPECT_EQ(worst, 4) << "the creep was never called a time shift";
  EXPECT_EQ(ImmutablePaths(root_), expected) << "the creeping clock lifted backups";
  EXPECT_TRUE(std::filesystem::exists(index_ + "/time-shift"));
}

// With the clock moved a month ahead, a backup XO had just finished looked a month old: "finished
// and past its time before anything could lock it", left alone, and `verify` passed. The shift
// was detected and lifts held, yet every backup finished before the jump stayed unlocked for as
// long as the attacker kept the clock ahead. A moved clock now judges nothing too old to lock.
TEST_P(AttackTest, AClockMovedAheadDoesNotLeaveANewBackupUnlocked) {
  Generate({});
  WriteConfig("7d", "0s", "24h");
  ASSERT_EQ(Run().exit_code, 0);
  WriteRun("xo-vm-backups/vm-new", "20261130T235000Z");
  const ProcessResult verify =
      RunProcess({Runfile("reconciler/xo-immutable"), "verify", "--config", config_},
                 testing::FaketimeEnv("+30d"));
  EXPECT_NE(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_THAT(verify.out, HasSubstr("FAIL every finished backup is immutable (2 offending)"))
      << verify.out;
  const ProcessResult shifted = RunAt("+30d");
  EXPECT_EQ(shifted.exit_code, 4) << shifted.out << shifted.err;
  EXPECT_THAT(shifted.err, HasSubstr("TIME SHIFT"));
  EXPECT_EQ(Count(shifted, "lifted"), 0);
  EXPECT_TRUE(Locked("xo-vm-backups/vm-new/20261130T235000Z.xva")) << shifted.out;
  EXPECT_TRUE(Locked("xo-vm-backups/vm-new/20261130T235000Z.json")) << shifted.out;
}

// A clock stepped back (by less than the threshold, so no time shift) made a backup finished
// just before look changed in the future: it waited to settle, unlocked, and verify passed, for as
// long as the attacker kept the clock back. Measured on the clock corrected by the boot-time
// clock, it has settled.
TEST_P(AttackTest, AClockSteppedBackDoesNotLeaveANewBackupUnlocked) {
  Generate({});
  WriteConfig("7d", "0s", "24h");
  ASSERT_EQ(Run().exit_code, 0);
  WriteRun("xo-vm-backups/vm-new", "20261130T235000Z");
  const ProcessResult behind = RunAt("-23h");
  EXPECT_EQ(behind.exit_code, 0) << behind.out << behind.err;
  EXPECT_TRUE(Locked("xo-vm-backups/vm-new/20261130T235000Z.xva")) << behind.out;
  EXPECT_TRUE(Locked("xo-vm-backups/vm-new/20261130T235000Z.json")) << behind.out;
}

// A clock record that cannot be read used to count as "first run": no shift, lifting allowed. It
// now fails closed.
TEST_P(AttackTest, ADamagedClockRecordSuspendsLiftingInsteadOfTrustingTheClock) {
  const std::set<std::string> expected = Generate({});
  WriteConfig("7d", "0s", "24h");
  ASSERT_EQ(Run().exit_code, 0);
  WriteFile(index_ + "/clock.json", "{\"wall_ns\": \"garbage");
  const ProcessResult r = RunAt("+30d");
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_EQ(Count(r, "lifted"), 0);
  EXPECT_EQ(ImmutablePaths(root_), expected);
  EXPECT_THAT(r.err, HasSubstr("clock record"));
}

// While the clock is behind (stepped back by less than the threshold), a backup written meanwhile
// gets a ctime in the past; once the clock is corrected it used to look that much older, and
// expire early. Its reference is corrected by how far the clock was behind the highest time seen.
TEST_F(StagedAttackTest, ABackupWrittenWhileTheClockWasBehindDoesNotExpireEarly) {
  XOI_REQUIRE_LOOP_FS("ext4");
  UseLoopFilesystem("ext4");
  WriteRun("xo-vm-backups/vm0", "20261130T000000Z");
  WriteConfig("7d", "0s", "365d");
  ASSERT_EQ(Run().exit_code, 0);  // the highest time seen: now
  // The clock goes back two days; XO writes a backup, which gets a ctime two days in the past.
  WriteRun("xo-vm-backups/vm1", "20261201T000000Z");
  // One second more: SetTimes keeps the nanoseconds, which could put the ctime a fraction of a
  // second after the run's (shifted) clock, and a backup changed "in the future" waits to settle.
  ASSERT_TRUE(SetTimes({{"xo-vm-backups/vm1/20261201T000000Z.xva", Now() - 2 * kDay - 1},
                        {"xo-vm-backups/vm1/20261201T000000Z.json", Now() - 2 * kDay - 1}}));
  const ProcessResult behind = RunAt("-2d");
  ASSERT_EQ(behind.exit_code, 0) << behind.out << behind.err;
  ASSERT_TRUE(Locked("xo-vm-backups/vm1/20261201T000000Z.xva")) << behind.out << behind.err;
  // Six days after it was really written (eight by its ctime), it is still within its 7 days.
  const ProcessResult later = RunAt("+6d");
  EXPECT_EQ(later.exit_code, 0) << later.out << later.err;
  EXPECT_TRUE(Locked("xo-vm-backups/vm1/20261201T000000Z.xva"))
      << "written while the clock was behind, lifted early once it was corrected";
}

// ---------------------------------------------------------------------------------------------
// Retention is not held hostage (hole 2b).

// Hiding the folders that are not about to expire (renaming them to dot-names) made an ordinary
// day's expiries look like a mass lift, and every lift was held back for as long as the attacker
// liked. The guard now counts what the index says is protected.
TEST_F(StagedAttackTest, HidingFoldersFromTheWalkDoesNotHoldRetentionHostage) {
  XOI_REQUIRE_LOOP_FS("ext4");
  UseLoopFilesystem("ext4");
  std::vector<std::pair<std::string, int64_t>> times;
  for (int vm = 0; vm < 4; ++vm) {
    for (int run = 0; run < 64; ++run) {
      const std::string dir = absl::StrCat("xo-vm-backups/vm", vm);
      const std::string dt = absl::StrCat("2026110", run / 10, "T0", run % 10, "0000Z");
      WriteRun(dir, dt);
      // Finished `vm` days ago (vm 3: three days ago, the first to expire).
      for (const char* ext : {".xva", ".json"}) {
        times.emplace_back(absl::StrCat(dir, "/", dt, ext), Now() - vm * kDay);
      }
    }
  }
  ASSERT_TRUE(SetTimes(times));
  WriteConfig("7d");
  const ProcessResult first = Run();
  ASSERT_EQ(first.exit_code, 0) << first.out;
  ASSERT_EQ(Count(first, "protected"), 512 + 1);  // and immutability.json
  // The attacker hides every VM folder but the one about to expire.
  for (int vm = 0; vm < 3; ++vm) {
    std::filesystem::rename(absl::StrCat(root_, "/xo-vm-backups/vm", vm),
                            absl::StrCat(root_, "/xo-vm-backups/.vm", vm));
  }
  const ProcessResult r = RunAt("+121h");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Count(r, "lifted"), 128) << "an ordinary day's expiries were held back\n"
                                     << r.out << r.err;
}

// ---------------------------------------------------------------------------------------------
// Never lift early: the configuration (hole 3).

TEST_P(AttackTest, ADurationThatRoundsToZeroIsAConfigurationErrorNotARelease) {
  const std::set<std::string> expected = Generate({});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  for (const std::string duration : {"0.5", "0.4s"}) {
    WriteConfig(duration);
    const ProcessResult r = Run();
    EXPECT_EQ(r.exit_code, 2) << duration << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("immutabilityDuration"));
    EXPECT_EQ(ImmutablePaths(root_), expected) << duration << " released the remote";
  }
}

// ---------------------------------------------------------------------------------------------
// Input from the remote never stops a run (hole 4).

// A crafted immutability.json used to abort every run with an uncaught Boost.JSON exception after
// the walk: nothing locked, on this remote or any after it, every minute, for ever.
TEST_P(AttackTest, ACraftedImmutabilityJsonStopsNeitherThisRemoteNorTheNext) {
  Generate({});
  const std::string second = scratch_.path() + "/second";
  std::filesystem::create_directories(second + "/xo-vm-backups/vm");
  WriteFile(second + "/xo-vm-backups/vm/20261201T000000Z.xva", "x");
  WriteFile(second + "/xo-vm-backups/vm/20261201T000000Z.json", "{}");
  WriteFile(root_ + "/immutability.json",
            R"({"since":18446744073709551615,"immutable":true,"duration":18446744073709551615})");
  WriteFile(config_, "{\"indexPath\": \"" + index_ + "\", \"remotes\": {\"r1\": {\"root\": \"" +
                         root_ + "\", \"immutabilityDuration\": \"7d\", \"settle\": \"0s\"}, " +
                         "\"r2\": {\"root\": \"" + second +
                         "\", \"immutabilityDuration\": \"7d\", \"settle\": \"0s\"}}}");
  const ProcessResult r = Run();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(ImmutablePaths(second).count("xo-vm-backups/vm/20261201T000000Z.xva"));
  EXPECT_TRUE(Locked("immutability.json"));
  EXPECT_THAT(ReadFile(root_ + "/immutability.json"), HasSubstr("\"duration\":604800000"));
}

// A VM folder whose name holds a newline and a journal priority used to forge a whole journal line
// through the reason text (the run file's path was embedded raw).
TEST_P(AttackTest, ANameWithANewlineCannotForgeAJournalLine) {
  Generate({});
  // Locked with a reason that names the run's json, inside that folder.
  WriteRun("xo-vm-backups/x\n<3>FORGED: every backup was deleted", "20261201T000000Z");
  WriteConfig("7d");
  const ProcessResult r = Run({}, {"JOURNAL_STREAM=8:1234"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_THAT(r.err, HasSubstr("FORGED"));
  size_t start = 0;
  for (size_t nl; (nl = r.err.find('\n', start)) != std::string::npos; start = nl + 1) {
    const std::string line = r.err.substr(start, nl - start);
    EXPECT_FALSE(line.rfind("<3>FORGED", 0) == 0) << "forged: " << line;
    EXPECT_TRUE(line.size() > 2 && line[0] == '<' && line[2] == '>') << "no priority: " << line;
  }
  const ProcessResult text =
      RunProcess({Runfile("reconciler/xo-immutable"), "--config", config_, "--dry-run"});
  EXPECT_THAT(text.out, Not(HasSubstr("\n<3>FORGED")));
}

// ---------------------------------------------------------------------------------------------
// Protection stays available (hole 5).

// XFS derives f_fsid from the device number: after a reboot that renumbers the disk (dm, LVM,
// iSCSI, loop), every run used to call the remote unusable until someone deleted the record.
TEST_F(StagedAttackTest, AnXfsRemoteOnARenumberedDiskStaysUsableAndAnUnmountedOneDoesNot) {
  XOI_REQUIRE_LOOP_FS("xfs");
  UseLoopFilesystem("xfs");
  WriteRun("xo-vm-backups/vm", "20261201T000000Z");
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  const std::string device = loop_->device();
  ASSERT_TRUE(loop_->ReattachOnAnotherDevice()) << loop_->last_error();
  ASSERT_NE(loop_->device(), device);
  WriteRun("xo-vm-backups/vm", "20261202T000000Z");
  const ProcessResult renumbered = Run();
  EXPECT_EQ(renumbered.exit_code, 0) << renumbered.out;
  EXPECT_TRUE(Locked("xo-vm-backups/vm/20261202T000000Z.xva"));
  // The disk is not mounted: the root is an empty folder of the parent filesystem.
  ASSERT_TRUE(loop_->Unmount());
  std::filesystem::create_directories(root_);
  const ProcessResult unmounted = Run();
  EXPECT_EQ(unmounted.exit_code, 3) << unmounted.out;
  EXPECT_THAT(unmounted.out, HasSubstr("is the remote's disk mounted"));
  std::filesystem::remove(root_);
  ASSERT_TRUE(loop_->Mount());
}

// A full filesystem made the O_TMPFILE probe fail with ENOSPC, and the whole remote was called
// unusable: the last backups written before the disk filled were never locked. Locking needs no
// space.
TEST_F(StagedAttackTest, TheLastBackupsOnAFullDiskAreStillLocked) {
  XOI_REQUIRE_LOOP_FS("ext4");
  UseLoopFilesystem("ext4", 16);
  WriteRun("xo-vm-backups/vm", "20261201T000000Z");
  // No block and no inode left: not even an unnamed inode can be made.
  std::filesystem::create_directories(root_ + "/spent");
  ASSERT_TRUE(testing::FillFilesystem(root_));
  for (int i = 0;; ++i) {
    const int fd =
        open(absl::StrCat(root_, "/spent/", i).c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) {
      ASSERT_EQ(errno, ENOSPC);
      break;
    }
    close(fd);
  }
  WriteConfig("7d");
  const ProcessResult r = Run();
  EXPECT_NE(r.exit_code, 3) << r.out;
  EXPECT_TRUE(Locked("xo-vm-backups/vm/20261201T000000Z.xva")) << r.out;
  EXPECT_TRUE(Locked("xo-vm-backups/vm/20261201T000000Z.json"));
}

// ---------------------------------------------------------------------------------------------
// Nothing is left silently unprotected (hole 6).

// A FIFO planted inside a VHD directory used to get the whole directory refused, unlocked, and
// `verify` passed. The directory is now locked without it, and `verify` and the metrics name it.
TEST_P(AttackTest, APlantedFifoNeitherKeepsABackupUnlockedNorPassesVerify) {
  const std::string vhd = "xo-vm-backups/vm/vdis/job/vdi/data/20261201T000000Z.vhd";
  std::filesystem::create_directories(root_ + "/" + vhd + "/blocks/0");
  WriteFile(root_ + "/" + vhd + "/blocks/0/0", "block");
  WriteFile(root_ + "/xo-vm-backups/vm/20261201T000000Z.json", "{}");
  ASSERT_EQ(mkfifo((root_ + "/" + vhd + "/blocks/0/fifo").c_str(), 0644), 0);
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  EXPECT_TRUE(Locked(vhd));
  EXPECT_TRUE(Locked(vhd + "/blocks/0/0"));
  const std::string metrics = scratch_.path() + "/metrics.prom";
  const ProcessResult verify = RunProcess({Runfile("reconciler/xo-immutable"), "verify", "--config",
                                           config_, "--metrics-file", metrics});
  EXPECT_EQ(verify.exit_code, 1) << verify.out;
  EXPECT_THAT(verify.out, HasSubstr("FAIL no backup is refused"));
  EXPECT_THAT(verify.out, HasSubstr(vhd + "/blocks/0/fifo"));
  EXPECT_THAT(ReadFile(metrics),
              HasSubstr("xo_immutable_items{remote=\"r1\",state=\"unprotected\"} 1"));
}

// A finished backup that a writer keeps open (so that it can never be locked) used to wait for
// ever, and the run's own compliance checks passed. Once it has been finished for longer than
// orphanGrace, they fail, and the metrics count it.
TEST_P(AttackTest, ABackupHeldOpenPastOrphanGraceFailsTheChecks) {
  WriteRun("xo-vm-backups/vm", "20261201T000000Z");
  WriteFile(config_, "{\"indexPath\": \"" + index_ + "\", \"remotes\": {\"r1\": {\"root\": \"" +
                         root_ + "\", \"immutabilityDuration\": \"7d\", \"settle\": \"0s\", " +
                         "\"orphanGrace\": \"1s\"}}}");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const int writer =
      open((root_ + "/xo-vm-backups/vm/20261201T000000Z.xva").c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(writer, 0);
  const std::string metrics = scratch_.path() + "/metrics.prom";
  const ProcessResult run = Run({"--metrics-file", metrics});
  close(writer);
  EXPECT_FALSE(Locked("xo-vm-backups/vm/20261201T000000Z.xva"));
  const json::value doc = json::parse(run.out);
  bool failed = false;
  for (const json::value& check : doc.at("remotes").at(0).at("checks").as_array()) {
    if (check.at("id").as_string() != "finished-locked") continue;
    failed = !check.at("passed").as_bool();
    EXPECT_THAT(json::serialize(check.at("offenders")),
                HasSubstr("xo-vm-backups/vm/20261201T000000Z.xva"));
  }
  EXPECT_TRUE(failed) << run.out;
  EXPECT_THAT(ReadFile(metrics),
              HasSubstr("xo_immutable_items{remote=\"r1\",state=\"unprotected\"} 1"));
}

// ---------------------------------------------------------------------------------------------
// Races and leftovers (hole 7).

// Renaming the mutable parent of a locked file and recreating its path used to overwrite the old
// index entry (keyed by path): the old inode stayed locked for ever with no entry. Records are
// keyed by identity now: both are kept, and the sweep lifts the moved one once it expires.
TEST_P(AttackTest, APathReusedForAnotherInodeKeepsBothRecords) {
  WriteRun("xo-vm-backups/vm", "20261201T000000Z");
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  std::filesystem::rename(root_ + "/xo-vm-backups/vm", root_ + "/xo-vm-backups/.vm-moved");
  WriteRun("xo-vm-backups/vm", "20261201T000000Z");
  ASSERT_EQ(Run().exit_code, 0);
  ASSERT_TRUE(Locked("xo-vm-backups/vm/20261201T000000Z.xva"));
  EXPECT_EQ(CountIndexEntries(index_ + "/r1"), 4u);
  // Nine days later the run lifts what it reaches; the moved inode is out of its reach.
  const ProcessResult later = RunAt("+9d", {"--allow-mass-lift"});
  ASSERT_EQ(later.exit_code, 0) << later.out << later.err;
  EXPECT_FALSE(Locked("xo-vm-backups/vm/20261201T000000Z.xva"));
  ASSERT_TRUE(Locked("xo-vm-backups/.vm-moved/20261201T000000Z.xva"));
  const ProcessResult sweep =
      RunProcess({Runfile("reconciler/xo-immutable"), "sweep", "--config", config_},
                 testing::FaketimeEnv("+9d"));
  EXPECT_EQ(sweep.exit_code, 0) << sweep.out << sweep.err;
  EXPECT_FALSE(Locked("xo-vm-backups/.vm-moved/20261201T000000Z.xva"))
      << "the moved inode stayed locked after it expired";
  // The records the sweep's lifts leave (dropped by the next run) disagree with no flag.
  const ProcessResult verify =
      RunProcess({Runfile("reconciler/xo-immutable"), "verify", "--config", config_},
                 testing::FaketimeEnv("+9d"));
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

// Renaming every mutable VM folder before every run used to re-index every locked item in them
// (records keyed by path: measured, 150 rounds over 30 VMs grew 840 entries to 126,145, and each
// run reported thousands of actions). Records are keyed by identity and follow the inode: the index
// keeps one record an item, nothing is protected or indexed again, every item stays locked, and a
// run's report does not grow with the rounds.
TEST_P(AttackTest, RenamingTheVmFoldersEveryRunNeitherGrowsTheIndexNorReindexes) {
  constexpr int kVms = 3, kRounds = 8;
  auto vm = [](int v, int round) { return absl::StrCat("xo-vm-backups/vm", v, "-", round); };
  std::vector<std::string> runs = {"20261201T000000Z", "20261202T000000Z", "20261203T000000Z"};
  for (int v = 0; v < kVms; ++v) {
    for (const std::string& dt : runs) WriteRun(vm(v, 0), dt);
  }
  WriteConfig("7d");
  const ProcessResult first = Run();
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  const size_t items = kVms * runs.size() * 2;  // an .xva and a .json a run
  ASSERT_EQ(Count(first, "seen"), static_cast<int64_t>(items));
  ASSERT_EQ(CountIndexEntries(index_ + "/r1"), items);
  size_t first_report = 0;
  for (int round = 1; round <= kRounds; ++round) {
    SCOPED_TRACE(round);
    for (int v = 0; v < kVms; ++v) {
      std::filesystem::rename(root_ + "/" + vm(v, round - 1), root_ + "/" + vm(v, round));
    }
    const ProcessResult run = Run();
    ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
    EXPECT_EQ(Count(run, "seen"), static_cast<int64_t>(items));
    EXPECT_EQ(Count(run, "protected"), 0);
    EXPECT_EQ(Count(run, "indexed"), 0);
    EXPECT_EQ(Count(run, "unindexed"), 0);
    EXPECT_EQ(Count(run, "followed"), static_cast<int64_t>(items));
    EXPECT_TRUE(json::parse(run.out).at("remotes").at(0).at("actions").as_array().empty())
        << "a record that follows its item is counted, not listed";
    EXPECT_EQ(CountIndexEntries(index_ + "/r1"), items) << "the index grew with renames";
    for (int v = 0; v < kVms; ++v) {
      for (const std::string& dt : runs) {
        EXPECT_TRUE(Locked(vm(v, round) + "/" + dt + ".xva")) << vm(v, round) << "/" << dt;
        EXPECT_TRUE(Locked(vm(v, round) + "/" + dt + ".json")) << vm(v, round) << "/" << dt;
      }
    }
    // The remote's part of the report: the run's notices say what else runs on this machine (a
    // test beside this one may play XO's daemon).
    const size_t report = json::serialize(json::parse(run.out).at("remotes")).size();
    if (round == 1) first_report = report;
    EXPECT_LE(report, first_report + 64) << "the report grows with the renames";
  }
  // The records followed the items to where they are now.
  const ProcessResult dump =
      RunProcess({Runfile("reconciler/xo-immutable"), "index", "dump", "--config", config_});
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  EXPECT_THAT(dump.out, HasSubstr(vm(0, kRounds) + "/20261201T000000Z.xva"));
  EXPECT_THAT(dump.out, Not(HasSubstr(vm(0, 0) + "/")));
}

}  // namespace
}  // namespace xoi
