// End to end, `hold` and `release` (the legal hold): on a protected remote, with the wall clock
// moved by libfaketime, asserting the real inode flags. Root only.
#include <sys/stat.h>

#include <algorithm>
#include <map>

#include "lib/testing/prometheus_text.h"
#include "reconciler/remote_fixture.h"

namespace xoi {
namespace {

using ::testing::Contains;
using ::xoi::testing::ParsePrometheusText;
using ::xoi::testing::PromValue;

constexpr char kNewVm[] = "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6";

class HoldTest : public RemoteTest {
 protected:
  ProcessResult Xo(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), Runfile("reconciler/xo-immutable"));
    args.insert(args.begin() + 2, {"--config", config_});
    return RunProcess(args, env);
  }

  // The VM folders of the remote, by name.
  std::vector<std::string> Vms() const {
    std::vector<std::string> vms;
    for (const auto& e : std::filesystem::directory_iterator(root_ + "/xo-vm-backups")) {
      vms.push_back(e.path().filename().string());
    }
    std::sort(vms.begin(), vms.end());
    return vms;
  }

  // The immutable paths below `prefix` (remote-relative, ending in '/').
  std::set<std::string> LockedUnder(const std::string& prefix) const {
    std::set<std::string> out;
    for (const std::string& p : ImmutablePaths(root_)) {
      if (p.rfind(prefix, 0) == 0) out.insert(p);
    }
    return out;
  }

  // A finished backup run of VM folder `vm`: its xva and the run's metadata.
  void WriteBackup(const std::string& vm, const std::string& dt) {
    std::filesystem::create_directories(root_ + "/" + vm);
    WriteFile(root_ + "/" + vm + "/" + dt + ".xva", "xva bytes");
    WriteFile(root_ + "/" + vm + "/" + dt + ".json", "{\"mode\":\"full\"}");
  }

  std::string HoldFile() const { return index_ + "/r1/holds"; }
};

TEST_F(HoldTest, AHoldOnOneVmSurvivesExpiryWhileTheOthersAreLifted) {
  const std::set<std::string> expected = Generate({});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  const std::vector<std::string> vms = Vms();
  ASSERT_GE(vms.size(), 2u);
  const std::string held = "xo-vm-backups/" + vms[0] + "/";
  const std::set<std::string> held_locked = LockedUnder(held);
  ASSERT_FALSE(held_locked.empty());

  const ProcessResult hold = Xo({"hold", "--vm", vms[0], "--reason", "incident 42"});
  ASSERT_EQ(hold.exit_code, 0) << hold.err;
  EXPECT_THAT(hold.out, HasSubstr("r1: hold 1 on " + held.substr(0, held.size() - 1)));

  // The dry run says which hold keeps each item, where it would otherwise lift.
  const ProcessResult dry =
      Xo({"run", "--dry-run", "--allow-mass-lift"}, testing::FaketimeEnv("+30d"));
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_THAT(dry.out, HasSubstr("  hold " + held));
  EXPECT_THAT(dry.out, HasSubstr(": held by hold 1 (incident 42); would lift: "));
  EXPECT_THAT(dry.out, HasSubstr("would lift xo-vm-backups/" + vms[1]));

  const ProcessResult later = RunAt("+30d", {"--allow-mass-lift"});
  ASSERT_EQ(later.exit_code, 0) << later.err;
  EXPECT_EQ(LockedUnder(held), held_locked) << "a held item was lifted";
  for (size_t i = 1; i < vms.size(); ++i) {
    EXPECT_THAT(LockedUnder("xo-vm-backups/" + vms[i] + "/"), IsEmpty()) << vms[i];
  }
  EXPECT_GT(Count(later, "lifted"), 0);
  EXPECT_EQ(Count(later, "held"), static_cast<int64_t>(CountIndexEntries(index_ + "/r1")));
  // A held item is locked past its expiry on purpose: verify does not fail on it.
  const ProcessResult verify = Xo({"verify", "--report", "json"}, testing::FaketimeEnv("+30d"));
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
}

