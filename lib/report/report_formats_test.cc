// The report formats CI servers and monitoring read: JUnit XML validated against the JUnit schema
// (xmllint), Prometheus text validated by a strict parser of the format, JSON by Boost.JSON.
#include <boost/json.hpp>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/report/compliance.h"
#include "lib/report/json_report.h"
#include "lib/report/junit.h"
#include "lib/report/log_lines.h"
#include "lib/report/metrics.h"
#include "lib/report/run_report.h"
#include "lib/report/text_report.h"
#include "lib/testing/prometheus_text.h"
#include "lib/testing/scratch.h"

namespace xoi {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::xoi::testing::ParsePrometheusText;
using ::xoi::testing::PromSample;
using ::xoi::testing::PromValue;

const absl::Time kNow = absl::FromUnixSeconds(1795800000);

ActionRecord Record(ActionKind kind, std::string path) {
  ActionRecord a{kind, std::move(path)};
  a.reason = "because";
  return a;
}

// Three remotes: one with every check failing (and odd names), one unusable, one locked.
RunReport SampleReport() {
  RunReport report;
  report.command = "verify";
  report.dry_run = true;
  report.started = kNow;
  RemoteReport bad;
  bad.id = "r1";
  bad.root = "/srv/r1";
  bad.counts.seen = 120;
  bad.counts.protected_ = 60;
  bad.counts.waiting = 2;
  for (int i = 0; i < 60; ++i) {
    bad.actions.push_back(
        Record(ActionKind::kProtect, absl::StrCat("xo-vm-backups/v/", i, ".xva")));
  }
  bad.actions.push_back(Record(ActionKind::kProtect, "xo-vm-backups/v/!<&\"'>\n\x01\xff.xva"));
  ActionRecord old = Record(ActionKind::kLift, "xo-vm-backups/v/old.xva");
  old.immutable = true;
  old.expires_at = kNow - absl::Hours(30);
  bad.actions.push_back(old);
  ActionRecord recent = Record(ActionKind::kLift, "xo-vm-backups/v/recent.xva");
  recent.immutable = true;
  recent.expires_at = kNow - absl::Hours(2);  // within the day of tolerance
  bad.actions.push_back(recent);
  bad.actions.push_back(Record(ActionKind::kIndex, "xo-vm-backups/v/daemon.json"));
  ActionRecord gone_locked = Record(ActionKind::kUnindex, "xo-vm-backups/v/gone-locked.xva");
  gone_locked.immutable = true;  // the record said it was locked
  bad.actions.push_back(gone_locked);
  bad.actions.push_back(Record(ActionKind::kUnindex, "xo-vm-backups/v/gone-lifted.xva"));
  bad.actions.push_back(Record(ActionKind::kWriteMarker, "immutability.json"));
  bad.actions.push_back(Record(ActionKind::kRefuse, "xo-vm-backups/v/fifo.xva"));
  bad.warnings.push_back(Warning{WarningKind::kMemberNotLockable, "xo-vm-backups/v/vdis/j/d/x/link",
                                 "2 hard links: cannot be locked"});
  report.remotes.push_back(bad);
  RemoteReport unusable;
  unusable.id = "r2";
  unusable.state = RemoteState::kUnusable;
  unusable.unusable_reason = "root missing or unreadable: open /srv/r2: No such file";
  report.remotes.push_back(unusable);
  RemoteReport locked;
  locked.id = "r3";
  locked.state = RemoteState::kLocked;
  locked.unusable_reason = "another xo-immutable run holds /var/lib/x/r3/.lock";
  report.remotes.push_back(locked);
  return report;
}

TEST(ComplianceTest, EachCheckFindsItsOffenders) {
  const RunReport report = SampleReport();
  const std::vector<CheckResult> checks = ComplianceChecks(report.remotes[0], kNow);
  ASSERT_EQ(checks.size(), 5u);
  EXPECT_EQ(checks[0].id, "finished-locked");
  EXPECT_EQ(checks[0].offenders.size(), 61u);
  EXPECT_EQ(checks[1].id, "expired-unlocked");
  EXPECT_EQ(checks[1].offenders, std::vector<std::string>{"xo-vm-backups/v/old.xva"});
  EXPECT_EQ(checks[2].id, "index-agrees");
  EXPECT_EQ(checks[2].offenders, (std::vector<std::string>{"xo-vm-backups/v/daemon.json",
                                                           "xo-vm-backups/v/gone-locked.xva"}));
  EXPECT_EQ(checks[3].id, "immutability-json");
  EXPECT_EQ(checks[3].offenders, std::vector<std::string>{"immutability.json"});
  EXPECT_EQ(checks[4].id, "nothing-refused");
  EXPECT_EQ(checks[4].offenders, (std::vector<std::string>{"xo-vm-backups/v/fifo.xva",
                                                           "xo-vm-backups/v/vdis/j/d/x/link"}));
  EXPECT_EQ(report.ExitCode(), kExitUnusable);
}

TEST(ComplianceTest, DoneActionsOfARealRunAreNotOffenders) {
  RemoteReport r;
  r.id = "r";
  ActionRecord done = Record(ActionKind::kProtect, "a.xva");
  done.executed = true;
  r.actions.push_back(done);
  ActionRecord writer = Record(ActionKind::kProtect, "b.xva");
  writer.executed = true;
  writer.outcome = Outcome::kWaiting;  // open for writing: not finished
  r.actions.push_back(writer);
  ActionRecord failed = Record(ActionKind::kProtect, "c.xva");
  failed.executed = true;
  failed.outcome = Outcome::kFailed;
  r.actions.push_back(failed);
  // Finished long ago and still held open by a writer: no longer "not finished yet".
  ActionRecord held = Record(ActionKind::kProtect, "d.xva");
  held.executed = true;
  held.outcome = Outcome::kWaiting;
  held.overdue = true;
  r.actions.push_back(held);
  const std::vector<CheckResult> checks = ComplianceChecks(r, kNow);
  EXPECT_EQ(checks[0].offenders, (std::vector<std::string>{"c.xva", "d.xva"}));
}

TEST(JunitTest, ValidatesAgainstTheJunitSchema) {
  testing::ScratchDir dir;
  const std::string xml = dir.path() + "/report.xml";
  testing::WriteFile(xml, FormatJunit(SampleReport(), "verify"));
  const testing::ProcessResult lint = testing::RunProcess(
      {"xmllint", "--noout", "--schema", testing::Runfile("testdata/junit.xsd"), xml});
  EXPECT_EQ(lint.exit_code, 0) << lint.err << testing::ReadFile(xml);
}

TEST(JunitTest, OneSuitePerRemoteOneCasePerCheckFailuresCapped) {
  const std::string xml = FormatJunit(SampleReport(), "verify");
  EXPECT_THAT(xml, HasSubstr("<testsuite name=\"verify r1\" tests=\"5\" failures=\"5\""));
  EXPECT_THAT(xml, HasSubstr("61 offending items (finished-locked)"));
  EXPECT_THAT(xml, HasSubstr("... and 11 more"));  // 61 offenders, 50 listed
  // Escaped for one line of text, then XML-escaped.
  EXPECT_THAT(xml, HasSubstr("v/!&lt;&amp;&quot;&apos;&gt;\\n\\x01\\xff.xva"));
  EXPECT_THAT(xml, ::testing::Not(HasSubstr("\x01")));
  EXPECT_THAT(xml,
              HasSubstr("<testsuite name=\"verify r2\" tests=\"1\" failures=\"0\" errors=\"1\""));
  EXPECT_THAT(xml,
              HasSubstr("<testsuite name=\"verify r3\" tests=\"1\" failures=\"0\" errors=\"0\" "
                        "skipped=\"1\""));
}

TEST(MetricsTest, IsValidPrometheusTextWithTheRightValues) {
  RunReport report = SampleReport();
  report.time_shift = "the wall clock moved";
  report.remotes[0].lifts_held = "time shift";
  report.remotes[0].elapsed = absl::Milliseconds(1500);
  const std::string text = FormatMetrics(report, {{"r1", kNow - absl::Hours(1)}});
  std::vector<PromSample> samples;
  ASSERT_EQ(ParsePrometheusText(text, &samples), "") << text;
  EXPECT_EQ(PromValue(samples, "xo_immutable_items", {{"remote", "r1"}, {"state", "protected"}}),
            60);
  EXPECT_EQ(PromValue(samples, "xo_immutable_items", {{"remote", "r1"}, {"state", "waiting"}}), 2);
  EXPECT_EQ(PromValue(samples, "xo_immutable_remote_usable", {{"remote", "r1"}}), 1);
  EXPECT_EQ(PromValue(samples, "xo_immutable_remote_usable", {{"remote", "r2"}}), 0);
  EXPECT_EQ(PromValue(samples, "xo_immutable_lifts_held", {{"remote", "r1"}}), 1);
  EXPECT_EQ(PromValue(samples, "xo_immutable_time_shift"), 1);
  EXPECT_DOUBLE_EQ(PromValue(samples, "xo_immutable_run_duration_seconds", {{"remote", "r1"}}),
                   1.5);
  EXPECT_EQ(PromValue(samples, "xo_immutable_last_success_timestamp_seconds", {{"remote", "r1"}}),
            absl::ToUnixSeconds(kNow) - 3600);
  EXPECT_EQ(PromValue(samples, "xo_immutable_last_success_timestamp_seconds", {{"remote", "r2"}}),
            -1);
}

TEST(MetricsTest, TheParserRejectsWhatPrometheusRejects) {
  std::vector<PromSample> s;
  EXPECT_THAT(ParsePrometheusText("a 1", &s), HasSubstr("newline"));
  EXPECT_THAT(ParsePrometheusText("a{x=\"\\t\"} 1\n", &s), HasSubstr("escape"));
  EXPECT_THAT(ParsePrometheusText("a 1\na 2\n", &s), HasSubstr("duplicate"));
  EXPECT_THAT(ParsePrometheusText("# TYPE a gauge\n# TYPE a gauge\n", &s),
              HasSubstr("second TYPE"));
  EXPECT_THAT(ParsePrometheusText("a 1\nb 1\na{x=\"y\"} 1\n", &s), HasSubstr("grouped"));
  EXPECT_THAT(ParsePrometheusText("# TYPE a gauges\n", &s), HasSubstr("unknown type"));
  EXPECT_THAT(ParsePrometheusText("1a 1\n", &s), HasSubstr("bad metric name"));
  EXPECT_THAT(ParsePrometheusText("a one\n", &s), HasSubstr("bad value"));
  EXPECT_EQ(
      ParsePrometheusText("# HELP a x\n# TYPE a gauge\na{b=\"q\\\"\\n\\\\\"} -1.5e3 17\n", &s), "");
}

TEST(JsonReportTest, IsValidJsonWithChecksAndExactOddNames) {
  const std::string text = FormatJson(SampleReport());
  boost::system::error_code ec;
  const boost::json::value doc = boost::json::parse(text, ec);
  ASSERT_FALSE(ec) << ec.message();
  const auto& r1 = doc.at("remotes").at(0);
  EXPECT_EQ(r1.at("checks").as_array().size(), 5u);
  EXPECT_FALSE(r1.at("checks").at(0).at("passed").as_bool());
  bool odd = false;
  for (const auto& a : r1.at("actions").as_array()) odd |= a.as_object().contains("path_base64");
  EXPECT_TRUE(odd);
  // The offenders of a check keep their exact bytes too, beside the list and in its order.
  const auto& finished = r1.at("checks").at(0).as_object();
  ASSERT_TRUE(finished.contains("offenders_base64")) << text;
  std::set<std::string> exact;
  for (const auto& b : finished.at("offenders_base64").as_array()) {
    std::string bytes;
    ASSERT_TRUE(absl::Base64Unescape(std::string(b.as_string()), &bytes));
    exact.insert(bytes);
  }
  EXPECT_EQ(exact.size(), finished.at("offenders").as_array().size());
  EXPECT_TRUE(exact.count("xo-vm-backups/v/!<&\"'>\n\x01\xff.xva"));
  EXPECT_FALSE(r1.at("checks").at(1).as_object().contains("offenders_base64"))
      << "only where a path is not UTF-8";
  EXPECT_THAT(r1.at("actions").as_array(), ::testing::Not(IsEmpty()));
}

// An error on the remote as a whole (a damaged hold file) has no path: its line must not read
// "r1: error: : ...".
TEST(LogLinesTest, AnErrorWithoutAPathNamesNoEmptyPath) {
  RemoteReport r;
  r.id = "r1";
  r.errors.push_back(Problem{"", "/srv/index/r1/holds: hold file damaged"});
  r.errors.push_back(Problem{"vm/a.xva", "EIO"});
  std::vector<std::string> errors;
  ForEachLogLine(r, "", [&](const LogLine& line) {
    if (line.priority == Priority::kErr) errors.push_back(line.text);
  });
  EXPECT_THAT(errors, ::testing::ElementsAre("r1: error: /srv/index/r1/holds: hold file damaged",
                                             "r1: error: vm/a.xva: EIO"));
}

// The index's migration notice says what was done; a warning says something needs a look.
TEST(LogLinesTest, TheMigrationIsANoticeAndAWarningAWarning) {
  RemoteReport r;
  r.id = "r1";
  r.warnings.push_back(Warning{WarningKind::kIndexNotice, "", "index /i/r1: 2 entries migrated"});
  r.warnings.push_back(Warning{WarningKind::kIndexedMissing, "vm/a.xva", "indexed item missing"});
  std::vector<std::pair<Priority, std::string>> lines;
  ForEachLogLine(r, "", [&](const LogLine& line) {
    if (line.text.find("index") != std::string::npos) lines.emplace_back(line.priority, line.text);
  });
  EXPECT_THAT(lines,
              ::testing::ElementsAre(
                  std::pair(Priority::kNotice, "r1: notice: index /i/r1: 2 entries migrated"),
                  std::pair(Priority::kWarning, "r1: warning: vm/a.xva: indexed item missing")));
}

// The summary says what changed nothing: verify is not a "dry run" to whoever reads the journal;
// entries deferred to the next run are said too.
TEST(LogLinesTest, TheSummarySaysWhatChangedNothingAndWhatWasDeferred) {
  RemoteReport r;
  r.id = "r1";
  r.counts.seen = 3;
  r.counts.deferred = 2;
  for (const auto& [unchanged_by, want] :
       std::vector<std::pair<std::string, std::string>>{{"", "r1: 3 seen"},
                                                        {"dry run", "r1: dry run: 3 seen"},
                                                        {"verify", "r1: verify: 3 seen"}}) {
    std::vector<std::string> lines;
    ForEachLogLine(r, unchanged_by, [&](const LogLine& line) { lines.push_back(line.text); });
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_THAT(lines[0], HasSubstr("2 entries more than one run takes on (maxEntriesPerRun)"));
    EXPECT_THAT(lines[1], ::testing::StartsWith(want));
  }
}

// A lift or a protection that took effect but has something to say (members left as they are,
// a mutable folder found inside a locked tree) was silent in the text report and the journal.
TEST(TextReportTest, ADoneEntryWithANoteIsShown) {
  RunReport report;
  RemoteReport r;
  r.id = "r1";
  ActionRecord quiet = Record(ActionKind::kProtect, "vm/a.xva");
  quiet.executed = true;
  r.actions.push_back(quiet);
  ActionRecord noted = Record(ActionKind::kLift, "vm/t.vhd");
  noted.tree = true;
  noted.executed = true;
  noted.detail = "mutable folders inside it (tampering?) were not entered: vm/t.vhd/x";
  r.actions.push_back(noted);
  report.remotes.push_back(r);
  const std::string text = FormatText(report);
  EXPECT_THAT(text, HasSubstr("lift vm/t.vhd/: because -> done: mutable folders inside it"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("vm/a.xva")));
  std::vector<LogLine> lines;
  ForEachLogLine(r, "", [&](const LogLine& line) { lines.push_back(line); });
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[0].priority, Priority::kInfo);
  EXPECT_EQ(lines[1].priority, Priority::kWarning);
  EXPECT_THAT(lines[1].text, HasSubstr("because; mutable folders inside it (tampering?)"));
}

