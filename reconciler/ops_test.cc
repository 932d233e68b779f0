// End to end, what monitoring and CI read: verify's verdicts and exit codes, the JUnit report
// (validated against the schema), the Prometheus metrics file (validated by a strict parser), and
// the journal priority prefixes. Root only.
#include "absl/strings/str_cat.h"
#include "lib/testing/prometheus_text.h"
#include "reconciler/remote_fixture.h"

namespace xoi {
namespace {

using OpsTest = RemoteTest;
using ::xoi::testing::ParsePrometheusText;
using ::xoi::testing::PromSample;
using ::xoi::testing::PromValue;

json::value Checks(const ProcessResult& r) {
  return json::parse(r.out).at("remotes").at(0).at("checks");
}

bool Passed(const json::value& checks, const std::string& id) {
  for (const json::value& c : checks.as_array()) {
    if (c.at("id").as_string() == id) return c.at("passed").as_bool();
  }
  ADD_FAILURE() << "no check " << id;
  return false;
}

TEST_F(OpsTest, VerifyFailsUntilTheRemoteIsProtectedAndChangesNothing) {
  const std::set<std::string> expected = Generate({});
  WriteConfig("7d");
  const std::vector<std::string> verify = {
      Runfile("reconciler/xo-immutable"), "verify", "--config", config_, "--report", "json"};
  const ProcessResult before = RunProcess(verify);
  EXPECT_EQ(before.exit_code, 1) << before.err;
  EXPECT_FALSE(Passed(Checks(before), "finished-locked"));
  EXPECT_FALSE(Passed(Checks(before), "immutability-json"));
  EXPECT_THAT(ImmutablePaths(root_), IsEmpty()) << "verify changed something";
  EXPECT_FALSE(std::filesystem::exists(index_ + "/r1")) << "verify wrote an index";
  ASSERT_EQ(Run().exit_code, 0);
  const ProcessResult after = RunProcess(verify);
  EXPECT_EQ(after.exit_code, 0) << after.out;
  for (const char* id :
       {"finished-locked", "expired-unlocked", "index-agrees", "immutability-json"}) {
    EXPECT_TRUE(Passed(Checks(after), id)) << id;
  }
}

// What an administrator reads to know what the index holds: every record names a backup that is
// locked, filtered by day, for people and scripts; reading it changes nothing.
TEST_F(OpsTest, IndexDumpListsWhatTheIndexRecordsByDay) {
  const std::set<std::string> expected = Generate({});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  const std::set<std::string> locked = ImmutablePaths(root_);
  const std::string xo = Runfile("reconciler/xo-immutable");
  const ProcessResult all =
      RunProcess({xo, "index", "dump", "--config", config_, "--report", "json"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  const json::value all_doc = json::parse(all.out);
  const json::array& records = all_doc.at("remotes").at(0).at("records").as_array();
  ASSERT_FALSE(records.empty());
  std::set<std::string> days;
  for (const json::value& r : records) {
    const std::string path(r.at("path").as_string());
    EXPECT_TRUE(expected.contains(path)) << path << " is no backup";
    EXPECT_TRUE(locked.contains(path)) << path << " is recorded but not locked";
    EXPECT_EQ(r.at("state").as_string(), "protected") << path;
    days.insert(std::string(r.at("day").as_string()));
  }
  const std::string day = *days.begin();
  const ProcessResult one_day =
      RunProcess({xo, "index", "dump", "--config", config_, "--day", day, "--report", "json"});
  ASSERT_EQ(one_day.exit_code, 0) << one_day.err;
  const json::value one_day_doc = json::parse(one_day.out);
  for (const json::value& r : one_day_doc.at("remotes").at(0).at("records").as_array()) {
    EXPECT_EQ(r.at("day").as_string(), day);
  }
  const ProcessResult none =
      RunProcess({xo, "index", "dump", "--config", config_, "--day", "1999-01-01"});
  EXPECT_EQ(none.exit_code, 0);
  EXPECT_THAT(none.out, HasSubstr("0 records"));
  const ProcessResult text = RunProcess({xo, "index", "dump", "--config", config_});
  EXPECT_THAT(text.out, HasSubstr(FirstWith(expected, ".xva")));
  EXPECT_EQ(RunProcess({xo, "index", "dump", "--config", config_, "--day", "1999-13-01"}).exit_code,
            2);
  EXPECT_EQ(RunProcess({xo, "index", "--config", config_}).exit_code, 2);
  EXPECT_EQ(ImmutablePaths(root_), locked) << "index dump changed a flag";
}

// A script must not take a partial dump for the whole index: a damaged day file (its records
// left out) exits 1, an index that is missing or that others can write exits 3, each named.
TEST_F(OpsTest, IndexDumpFailsWhenItCannotShowTheWholeIndex) {
  const std::string xo = Runfile("reconciler/xo-immutable");
  Generate({});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  const std::string dir = index_ + "/r1";
  std::string day_file;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".idx") day_file = e.path().string();
  }
  ASSERT_FALSE(day_file.empty());
  const std::string intact = ReadFile(day_file);
  std::string damaged = intact;
  damaged[damaged.size() / 2] ^= 0x20;
  WriteFile(day_file, damaged);
  const ProcessResult partial = RunProcess({xo, "index", "dump", "--config", config_});
  EXPECT_EQ(partial.exit_code, 1) << partial.out << partial.err;
  EXPECT_THAT(partial.out, HasSubstr(day_file));
  EXPECT_EQ(ReadFile(day_file), damaged) << "a read-only dump set the damaged day file aside";
  WriteFile(day_file, intact);

  std::filesystem::permissions(dir, std::filesystem::perms::others_write,
                               std::filesystem::perm_options::add);
  const ProcessResult unsafe = RunProcess({xo, "index", "dump", "--config", config_});
  EXPECT_EQ(unsafe.exit_code, 3) << unsafe.out << unsafe.err;
  EXPECT_THAT(unsafe.out + unsafe.err, HasSubstr("chmod 700 " + dir));
  std::filesystem::permissions(dir, std::filesystem::perms::others_write,
                               std::filesystem::perm_options::remove);
  EXPECT_EQ(RunProcess({xo, "index", "dump", "--config", config_}).exit_code, 0);

  std::filesystem::rename(dir, index_ + "/moved");
  const ProcessResult missing = RunProcess({xo, "index", "dump", "--config", config_});
  EXPECT_EQ(missing.exit_code, 3) << missing.out << missing.err;
  EXPECT_THAT(missing.out + missing.err, HasSubstr("no index at " + dir));

  const ProcessResult twice = RunProcess(
      {xo, "index", "dump", "--config", config_, "--day", "2026-11-01", "--day", "2026-11-02"});
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_THAT(twice.err, HasSubstr("--day is given twice"));
}

TEST_F(OpsTest, VerifyFindsUnlockedFilesIndexDisagreementAndExpiredLocks) {
  const std::set<std::string> expected = Generate({});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  const std::string file = FirstWith(expected, ".xva");
  ASSERT_TRUE(testing::SetImmutableFlag(root_ + "/" + file, false));
  const std::vector<std::string> verify = {
      Runfile("reconciler/xo-immutable"), "verify", "--config", config_, "--report", "json"};
  const ProcessResult drift = RunProcess(verify);
  EXPECT_EQ(drift.exit_code, 1);
  EXPECT_FALSE(Passed(Checks(drift), "finished-locked"));
  EXPECT_FALSE(Passed(Checks(drift), "index-agrees"));
  ASSERT_EQ(Run().exit_code, 0);
  // Ten days on, nobody has run the lifts: everything is locked a day or more past expiry.
  const ProcessResult late = RunProcess(verify, testing::FaketimeEnv("+10d"));
  EXPECT_EQ(late.exit_code, 1);
  EXPECT_FALSE(Passed(Checks(late), "expired-unlocked"));
  EXPECT_TRUE(Passed(Checks(late), "finished-locked"));
}

TEST_F(OpsTest, TheJunitReportValidatesAgainstTheSchemaAndListsOffenders) {
  Generate({});
  WriteConfig("7d");
  const std::string xml = scratch_.path() + "/verify.xml";
  const ProcessResult r = RunProcess({Runfile("reconciler/xo-immutable"), "verify", "--config",
                                      config_, "--report", "junit", "--report-file", xml});
  EXPECT_EQ(r.exit_code, 1);
  const ProcessResult lint =
      RunProcess({"xmllint", "--noout", "--schema", Runfile("testdata/junit.xsd"), xml});
  EXPECT_EQ(lint.exit_code, 0) << lint.err;
  const std::string content = ReadFile(xml);
  EXPECT_THAT(content, HasSubstr("<testsuite name=\"verify r1\" tests=\"5\""));
  EXPECT_THAT(content, HasSubstr("offending items (finished-locked)"));
  const std::string run_xml = scratch_.path() + "/run.xml";
  ASSERT_EQ(Run({"--report", "junit", "--report-file", run_xml}).exit_code, 0);
  EXPECT_EQ(RunProcess({"xmllint", "--noout", "--schema", Runfile("testdata/junit.xsd"), run_xml})
                .exit_code,
            0);
  EXPECT_THAT(ReadFile(run_xml), HasSubstr("failures=\"0\""));
}

TEST_F(OpsTest, TheMetricsFileIsValidPrometheusTextAndKeepsTheLastSuccess) {
  Generate({});
  WriteConfig("7d");
  const std::string metrics = scratch_.path() + "/xo.prom";
  ASSERT_EQ(Run({"--metrics-file", metrics}).exit_code, 0);
  std::vector<PromSample> samples;
  ASSERT_EQ(ParsePrometheusText(ReadFile(metrics), &samples), "") << ReadFile(metrics);
  EXPECT_GT(PromValue(samples, "xo_immutable_items", {{"remote", "r1"}, {"state", "protected"}}),
            0);
  EXPECT_EQ(PromValue(samples, "xo_immutable_remote_usable", {{"remote", "r1"}}), 1);
  EXPECT_EQ(PromValue(samples, "xo_immutable_time_shift"), 0);
  const double success =
      PromValue(samples, "xo_immutable_last_success_timestamp_seconds", {{"remote", "r1"}});
  EXPECT_GT(success, 0);
  // The remote becomes unusable: the last success stays what it was.
  std::filesystem::rename(root_, root_ + ".away");
  EXPECT_EQ(Run({"--metrics-file", metrics}).exit_code, 3);
  samples.clear();
  ASSERT_EQ(ParsePrometheusText(ReadFile(metrics), &samples), "");
  EXPECT_EQ(PromValue(samples, "xo_immutable_remote_usable", {{"remote", "r1"}}), 0);
  EXPECT_EQ(PromValue(samples, "xo_immutable_last_success_timestamp_seconds", {{"remote", "r1"}}),
            success);
  std::filesystem::rename(root_ + ".away", root_);
}

TEST_F(OpsTest, LogsCarryJournalPrioritiesUnderSystemd) {
  Generate({});
  WriteConfig("7d");
  const ProcessResult r = Run({}, {"JOURNAL_STREAM=8:12345"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("<6>r1: protect "));
  const ProcessResult plain = Run();
  EXPECT_THAT(plain.err, ::testing::Not(HasSubstr("<6>")));
  std::filesystem::rename(root_, root_ + ".away");
  const ProcessResult unusable = Run({}, {"JOURNAL_STREAM=8:12345"});
  EXPECT_THAT(unusable.err, HasSubstr("<3>r1: root missing"));
  std::filesystem::rename(root_ + ".away", root_);
}

// What a run refused (a symlink or a FIFO where a backup is expected) needs a look: each is a
// warning in the journal, and so is the summary line, so that `journalctl -p warning` shows them.
TEST_F(OpsTest, RefusalsAreWarningsInTheJournal) {
  Generate();  // with a hostile set of odd entries
  WriteConfig("7d");
  const ProcessResult r = Run({}, {"JOURNAL_STREAM=8:12345"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("<4>r1: refused "));
  EXPECT_THAT(r.err, ::testing::ContainsRegex("<4>r1: [0-9]+ seen, .* [1-9][0-9]* refused"));
}

TEST_F(OpsTest, StatusShowsRunsAndWhetherEachDeltaChainIsLockedBackToItsKey) {
  const std::set<std::string> expected =
      Generate({"--vms", "1", "--runs", "10", "--vdis", "1", "--in-progress"});
  WriteConfig("7d");
  ASSERT_EQ(Run().exit_code, 0);
  // Root unlocks one file of a delta run: that run, and the deltas after it up to the next key
  // backup, are no longer protected as a chain.
  const std::string alias = FirstWith(expected, "20261006T000000Z.alias.vhd");
  ASSERT_FALSE(alias.empty());
  ASSERT_TRUE(testing::SetImmutableFlag(root_ + "/" + alias, false));
  const ProcessResult r = RunProcess(
      {Runfile("reconciler/xo-immutable"), "status", "--config", config_, "--report", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json::value vm = json::parse(r.out).at("remotes").at(0).at("vms").at(0);
  EXPECT_EQ(vm.at("timeline").as_string(), "[K Kdd K]ddd [Kd]??");
  EXPECT_EQ(vm.at("protectedBackups").as_int64(), 7);
  EXPECT_EQ(vm.at("protectedChains").as_int64(), 4);
  const json::array& runs = vm.at("runs").as_array();
  ASSERT_EQ(runs.size(), 12u);
  EXPECT_EQ(runs[5].at("timestamp").as_string(), "20261006T000000Z");
  EXPECT_FALSE(runs[5].at("allLocked").as_bool());
  EXPECT_TRUE(runs[6].at("allLocked").as_bool());
  EXPECT_FALSE(runs[6].at("chainLocked").as_bool()) << "a delta whose parent is unlocked";
  EXPECT_THAT(std::string(runs[11].at("note").as_string()), HasSubstr("no metadata json"));
  const ProcessResult text =
      RunProcess({Runfile("reconciler/xo-immutable"), "status", "--config", config_});
  EXPECT_THAT(text.out,
              HasSubstr("timeline: [K Kdd K]ddd [Kd]??    7 backups protected, 4 chains"));
  EXPECT_THAT(text.out, HasSubstr("delta  locked until"));
  const ProcessResult other = RunProcess({Runfile("reconciler/xo-immutable"), "status", "--config",
                                          config_, "--vm", "00000000-0000-0000-0000-000000000000"});
  EXPECT_EQ(other.exit_code, 0) << other.err;
  EXPECT_THAT(other.out, ::testing::Not(HasSubstr("  VM ")));
  EXPECT_THAT(other.out,
              HasSubstr("no backup of VM 00000000-0000-0000-0000-000000000000 on this remote"));
}

TEST_F(OpsTest, StatusSaysWhenRunMetadataCannotBeRead) {
  const std::set<std::string> expected = Generate({"--vms", "1", "--runs", "2", "--vdis", "1"});
  WriteConfig("7d");
  // An encrypted remote's metadata is not JSON to us.
  for (const std::string& p : expected) {
    if (p.size() > 5 && p.compare(p.size() - 5, 5, ".json") == 0 &&
        p.find("/vdis/") == std::string::npos && p.rfind("xo-vm-backups/", 0) == 0) {
      WriteFile(root_ + "/" + p, std::string("\x8f\x02encrypted", 11));
    }
  }
  ASSERT_EQ(Run().exit_code, 0);
  const ProcessResult text =
      RunProcess({Runfile("reconciler/xo-immutable"), "status", "--config", config_});
  EXPECT_THAT(text.out, HasSubstr("encrypted?"));
  EXPECT_THAT(text.out, HasSubstr("locked   xo-vm-backups/"));
}

// A pids cgroup of the test's own that allows `max` tasks, as systemd's TasksMax does for the
// service; removed when the test ends (its one process has exited by then).
class PidsLimit {
 public:
  explicit PidsLimit(int max) {
    // cgroup v1's pids hierarchy, or the unified one where it has the pids controller.
    for (const char* base : {"/sys/fs/cgroup/pids", "/sys/fs/cgroup"}) {
      if (!std::filesystem::exists(std::string(base) + "/cgroup.procs")) continue;
      const std::string dir = absl::StrCat(base, "/xoi-test-", getpid());
      std::error_code ec;
      std::filesystem::create_directory(dir, ec);
      if (ec || !std::filesystem::exists(dir + "/pids.max")) {
        std::filesystem::remove(dir, ec);
        continue;
      }
      WriteFile(dir + "/pids.max", std::to_string(max));
      dir_ = dir;
      return;
    }
  }
  ~PidsLimit() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove(dir_, ec);
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// A service whose TasksMax leaves it one thread besides its own (the sanitizers' builds need that
// one: LeakSanitizer's at exit, ThreadSanitizer's from the start): with --jobs 8 most helpers are
// refused, and the run still locks every backup and says why it was slow instead of ending in
// std::terminate every minute.
TEST_F(OpsTest, AServiceRefusedThreadsStillLocksEveryBackupAndSaysWhy) {
  const std::set<std::string> expected = Generate({"--vms", "6", "--runs", "4", "--blocks", "300"});
  WriteConfig("7d");
  const PidsLimit limit(2);
  ASSERT_FALSE(limit.dir().empty()) << "no pids cgroup controller on this machine";
  const ProcessResult r = RunProcess({"sh", "-c", "echo $$ > \"$0\"/cgroup.procs && exec \"$@\"",
                                      limit.dir(), Runfile("reconciler/xo-immutable"), "run",
                                      "--config", config_, "--jobs", "8", "--report", "json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(ImmutablePaths(root_), expected);
  EXPECT_THAT(r.err, HasSubstr("warning: the system refused"));
  EXPECT_THAT(r.err, HasSubstr("TasksMax"));
  const json::value report = json::parse(r.out);
  const json::array& notices = report.at("notices").as_array();
  ASSERT_FALSE(notices.empty()) << r.out;
  EXPECT_THAT(std::string(notices.back().as_string()), HasSubstr("helper thread"));
  // Without the limit, nothing to say.
  const ProcessResult free = Run({"--jobs", "8"});
  EXPECT_EQ(free.exit_code, 0) << free.err;
  EXPECT_THAT(free.err, Not(HasSubstr("helper thread")));
}

}  // namespace
}  // namespace xoi
