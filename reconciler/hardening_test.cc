// End-to-end tests of what protects the protection: the time guard, the mass-lift guard, the
// audit log, the sweep, least privilege, and faults (index filesystem full, a tree changing under
// the walk, symlinks at every level). Root only; every flag lives in a ScratchDir.
#include <linux/fs.h>
#include <sys/ioctl.h>

#include <atomic>

#include "reconciler/remote_fixture.h"

namespace xoi {
namespace {

class HardeningTest : public OnEachFilesystem {};
XOI_ON_EACH_FILESYSTEM(HardeningTest);

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(text.substr(start, nl - start));
  }
  return lines;
}

TEST_P(HardeningTest, AWallClockJumpSuspendsLiftingUntilRootClearsIt) {
  const std::set<std::string> expected = Generate({});
  WriteConfig("7d", "0s", "24h");
  ASSERT_EQ(Run().exit_code, 0);
  // Someone moves the wall clock 30 days ahead; the boot-time clock knows better.
  const ProcessResult shifted = RunAt("+30d");
  EXPECT_EQ(shifted.exit_code, 4) << shifted.out << shifted.err;
  EXPECT_THAT(shifted.err, HasSubstr("TIME SHIFT"));
  EXPECT_EQ(Count(shifted, "lifted"), 0);
  EXPECT_EQ(ImmutablePaths(root_), expected) << "lifted under a moved clock";
  EXPECT_TRUE(std::filesystem::exists(index_ + "/time-shift"));
  // Sticky: back on the right clock, runs still protect new backups but lift nothing, exit 4.
  WriteFile(root_ + "/xo-config-backups/new.json", "{}");  // not an item: just a change
  const ProcessResult later = Run();
  EXPECT_EQ(later.exit_code, 4) << later.err;
  EXPECT_THAT(later.err, HasSubstr("TIME SHIFT"));
  const ProcessResult cleared =
      RunProcess({Runfile("reconciler/xo-immutable"), "clear-time-shift", "--config", config_},
                 {"SUDO_USER=alice"});
  EXPECT_EQ(cleared.exit_code, 0) << cleared.err;
  EXPECT_THAT(cleared.err, HasSubstr("SUDO_USER=alice"));
  EXPECT_THAT(ReadFile(index_ + "/audit.log"), HasSubstr("clear-time-shift"));
  EXPECT_EQ(Run().exit_code, 0);
}

TEST_P(HardeningTest, ABackwardJumpBelowTheHighestTimeSeenIsAShiftToo) {
  Generate({});
  WriteConfig("7d", "0s", "24h");
  ASSERT_EQ(Run().exit_code, 0);
  const ProcessResult back = RunAt("-3d");
  EXPECT_EQ(back.exit_code, 4) << back.err;
  EXPECT_THAT(back.err, HasSubstr("went back"));
}