TEST_F(HoldTest, StatusReportsAndMetricsShowTheHoldsAndWhatTheyHold) {
  Generate({});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  const std::string vm = Vms()[0];
  ASSERT_EQ(Xo({"hold", "--vm", vm, "--reason", "ticket <7> & \"co\""}).exit_code, 0);
  const std::string metrics = scratch_.path() + "/metrics.prom";
  const ProcessResult run = Run({"--metrics-file", metrics});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const json::value doc = json::parse(run.out);
  const json::array& holds = doc.at("remotes").at(0).at("holds").as_array();
  ASSERT_EQ(holds.size(), 1u);
  EXPECT_EQ(holds[0].at("id").as_int64(), 1);
  EXPECT_EQ(holds[0].at("selector").as_string(), "xo-vm-backups/" + vm);
  EXPECT_EQ(holds[0].at("reason").as_string(), "ticket <7> & \"co\"");
  EXPECT_THAT(std::string(holds[0].at("who").as_string()), HasSubstr("uid 0"));
  const int64_t items = holds[0].at("items").as_int64();
  EXPECT_GT(items, 0);
  EXPECT_EQ(Count(run, "held"), items);
  // Every locked item of the VM is pinned (by `hold`, or by the run's pass over the index).
  EXPECT_EQ(holds[0].at("pinned").as_int64(), items);

  std::vector<testing::PromSample> samples;
  const std::string error = ParsePrometheusText(ReadFile(metrics), &samples);
  ASSERT_EQ(error, "");
  EXPECT_EQ(PromValue(samples, "xo_immutable_items", {{"remote", "r1"}, {"state", "held"}}),
            static_cast<double>(items));
  EXPECT_EQ(PromValue(samples, "xo_immutable_holds", {{"remote", "r1"}}), 1.0);

  const ProcessResult status = Xo({"status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("HOLD 1 on xo-vm-backups/" + vm + ": ticket <7>"));
  EXPECT_THAT(status.out, HasSubstr("(held by hold 1)"));
  const ProcessResult status_json = Xo({"status", "--report", "json"});
  EXPECT_THAT(status_json.out, HasSubstr("\"heldBy\":[1]"));
  EXPECT_EQ(json::parse(status_json.out).at("remotes").at(0).at("holds").at(0).at("items"), items)
      << "status counts what the run counts";

  const ProcessResult verify = Xo({"verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
  EXPECT_THAT(verify.out, HasSubstr("HOLD 1 on xo-vm-backups/" + vm));
  const std::string xml = scratch_.path() + "/verify.xml";
  ASSERT_EQ(Xo({"verify", "--report", "junit", "--report-file", xml}).exit_code, 0);
  const ProcessResult lint =
      RunProcess({"xmllint", "--noout", "--schema", Runfile("testdata/junit.xsd"), xml});
  EXPECT_EQ(lint.exit_code, 0) << lint.err;
  EXPECT_THAT(ReadFile(xml), HasSubstr("<property name=\"hold 1\" value=\"HOLD 1 on "));
  EXPECT_THAT(ReadFile(xml), HasSubstr("ticket &lt;7&gt; &amp; &quot;co&quot;"));

  // Every hold and release is in the audit log.
  ASSERT_EQ(Xo({"release", "--id", "1", "--reason", "closed"}).exit_code, 0);
  const std::string audit = ReadFile(index_ + "/audit.log");
  EXPECT_THAT(audit, HasSubstr("\"action\":\"hold\""));
  EXPECT_THAT(audit, HasSubstr("\"action\":\"release\""));
  EXPECT_THAT(audit, HasSubstr("by uid 0"));
  EXPECT_THAT(audit, HasSubstr(": closed"));
}

// A hold of the whole remote is the incident answer: not even duration 0 lifts, and neither do
// held lifts trip the mass-lift guard (they are no lifts).
TEST_F(HoldTest, HoldingEverythingSurvivesDurationZeroUntilReleased) {
  Generate({"--vms", "10"});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  const std::set<std::string> locked = ImmutablePaths(root_);
  ASSERT_GT(CountIndexEntries(index_ + "/r1"), 100u) << "too small for the mass-lift guard";
  ASSERT_EQ(Xo({"hold", "--all", "--reason", "ransomware on the XO host"}).exit_code, 0);

  const ProcessResult later = RunAt("+30d");
  EXPECT_EQ(later.exit_code, 0) << later.out;
  EXPECT_EQ(ImmutablePaths(root_), locked);
  WriteConfig("0");
  const ProcessResult zero = Run();
  EXPECT_EQ(zero.exit_code, 0) << zero.out;
  EXPECT_EQ(ImmutablePaths(root_), locked) << "duration 0 lifted something held";
  EXPECT_TRUE(std::filesystem::exists(root_ + "/immutability.json"));
  const ProcessResult sweep = Xo({"sweep"}, testing::FaketimeEnv("+30d"));
  EXPECT_EQ(sweep.exit_code, 0) << sweep.out;
  EXPECT_EQ(ImmutablePaths(root_), locked) << "the sweep lifted something held";

  const ProcessResult release = Xo({"release", "--all"});
  ASSERT_EQ(release.exit_code, 0) << release.err;
  EXPECT_THAT(release.out, HasSubstr("r1: released hold 1 on the whole remote"));
  ASSERT_EQ(Run().exit_code, 0);
  EXPECT_THAT(ImmutablePaths(root_), IsEmpty());
  EXPECT_FALSE(std::filesystem::exists(root_ + "/immutability.json"));
}

TEST_F(HoldTest, ReleaseThenARunLiftsWhatExpiredAndTwoHoldsNeedTwoReleases) {
  Generate({});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  const std::string vm = "xo-vm-backups/" + Vms()[0];
  const std::set<std::string> held = LockedUnder(vm + "/");
  const std::string file = FirstWith(held, ".json");
  ASSERT_EQ(Xo({"hold", "--path", vm + "/", "--reason", "first"}).exit_code, 0);
  ASSERT_EQ(Xo({"hold", "--path", file, "--reason", "second"}).exit_code, 0);
  ASSERT_EQ(RunAt("+30d", {"--allow-mass-lift"}).exit_code, 0);
  EXPECT_EQ(LockedUnder(vm + "/"), held);

  const ProcessResult release = Xo({"release", "--path", vm, "--reason", "cleared"});
  ASSERT_EQ(release.exit_code, 0) << release.err;
  EXPECT_THAT(release.out, HasSubstr("released hold 1 on " + vm + " (first)"));
  EXPECT_THAT(release.out, Not(HasSubstr("hold 2")));
  ASSERT_EQ(RunAt("+30d", {"--allow-mass-lift"}).exit_code, 0);
  EXPECT_EQ(LockedUnder(vm + "/"), std::set<std::string>{file}) << "hold 2 still keeps " << file;

  const ProcessResult nothing = Xo({"release", "--path", vm});
  EXPECT_EQ(nothing.exit_code, 1) << "released again";
  EXPECT_THAT(nothing.out, HasSubstr("no hold matches"));
  ASSERT_EQ(Xo({"release", "--id", "2"}).exit_code, 0);
  ASSERT_EQ(RunAt("+30d", {"--allow-mass-lift"}).exit_code, 0);
  EXPECT_THAT(LockedUnder(vm + "/"), IsEmpty());
}

TEST_F(HoldTest, AHoldOnAVmFolderThatAppearsLaterCoversIt) {
  Generate({});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  const std::string other = "xo-vm-backups/" + Vms()[0] + "/";
  const ProcessResult hold = Xo({"hold", "--vm", kNewVm, "--reason", "before it exists"});
  ASSERT_EQ(hold.exit_code, 0) << hold.err;
  EXPECT_THAT(hold.err, HasSubstr("matches no backup yet"));
  const std::string vm = std::string("xo-vm-backups/") + kNewVm;
  WriteBackup(vm, "20261201T000000Z");
  ASSERT_EQ(Run().exit_code, 0);
  const std::set<std::string> locked = LockedUnder(vm + "/");
  ASSERT_EQ(locked.size(), 2u) << "the new VM's backup was not locked";
  ASSERT_EQ(RunAt("+30d", {"--allow-mass-lift"}).exit_code, 0);
  EXPECT_EQ(LockedUnder(vm + "/"), locked);
  EXPECT_THAT(LockedUnder(other), IsEmpty());
}

// A hold on config backups (or pool metadata) covers locked items `status` lists no runs of:
// its count of held items still agrees with the run's (it used to show 0).
TEST_F(HoldTest, StatusCountsTheItemsOfAHoldOutsideTheVmBackups) {
  Generate({});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  ASSERT_EQ(Xo({"hold", "--path", "xo-config-backups", "--reason", "audit"}).exit_code, 0);
  const ProcessResult run = Run();
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const int64_t items =
      json::parse(run.out).at("remotes").at(0).at("holds").at(0).at("items").as_int64();
  EXPECT_GT(items, 0);
  const ProcessResult status = Xo({"status", "--report", "json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(json::parse(status.out).at("remotes").at(0).at("holds").at(0).at("items"), items);
}

TEST_F(HoldTest, BadCommandLinesAreExit2AndChangeNothing) {
  const std::set<std::string> expected = Generate({});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  const std::string audit = ReadFile(index_ + "/audit.log");
  struct Case {
    std::vector<std::string> args;
    const char* problem;
  };
  const Case cases[] = {
      {{"hold", "--all"}, "--reason"},
      {{"hold", "--all", "--reason", ""}, "--reason"},
      {{"hold", "--reason", "why"}, "what to hold"},
      {{"hold", "--path", "/srv/backups", "--reason", "why"}, "absolute"},
      {{"hold", "--path", "../outside", "--reason", "why"}, ".."},
      {{"hold", "--path", "xo-vm-backups/../../etc", "--reason", "why"}, ".."},
      {{"hold", "--path", "", "--reason", "why"}, "empty"},
      {{"hold", "--path", "xo-vm-backups//x", "--reason", "why"}, "empty"},
      {{"hold", "--vm", "../../etc", "--reason", "why"}, "not a VM UUID"},
      {{"hold", "--all", "--reason", "why", "--dry-run"}, "hold takes"},
      {{"hold", "--all", "--reason", "why", "--id", "1"}, "hold takes"},
      {{"release"}, "what to release"},
      {{"release", "--id", "0"}, "--id"},
      {{"run", "--all"}, "run takes"},
      {{"status", "--reason", "x"}, "status takes"},
      {{"hold", "--all", "--vm", "6f1c2d3e-4a5b-4c6d-8e7f-8091a2b3c4d5", "--reason", "why"},
       "--all covers the whole remote"},
      {{"release", "--path", "xo-vm-backups", "--all"}, "--all covers the whole remote"},
      {{"status", "--vm", "not-a-uuid"}, "not a VM UUID"},
      // Checked before anything is done, not after the run made its changes.
      {{"run", "--report-file", "/nonexistent-xoi-folder/report.json"}, "--report-file"},
      {{"verify", "--metrics-file", "/nonexistent-xoi-folder/xoi.prom"}, "--metrics-file"},
      {{"run", "--report-file", "/tmp"}, "/tmp is a directory"},
  };
  for (const Case& c : cases) {
    const ProcessResult r = Xo(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args[0] << " " << c.problem << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.problem));
  }
  EXPECT_FALSE(std::filesystem::exists(HoldFile()));
  EXPECT_EQ(ReadFile(index_ + "/audit.log"), audit);
  EXPECT_EQ(ImmutablePaths(root_), expected);
}

TEST_F(HoldTest, HoldsSurviveASigkillDuringHold) {
  Generate({"--vms", "6", "--blocks", "300"});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  const std::string vm = Vms()[0];
  ASSERT_EQ(Xo({"hold", "--vm", vm, "--reason", "kept"}).exit_code, 0);
  const std::set<std::string> held = LockedUnder("xo-vm-backups/" + vm + "/");
  const std::vector<std::string> vms = Vms();
  for (int delay_ms : {0, 1, 2, 5, 10, 20}) {
    const int pid =
        testing::StartProcess({Runfile("reconciler/xo-immutable"), "hold", "--config", config_,
                               "--vm", vms[1 + delay_ms % (vms.size() - 1)], "--reason", "killed"});
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    kill(pid, SIGKILL);
    testing::WaitProcess(pid);
    const ProcessResult status = Xo({"status", "--report", "json"});
    ASSERT_EQ(status.exit_code, 0) << "the hold file was damaged: " << status.out;
    EXPECT_THAT(status.out, HasSubstr("\"reason\":\"kept\""));
  }
  const ProcessResult later = RunAt("+30d", {"--allow-mass-lift"});
  EXPECT_EQ(later.exit_code, 0) << later.out;
  EXPECT_EQ(LockedUnder("xo-vm-backups/" + vm + "/"), held);
}

// ATTACK: the writer renames the held VM's folder (mutable: only backups are locked), so that its
// backups leave the hold's path and are lifted at expiry. The hold pinned their identities when
// it was set, and every run pins what is locked below it later: they stay locked where they went.
TEST_F(HoldTest, RenamingTheHeldVmFolderDoesNotReleaseItsBackups) {
  Generate({});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  const std::string vm = "xo-vm-backups/" + Vms()[0];
  ASSERT_EQ(Xo({"hold", "--vm", Vms()[0], "--reason", "evidence"}).exit_code, 0);
  // A backup finished after the hold, locked (and pinned) by the next run.
  WriteBackup(vm, "20261215T000000Z");
  ASSERT_EQ(Run().exit_code, 0);
  const std::set<std::string> held = LockedUnder(vm + "/");
  ASSERT_THAT(held, Contains(vm + "/20261215T000000Z.xva"));
  std::map<std::string, ino_t> inodes;  // below the VM folder
  for (const std::string& p : held) {
    struct stat st;
    ASSERT_EQ(lstat((root_ + "/" + p).c_str(), &st), 0) << p;
    inodes[p.substr(vm.size())] = st.st_ino;
  }

  const std::string moved = std::string("xo-vm-backups/") + kNewVm;
  ASSERT_EQ(rename((root_ + "/" + vm).c_str(), (root_ + "/" + moved).c_str()), 0);
  const ProcessResult later = RunAt("+30d", {"--allow-mass-lift"});
  ASSERT_EQ(later.exit_code, 0) << later.out;
  EXPECT_GT(Count(later, "lifted"), 0) << "the other VMs expired";
  std::set<std::string> expected_locked;
  for (const auto& [rest, ino] : inodes) {
    const std::string path = root_ + "/" + moved + rest;
    struct stat st;
    ASSERT_EQ(lstat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_ino, ino) << path;
    expected_locked.insert(moved + rest);
  }
  EXPECT_EQ(LockedUnder(moved + "/"), expected_locked) << "a moved held item was lifted";
  // The sweep does not lift them either.
  ASSERT_EQ(Xo({"sweep"}, testing::FaketimeEnv("+30d")).exit_code, 0);
  EXPECT_EQ(LockedUnder(moved + "/"), expected_locked);
}

// A damaged hold file could hide a hold: nothing lifts on the remote, and it says why.
TEST_F(HoldTest, ADamagedHoldFileFailsClosed) {
  Generate({});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  const std::set<std::string> locked = ImmutablePaths(root_);
  ASSERT_EQ(Xo({"hold", "--vm", Vms()[0], "--reason", "x"}).exit_code, 0);
  std::string text = ReadFile(HoldFile());
  ASSERT_FALSE(text.empty());
  text[text.find("\nhold\t") + 3] ^= 1;
  WriteFile(HoldFile(), text);
  // Lifting is held back on every run, not only on one where something is due.
  const ProcessResult now = Run();
  EXPECT_EQ(now.exit_code, 4) << now.out;
  EXPECT_THAT(now.out, HasSubstr("hold file damaged"));
  const ProcessResult later = RunAt("+30d", {"--allow-mass-lift"});
  EXPECT_EQ(later.exit_code, 4) << later.out;
  EXPECT_THAT(later.out, HasSubstr("hold file damaged"));
  EXPECT_EQ(ImmutablePaths(root_), locked);
  EXPECT_EQ(Xo({"status"}).exit_code, 1);
  const ProcessResult hold = Xo({"hold", "--all", "--reason", "y"});
  EXPECT_EQ(hold.exit_code, 1);
  EXPECT_THAT(hold.err, HasSubstr("repair or remove it"));
  EXPECT_EQ(ReadFile(HoldFile()), text) << "a damaged hold file was overwritten";
}

TEST_F(HoldTest, HoldAndReleaseWaitForNoRunAndSayWhenOneHoldsTheLock) {
  Generate({});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  const int fd = open((index_ + "/r1/.lock").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_EX | LOCK_NB), 0);
  const ProcessResult hold = Xo({"hold", "--all", "--reason", "x"});
  const ProcessResult release = Xo({"release", "--all"});
  close(fd);
  EXPECT_EQ(hold.exit_code, 75) << hold.err;
  EXPECT_EQ(release.exit_code, 75) << release.err;
  EXPECT_FALSE(std::filesystem::exists(HoldFile()));
}

}  // namespace
}  // namespace xoi