// A tripped guard held back 12,000 lifts, and the text report listed each on its own line, every
// minute: the first ones are listed, then how many more for the same reason.
TEST(TextReportTest, ManyEntriesForOneReasonAreCounted) {
  RunReport report;
  RemoteReport r;
  r.id = "r1";
  for (int i = 0; i < 30; ++i) {
    ActionRecord held = Record(ActionKind::kWait, absl::StrCat("vm/", 100 + i, ".xva"));
    held.reason = "lift held back: mass-lift guard";
    r.actions.push_back(held);
  }
  r.actions.push_back(Record(ActionKind::kWait, "vm/other.xva"));
  report.remotes.push_back(r);
  const std::string text = FormatText(report);
  EXPECT_THAT(text, HasSubstr("wait vm/119.xva: lift held back"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("vm/120.xva")));
  EXPECT_THAT(text, HasSubstr("  ... and 10 more wait entries for the same reason\n"));
  EXPECT_THAT(text, HasSubstr("wait vm/other.xva: because"));
}

// Protections the run's budget left for later runs are finished backups not locked: every report
// counts them, though it cannot name them (verify judged only the slice it looked at).
TEST(ComplianceTest, ProtectionsLeftForLaterRunsFailTheCheckAndAreCounted) {
  RunReport report;
  report.command = "verify";
  report.dry_run = true;
  report.started = kNow;
  RemoteReport r;
  r.id = "r1";
  r.actions.push_back(Record(ActionKind::kProtect, "vm/a.xva"));
  r.counts.deferred = 2500;
  r.counts.deferred_protections = 2000;
  report.remotes.push_back(r);
  const std::vector<CheckResult> checks = ComplianceChecks(report.remotes[0], kNow);
  EXPECT_FALSE(checks[0].passed());
  EXPECT_EQ(checks[0].count(), 2001u);
  EXPECT_THAT(FormatText(report), HasSubstr("FAIL every finished backup is immutable (2001 "));
  EXPECT_THAT(FormatMetrics(report, {}),
              HasSubstr("xo_immutable_items{remote=\"r1\",state=\"unprotected\"} 2001"));
  EXPECT_THAT(FormatJson(report), HasSubstr("\"unnamedOffenders\":2000"));
  EXPECT_THAT(FormatJunit(report, "verify"), HasSubstr("2001 offending items"));
  EXPECT_EQ(report.ExitCode(), 1);
}

}  // namespace
}  // namespace xoi