TEST_P(HardeningTest, TheMassLiftGuardHoldsLiftsBackUnlessAllowed) {
  const std::set<std::string> expected = Generate({"--vms", "6"});
  WriteConfig("7d");
  const ProcessResult first = Run();
  ASSERT_EQ(first.exit_code, 0);
  ASSERT_GT(Count(first, "protected"), 100);
  const ProcessResult held = RunAt("+9d");
  EXPECT_EQ(held.exit_code, 4) << held.out;
  EXPECT_THAT(held.out, HasSubstr("mass-lift guard"));
  EXPECT_EQ(Count(held, "lifted"), 0);
  EXPECT_EQ(ImmutablePaths(root_), expected);
  const ProcessResult allowed = RunAt("+9d", {"--allow-mass-lift"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.err;
  EXPECT_GT(Count(allowed, "lifted"), 100);
}

// A lift killed after clearing the flags of most files, before dropping their records: the next
// run finishes it. Those files unlock nothing any more, so they do not trip the guard; before,
// every record counted and retention waited for someone to pass --allow-mass-lift.
TEST_P(HardeningTest, ALiftKilledHalfWayIsFinishedWithoutTrippingTheMassLiftGuard) {
  Generate({"--vms", "6"});
  WriteConfig("7d");
  const ProcessResult first = Run();
  ASSERT_EQ(first.exit_code, 0);
  const int64_t protected_items = Count(first, "protected");
  ASSERT_GT(protected_items, 100);
  // The items that are single files: immutable files below a mutable folder (a tree's members
  // are below its locked directory), other than the remote's own.
  const std::set<std::string> locked = ImmutablePaths(root_);
  int64_t cleared = 0;
  for (const std::string& path : locked) {
    const std::filesystem::path full = root_ + "/" + path;
    if (path.find('/') == std::string::npos || !std::filesystem::is_regular_file(full) ||
        locked.count(std::filesystem::path(path).parent_path().string()) > 0) {
      continue;
    }
    ASSERT_TRUE(testing::SetImmutableFlag(full.string(), false)) << path;
    ++cleared;
  }
  ASSERT_GT(cleared * 2, protected_items) << "the files must be most of the items";

  const ProcessResult finished = RunAt("+9d");
  EXPECT_EQ(finished.exit_code, 0) << finished.out << finished.err;
  EXPECT_THAT(finished.out, Not(HasSubstr("mass-lift guard")));
  // Every backup is unlocked; the remote's own files stay locked while it is protected.
  EXPECT_EQ(Count(finished, "lifted"), protected_items - 2);
  EXPECT_EQ(ImmutablePaths(root_), (std::set<std::string>{"immutability.json", "metadata.json"}));
}

// A damaged day file is set aside and its items re-adopted from the walk; the index then counted
// nothing protected, which switched the guard off for the run that lifted them all (an index
// lost or moved does the same). The guard now also counts what the walk finds locked.
TEST_P(HardeningTest, ADamagedIndexDoesNotSwitchTheMassLiftGuardOff) {
  const std::set<std::string> expected = Generate({"--vms", "6"});
  WriteConfig("7d");
  ASSERT_GT(Count(Run(), "protected"), 100);
  int damaged = 0;
  for (const auto& entry : std::filesystem::directory_iterator(index_ + "/r1")) {
    if (entry.path().extension() != ".idx") continue;
    std::string bytes = ReadFile(entry.path().string());
    ASSERT_GT(bytes.size(), 300u);
    bytes[300] ^= 0x20;
    WriteFile(entry.path().string(), bytes);
    ++damaged;
  }
  ASSERT_GT(damaged, 0);

  const ProcessResult held = RunAt("+9d");
  EXPECT_EQ(held.exit_code, 4) << held.out << held.err;
  EXPECT_THAT(held.out, HasSubstr("mass-lift guard"));
  EXPECT_EQ(Count(held, "lifted"), 0);
  EXPECT_EQ(ImmutablePaths(root_), expected) << "a damaged index let a mass lift through";
  const ProcessResult allowed = RunAt("+9d", {"--allow-mass-lift"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.out << allowed.err;
  EXPECT_GT(Count(allowed, "lifted"), 100);
}

// The configuration compares roots as written. A second remote whose root is a symlink to the
// first's (or a bind mount of it) was accepted, and its duration "0" unlocked every backup of the
// first on every run; an indexPath reaching into a remote through a symlinked folder put the holds
// where XO's user could delete them. Both are judged by where they lead, at each run: exit 3.
TEST_P(HardeningTest, RootsAndIndexAreJudgedByWhereTheyLead) {
  const std::set<std::string> expected = Generate({});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  ASSERT_EQ(ImmutablePaths(root_), expected);
  const std::string link = scratch_.path() + "/same-remote";
  std::filesystem::create_directory_symlink(root_, link);
  WriteFile(config_, "{\"indexPath\": \"" + index_ + "\", \"remotes\": {\"a\": {\"root\": \"" +
                         root_ + "\", \"immutabilityDuration\": \"7d\"}, \"b\": {\"root\": \"" +
                         link + "/\", \"immutabilityDuration\": \"0\"}}}");
  const ProcessResult both = Run();
  EXPECT_EQ(both.exit_code, 3) << both.out << both.err;
  EXPECT_THAT(both.err, HasSubstr("the same folder as remote a"));
  EXPECT_EQ(ImmutablePaths(root_), expected) << "remote b's duration 0 unlocked remote a's backups";
  const ProcessResult check =
      RunProcess({Runfile("reconciler/xo-immutable"), "check", "--config", config_});
  EXPECT_EQ(check.exit_code, 3) << check.out;

  // The index reached through a symlinked folder into the remote.
  const std::string index_link = scratch_.path() + "/index-link";
  std::filesystem::create_directory_symlink(root_ + "/xo-vm-backups", index_link);
  WriteFile(config_, "{\"indexPath\": \"" + index_link + "/idx\", \"remotes\": {\"a\": " +
                         "{\"root\": \"" + root_ + "\", \"immutabilityDuration\": \"7d\"}}}");
  const ProcessResult inside = Run();
  EXPECT_EQ(inside.exit_code, 3) << inside.out << inside.err;
  EXPECT_THAT(inside.err, HasSubstr("inside remote a's root"));
  EXPECT_FALSE(std::filesystem::exists(root_ + "/xo-vm-backups/idx"))
      << "the index was made inside the remote";
}

// A folder of one remote bind-mounted elsewhere and configured as a second remote's root: neither
// the paths nor the root inodes tell, but both are one tree of one filesystem, and remote b's
// duration "0" would unlock remote a's backups every run.
TEST_P(HardeningTest, ARootBindMountedFromInsideAnotherRemoteIsRefused) {
  const std::set<std::string> expected = Generate({});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  ASSERT_EQ(ImmutablePaths(root_), expected);
  const std::string bound = scratch_.path() + "/bound vms";  // a space: mountinfo escapes it
  std::filesystem::create_directories(bound);
  ASSERT_EQ(RunProcess({"mount", "--bind", root_ + "/xo-vm-backups", bound}).exit_code, 0);
  const UnmountWhenDone unmount{bound};
  WriteFile(config_, "{\"indexPath\": \"" + index_ + "\", \"remotes\": {\"a\": {\"root\": \"" +
                         root_ + "\", \"immutabilityDuration\": \"7d\"}, \"b\": {\"root\": \"" +
                         bound + "\", \"immutabilityDuration\": \"0\"}}}");
  const ProcessResult both = Run();
  EXPECT_EQ(both.exit_code, 3) << both.out << both.err;
  EXPECT_THAT(both.err, HasSubstr("overlaps remote a's root"));
  EXPECT_THAT(both.err, HasSubstr("through a bind mount"));
  EXPECT_EQ(ImmutablePaths(root_), expected) << "remote b's duration 0 unlocked remote a's backups";
  // A folder outside the remote, bind-mounted the same way, is a remote of its own.
  ASSERT_EQ(RunProcess({"umount", bound}).exit_code, 0);
  std::filesystem::create_directories(scratch_.path() + "/other");
  ASSERT_EQ(RunProcess({"mount", "--bind", scratch_.path() + "/other", bound}).exit_code, 0);
  const ProcessResult apart = Run();
  EXPECT_EQ(apart.exit_code, 0) << apart.out << apart.err;
  EXPECT_EQ(ImmutablePaths(root_), expected);
}

TEST_P(HardeningTest, DurationZeroIsAnExplicitMassLift) {
  Generate({"--vms", "6"});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  WriteConfig("0");
  const ProcessResult released = Run();
  EXPECT_EQ(released.exit_code, 0) << released.out;
  EXPECT_THAT(ImmutablePaths(root_), IsEmpty());
}

TEST_P(HardeningTest, EveryFlagChangeIsInTheAppendOnlyAuditLog) {
  Generate({});
  WriteConfig("7d");
  const ProcessResult r = Run();
  ASSERT_EQ(r.exit_code, 0);
  const std::string log = index_ + "/audit.log";
  struct statx sx;
  ASSERT_EQ(statx(AT_FDCWD, log.c_str(), 0, STATX_BASIC_STATS, &sx), 0);
  EXPECT_TRUE(sx.stx_attributes & STATX_ATTR_APPEND) << "audit.log lacks chattr +a";
  EXPECT_EQ((sx.stx_mode & 0777), 0600u);
  const std::vector<std::string> lines = Lines(ReadFile(log));
  EXPECT_EQ(static_cast<int64_t>(lines.size()), Count(r, "protected"));
  for (const std::string& line : lines) {
    const json::value v = json::parse(line);
    for (const char* key : {"time", "remote", "path", "inode", "action", "reason"}) {
      EXPECT_TRUE(v.as_object().contains(key)) << key << " missing in " << line;
    }
  }
  // The file refuses anything but appends, even to root.
  const int fd = open(log.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  EXPECT_LT(fd, 0) << "audit.log could be truncated";
  if (fd >= 0) close(fd);
}

// Refused, and said where a reader looks: `check` said "usable", and the run exited 3 with an
// empty JSON or JUnit report and no metrics, so a CI job or an alert saw nothing it could read.
TEST_P(HardeningTest, AnIndexFolderWritableByOthersIsRefused) {
  Generate({});
  WriteConfig("7d");
  std::filesystem::create_directories(index_);
  chmod(index_.c_str(), 0777);
  const std::string xo = Runfile("reconciler/xo-immutable");
  const ProcessResult check = RunProcess({xo, "check", "--config", config_});
  EXPECT_EQ(check.exit_code, 3) << check.out << check.err;
  EXPECT_THAT(check.out, HasSubstr("writable by group or others"));
  EXPECT_THAT(check.out, HasSubstr("remote r1 (" + root_ + "): unusable: index: "));
  const std::string metrics = scratch_.path() + "/metrics.prom";
  const ProcessResult r = Run({"--metrics-file", metrics});
  EXPECT_EQ(r.exit_code, 3) << r.out;
  EXPECT_THAT(r.err, HasSubstr("writable by group or others"));
  boost::system::error_code ec;
  const json::value doc = json::parse(r.out, ec);
  ASSERT_FALSE(ec) << "not a JSON report: " << r.out;
  const json::object& remote = doc.at("remotes").at(0).as_object();
  EXPECT_EQ(remote.at("state"), "unusable") << r.out;
  EXPECT_THAT(std::string(remote.at("reason").as_string()),
              HasSubstr("writable by group or others"));
  EXPECT_THAT(ReadFile(metrics), HasSubstr("xo_immutable_remote_usable{remote=\"r1\"} 0"));
  const ProcessResult junit = Run({"--report", "junit"});
  EXPECT_THAT(junit.out, HasSubstr("<testsuites")) << junit.out;
  EXPECT_THAT(ImmutablePaths(root_), IsEmpty());
  chmod(index_.c_str(), 0700);
  EXPECT_EQ(Run().exit_code, 0);
}

// An index folder that is a symlink is refused by name, saying so: whoever can change where it
// leads chooses where the records go.
TEST_P(HardeningTest, AnIndexFolderThatIsASymlinkIsRefusedSayingSo) {
  Generate({});
  WriteConfig("7d");
  std::filesystem::create_directories(index_ + ".real");
  chmod((index_ + ".real").c_str(), 0700);
  std::filesystem::create_directory_symlink(index_ + ".real", index_);
  const ProcessResult r = Run();
  EXPECT_EQ(r.exit_code, 3) << r.out;
  EXPECT_THAT(r.err, HasSubstr("is a symlink"));
  EXPECT_THAT(ImmutablePaths(root_), IsEmpty());
}

// The configuration refuses system folders by name; a root that is a symlink to one is refused by
// where it leads (exit 3, nothing done), dry run or not. /proc stands in for /etc here: it holds
// no flags, should the check ever let a run through.
TEST_P(HardeningTest, ARootThatLeadsToASystemFolderIsRefused) {
  Generate({});
  WriteConfig("7d");
  std::filesystem::rename(root_, root_ + ".real");
  std::filesystem::create_directory_symlink("/proc", root_);
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--dry-run"}, {}}) {
    const ProcessResult r = Run(args);
    EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
    EXPECT_THAT(r.err, HasSubstr("the root leads to /proc: /proc is a system folder"));
  }
  std::filesystem::remove(root_);
  std::filesystem::rename(root_ + ".real", root_);
  EXPECT_EQ(Run().exit_code, 0);
}

TEST_P(HardeningTest, ALostIndexNeverLiftsAndIsRebuiltFromTheWalk) {
  const std::set<std::string> expected = Generate({});
  WriteConfig("7d");
  const ProcessResult first = Run();
  ASSERT_EQ(first.exit_code, 0);
  const size_t entries = CountIndexEntries(index_ + "/r1");
  for (auto& day : std::filesystem::directory_iterator(index_ + "/r1")) {
    if (day.path().extension() == ".idx") std::filesystem::remove(day.path());
  }
  const ProcessResult r = Run();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Count(r, "lifted"), 0);
  // Files are recorded as they are; VHD directories are looked into first (locked top down, their
  // own flag does not say their members are), then recorded: protections finished, not drift.
  EXPECT_GT(Count(r, "protected"), 0);
  EXPECT_EQ(Count(r, "reprotected"), 0);
  EXPECT_EQ(Count(r, "indexed") + Count(r, "protected"), static_cast<int64_t>(entries));
  EXPECT_EQ(CountIndexEntries(index_ + "/r1"), entries);
  EXPECT_EQ(ImmutablePaths(root_), expected);
}

TEST_P(HardeningTest, SweepFindsLockedFilesMovedOutOfReachAndLiftsThemOnceExpired) {
  const std::set<std::string> expected = Generate({"--vms", "1"});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  // A writer renames the (mutable) VM folder: its locked files are out of the globs' reach.
  std::string vm;
  for (const std::string& p : expected) {
    if (p.rfind("xo-vm-backups/", 0) == 0) {
      vm = p.substr(0, p.find('/', 14));
      break;
    }
  }
  ASSERT_FALSE(vm.empty());
  const std::string hidden = "xo-vm-backups/.hidden";
  std::filesystem::rename(root_ + "/" + vm, root_ + "/" + hidden);
  std::set<std::string> moved;
  for (const std::string& p : ImmutablePaths(root_)) {
    if (p.rfind(hidden + "/", 0) == 0) moved.insert(p);
  }
  ASSERT_FALSE(moved.empty());
  // A file locked by someone else, out of reach, not in the index: reported, never lifted.
  WriteFile(root_ + "/other.bin", "x");
  ASSERT_TRUE(testing::SetImmutableFlag(root_ + "/other.bin", true));
  const ProcessResult run = Run();
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_THAT(run.out, HasSubstr("indexed item missing"));
  const std::vector<std::string> sweep = {Runfile("reconciler/xo-immutable"), "sweep", "--config",
                                          config_};
  const ProcessResult early = RunProcess(sweep);
  EXPECT_EQ(early.exit_code, 0) << early.err;
  EXPECT_THAT(early.out, HasSubstr("moved out of the globs' reach"));
  EXPECT_EQ(ImmutablePaths(root_).count(*moved.begin()), 1u);
  const ProcessResult late = RunProcess(sweep, testing::FaketimeEnv("+9d"));
  EXPECT_EQ(late.exit_code, 0) << late.out << late.err;
  for (const std::string& p : moved) EXPECT_FALSE(ImmutablePaths(root_).count(p)) << p;
  EXPECT_TRUE(ImmutablePaths(root_).count("other.bin")) << "lifted a file the index does not know";
  EXPECT_THAT(late.out, HasSubstr("not in the index"));
}

TEST_P(HardeningTest, RunsWithOnlyTheFourCapabilitiesAndNamesAMissingOne) {
  const std::set<std::string> expected = Generate({});
  WriteConfig("7d");
  const std::string bin = Runfile("reconciler/xo-immutable");
  const ProcessResult missing =
      RunProcess({"setpriv", "--bounding-set=-all,+linux_immutable,+fowner,+dac_read_search", "--",
                  bin, "--config", config_});
  EXPECT_EQ(missing.exit_code, 3) << missing.out << missing.err;
  EXPECT_THAT(missing.out, HasSubstr("CAP_LEASE"));
  EXPECT_THAT(ImmutablePaths(root_), IsEmpty());
  const ProcessResult least =
      RunProcess({"setpriv", "--bounding-set=-all,+linux_immutable,+fowner,+dac_read_search,+lease",
                  "--", bin, "--config", config_});
  EXPECT_EQ(least.exit_code, 0) << least.out << least.err;
  EXPECT_EQ(ImmutablePaths(root_), expected);
}

TEST_P(HardeningTest, ARemoteOwnedByAnotherUserIsProtectedWithTheFourCapabilities) {
  // XO writing over NFS with root squashing: every file and folder belongs to nobody.
  std::set<std::string> expected = Generate({});
  ASSERT_EQ(RunProcess({"chown", "-R", "65534:65534", root_}).exit_code, 0);
  WriteConfig("7d");
  const std::string bin = Runfile("reconciler/xo-immutable");
  const std::vector<std::string> least = {
      "setpriv",  "--bounding-set=-all,+linux_immutable,+fowner,+dac_read_search,+lease",
      "--",       bin,
      "--config", config_};
  // check says so beforehand: usable, but XO would not be told.
  std::vector<std::string> check = least;
  check.insert(check.begin() + 4, "check");
  const ProcessResult checked = RunProcess(check);
  EXPECT_EQ(checked.exit_code, 1) << checked.out << checked.err;
  EXPECT_THAT(checked.out, HasSubstr("usable\n  but: the root is not writable by this process"));
  const ProcessResult r = RunProcess(least);
  // Everything is locked but immutability.json, which root may not create in nobody's folder
  // without CAP_DAC_OVERRIDE: said so, by name.
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("needs CAP_DAC_OVERRIDE"));
  expected.erase("immutability.json");
  EXPECT_EQ(ImmutablePaths(root_), expected);
  const ProcessResult with_override = RunProcess(
      {"setpriv",
       "--bounding-set=-all,+linux_immutable,+fowner,+dac_read_search,+lease,+dac_override", "--",
       bin, "--config", config_});
  EXPECT_EQ(with_override.exit_code, 0) << with_override.out;
  const ProcessResult checked_with_override = RunProcess(
      {"setpriv",
       "--bounding-set=-all,+linux_immutable,+fowner,+dac_read_search,+lease,+dac_override", "--",
       bin, "check", "--config", config_});
  EXPECT_EQ(checked_with_override.exit_code, 0) << checked_with_override.out;
  EXPECT_TRUE(ImmutablePaths(root_).count("immutability.json"));
}

TEST_P(HardeningTest, AFullIndexFilesystemLosesNothingAndTheNextRunCatchesUp) {
  const std::set<std::string> expected = Generate({});
  ScopedMount small("tmpfs", index_, "mode=0700,size=1m");
  ASSERT_TRUE(small.ok());
  WriteConfig("7d");
  // The index's filesystem is full: nothing of the index or the audit log can be written.
  const std::string filler = index_ + "/filler";
  for (std::string block(64 << 10, 'x');;) {
    const std::string before = ReadFile(filler);
    WriteFile(filler, before + block);
    if (ReadFile(filler).size() == before.size()) break;
  }
  const ProcessResult full = Run();
  EXPECT_EQ(full.exit_code, 1) << full.out;
  EXPECT_THAT(full.out, HasSubstr("No space left on device"));
  EXPECT_EQ(CountIndexEntries(index_ + "/r1"), 0u);
  EXPECT_EQ(ImmutablePaths(root_), expected) << "every finished backup is locked anyway";
  std::filesystem::remove(filler);
  const ProcessResult after = Run();
  EXPECT_EQ(after.exit_code, 0) << after.out;
  EXPECT_GT(Count(after, "indexed"), 0) << "the items locked without a record get one now";
  const ProcessResult again = Run();
  EXPECT_EQ(Count(again, "indexed"), 0) << "a record was left unwritten";
  // Every item is locked (this remote has nothing unfinished) and has its record.
  EXPECT_EQ(static_cast<int64_t>(CountIndexEntries(index_ + "/r1")), Count(again, "seen"));
}

// After a reboot each run measures the wall clock against the first record of the boot. With the
// index's filesystem full that record could not be written, every run was the boot's first, and
// a clock moved ahead a few hours at a time (each step accepted, as after a reboot) lifted
// everything within minutes. A run that cannot start the boot's baseline lifts nothing.
TEST_P(HardeningTest, ARunThatCannotRecordTheClocksAfterARebootLiftsNothing) {
  const std::set<std::string> expected = Generate({});
  ScopedMount small("tmpfs", index_, "mode=0700,size=1m");
  ASSERT_TRUE(small.ok());
  WriteConfig("7d", "0s", "24h");
  ASSERT_EQ(Run().exit_code, 0);
  // A reboot: the record's boot is another one.
  const std::string clock = index_ + "/clock.json";
  std::string record = ReadFile(clock);
  const size_t id = record.find("\"boot_id\":\"");
  ASSERT_NE(id, std::string::npos) << record;
  record.replace(id + 11, 4, "0000");
  WriteFile(clock, record);
  const std::string filler = index_ + "/filler";
  for (std::string block(64 << 10, 'x');;) {
    const std::string before = ReadFile(filler);
    WriteFile(filler, before + block);
    if (ReadFile(filler).size() == before.size()) break;
  }
  for (const char* step :
       {"+20h", "+40h", "+60h", "+80h", "+100h", "+120h", "+140h", "+160h", "+180h", "+200h"}) {
    const ProcessResult r = RunAt(step);
    EXPECT_EQ(Count(r, "lifted"), 0) << step << ": " << r.out << r.err;
    EXPECT_EQ(ImmutablePaths(root_), expected) << step << ": lifted early";
    // (Where a hardware clock is readable, it tells the shift first.)
    if (std::string(step) == "+200h" && r.err.find("hardware clock") == std::string::npos) {
      EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
      EXPECT_THAT(r.out, HasSubstr("this boot has none recorded yet"));
    }
  }
}

// ext4 remounts a filesystem read-only on an error (errors=remount-ro): with the index on one,
// every run stopped at the lock file (exit 3), and no new backup was locked until root noticed.
// The lock is taken read-only; the backups are locked; their records wait for a writable index.
TEST_P(HardeningTest, AReadOnlyIndexFilesystemStillLetsBackupsBeLocked) {
  Generate({});
  ScopedMount small("tmpfs", index_, "mode=0700,size=4m");
  ASSERT_TRUE(small.ok());
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  const std::string vm = root_ + "/xo-vm-backups/3b0c8f5e-2d4a-4f6b-9c1e-7a8d9e0f1a2b";
  std::filesystem::create_directories(vm);
  WriteFile(vm + "/20261130T000000Z.json", "{}");
  WriteFile(vm + "/20261130T000000Z.xva", "x");
  ASSERT_EQ(RunProcess({"mount", "-o", "remount,ro", index_}).exit_code, 0);
  const ProcessResult r = Run();
  RunProcess({"mount", "-o", "remount,rw", index_});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("Read-only file system"));
  EXPECT_TRUE(ImmutablePaths(root_).count(
      "xo-vm-backups/3b0c8f5e-2d4a-4f6b-9c1e-7a8d9e0f1a2b/20261130T000000Z.xva"))
      << r.out;
  const ProcessResult after = Run();
  EXPECT_EQ(after.exit_code, 0) << after.out << after.err;
  EXPECT_EQ(Count(after, "indexed"), 2) << "the records left unwritten are written now";
}

TEST_P(HardeningTest, ATreeChangingUnderTheWalkCausesNoErrorStorm) {
  const std::set<std::string> expected = Generate({"--vms", "4", "--blocks", "100"});
  WriteConfig("7d", "1h");  // nothing new settles: the churn is never locked
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      const std::string dir = root_ + "/xo-vm-backups/churn-" + std::to_string(i % 4);
      std::error_code ec;
      std::filesystem::create_directories(dir + "/vdis/j/v/data/20261101T000000Z.vhd/blocks/0", ec);
      for (int b = 0; b < 20; ++b) {
        WriteFile(dir + "/vdis/j/v/data/20261101T000000Z.vhd/blocks/0/" + std::to_string(b), "b");
      }
      WriteFile(dir + "/20261101T000000Z.xva", "x");
      WriteFile(dir + "/20261101T000000Z.json", "{}");
      std::filesystem::remove_all(dir, ec);
    }
  });
  int worst = 0;
  int64_t errors = 0;
  for (int run = 0; run < 15; ++run) {
    const ProcessResult r = Run();
    worst = std::max(worst, r.exit_code);
    errors += Count(r, "errors");
  }
  stop = true;
  writer.join();
  EXPECT_EQ(worst, 0);
  EXPECT_EQ(errors, 0);
  EXPECT_THAT(ImmutablePaths(outside_), IsEmpty());
}

TEST_P(HardeningTest, SymlinksAtEveryLevelOfTheGlobSetAreNeverFollowed) {
  // Outside: a complete, finished VM backup tree. Inside: symlinks to its parts at each level.
  const std::string out_vm = outside_ + "/xo-vm-backups/vm";
  const std::string vdi = out_vm + "/vdis/job/vdi";
  std::filesystem::create_directories(vdi + "/data/20261101T000000Z.vhd/blocks/0");
  WriteFile(vdi + "/data/20261101T000000Z.vhd/bat", "a");
  WriteFile(vdi + "/data/20261101T000000Z.vhd/blocks/0/0", "b");
  WriteFile(vdi + "/20261101T000000Z.alias.vhd", "data/20261101T000000Z.vhd");
  WriteFile(out_vm + "/20261101T000000Z.xva", "x");
  WriteFile(out_vm + "/20261101T000000Z.json", "{}");
  std::filesystem::create_directories(root_);
  WriteFile(root_ + "/metadata.json", "{}");
  const auto link = [&](const std::string& target, const std::string& name) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(root_ + "/" + name).parent_path(),
                                        ec);
    std::filesystem::create_symlink(target, root_ + "/" + name);
  };
  link(outside_ + "/xo-vm-backups", "xo-vm-backups");  // the top folder itself
  link(out_vm, "xo-config-backups/s/x");               // a folder below a literal
  std::filesystem::create_directories(root_ + "/xo-pool-metadata-backups/s/p");
  link(out_vm, "xo-pool-metadata-backups/s/p/20261101T000000Z");
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  // Then the deeper levels, inside a real VM folder.
  std::filesystem::remove(root_ + "/xo-vm-backups");
  const std::string vm = root_ + "/xo-vm-backups/vm";
  std::filesystem::create_directories(vm + "/vdis/job2/vdi/data");
  WriteFile(vm + "/20261101T000000Z.json", "{}");
  link(out_vm + "/vdis", "xo-vm-backups/vm/vdis/job1");  // <job>
  link(vdi, "xo-vm-backups/vm/vdis/job2/vdi2");          // <vdi>
  link(vdi + "/data/20261101T000000Z.vhd",
       "xo-vm-backups/vm/vdis/job2/vdi/data/20261101T000000Z.vhd");
  link(vdi + "/20261101T000000Z.alias.vhd",
       "xo-vm-backups/vm/vdis/job2/vdi/20261101T000000Z.alias.vhd");
  link("../../../outside/xo-vm-backups/vm/20261101T000000Z.xva",
       "xo-vm-backups/vm/20261101T000000Z.xva");
  const ProcessResult r = Run();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(ImmutablePaths(outside_), IsEmpty()) << "a flag was set through a symlink";
  EXPECT_GE(Count(r, "refused"), 5);
}

}  // namespace
}  // namespace xoi
