#include "lib/report/junit.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/core/iso_time.h"
#include "lib/report/compliance.h"
#include "lib/report/escape.h"
#include "lib/report/text_report.h"

namespace xoi {
namespace {

// Attribute and text content: the five XML specials escaped; paths arrive C-escaped already, so
// no control character (illegal in XML 1.0) or invalid UTF-8 reaches the document.
std::string Xml(absl::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') {
          absl::StrAppendFormat(&out, "\\x%02x", static_cast<unsigned char>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

std::string Seconds(absl::Duration d) { return absl::StrFormat("%.3f", absl::ToDoubleSeconds(d)); }

}  // namespace

std::string FormatJunit(const RunReport& report, absl::string_view command) {
  std::string suites;
  int total = 0, failures = 0, errors = 0, skipped = 0;
  // JUnit's schema takes the time without a zone: UTC, with the "Z" dropped.
  std::string timestamp = IsoTime(report.started);
  timestamp.pop_back();
  const std::string host = Xml(report.hostname);
  for (const RemoteReport& r : report.remotes) {
    const std::string classname = Xml(absl::StrCat("xo-immutable.", r.id));
    std::string cases;
    int suite_tests = 0, suite_failures = 0, suite_errors = 0, suite_skipped = 0;
    if (r.state == RemoteState::kUnusable) {
      suite_tests = suite_errors = 1;
      absl::StrAppend(&cases, "    <testcase classname=\"", classname,
                      "\" name=\"remote can be protected\" time=\"", Seconds(r.elapsed),
                      "\">\n      <error message=\"", Xml(Printable(r.unusable_reason)),
                      "\" type=\"Unusable\">", Xml(Printable(r.unusable_reason)),
                      "</error>\n    </testcase>\n");
    } else if (r.state == RemoteState::kLocked) {
      suite_tests = suite_skipped = 1;
      absl::StrAppend(
          &cases, "    <testcase classname=\"", classname,
          "\" name=\"remote can be protected\" time=\"0.000\">\n      <skipped message=\"",
          Xml(Printable(r.unusable_reason)), "\"/>\n    </testcase>\n");
    } else {
      for (const CheckResult& check : ComplianceChecks(r, report.started)) {
        ++suite_tests;
        absl::StrAppend(&cases, "    <testcase classname=\"", classname, "\" name=\"",
                        Xml(check.description), "\" time=\"0.000\"");
        if (check.passed()) {
          cases += "/>\n";
          continue;
        }
        ++suite_failures;
        const std::string message = absl::StrCat(
            check.count(), " offending item", check.count() == 1 ? "" : "s", " (", check.id, ")");
        std::string listed;
        for (size_t i = 0; i < check.offenders.size() && i < kJunitMaxListed; ++i) {
          absl::StrAppend(&listed, PrintablePath(check.offenders[i]), "\n");
        }
        if (check.offenders.size() > kJunitMaxListed) {
          absl::StrAppend(&listed, "... and ", check.offenders.size() - kJunitMaxListed, " more\n");
        }
        if (check.unnamed > 0) {
          absl::StrAppend(&listed, "... and ", check.unnamed, " left for the next runs\n");
        }
        absl::StrAppend(&cases, ">\n      <failure message=\"", Xml(message), "\" type=\"",
                        Xml(check.id), "\">", Xml(listed), "</failure>\n    </testcase>\n");
      }
      if (r.counts.errors > 0) {
        ++suite_tests;
        ++suite_errors;
        std::string listed;
        for (size_t i = 0; i < r.errors.size() && i < kJunitMaxListed; ++i) {
          absl::StrAppend(&listed, PrintablePath(r.errors[i].path), ": ",
                          Printable(r.errors[i].message), "\n");
        }
        absl::StrAppend(
            &cases, "    <testcase classname=\"", classname,
            "\" name=\"every item could be handled\" time=\"0.000\">\n      <error message=\"",
            r.counts.errors, " errors\" type=\"ItemErrors\">", Xml(listed),
            "</error>\n    </testcase>\n");
      }
    }
    // The holds in force, one property each ("hold 3" = the line `status` and the text report
    // show), so that a CI server shows why expired backups stay locked.
    std::string properties;
    for (const HoldInForce& h : r.holds) {
      absl::StrAppend(&properties, "    <property name=\"hold ", h.id, "\" value=\"",
                      Xml(HoldLine(h)), "\"/>\n");
    }
    if (!properties.empty())
      properties = absl::StrCat("    <properties>\n", properties, "    </properties>\n");
    total += suite_tests;
    failures += suite_failures;
    errors += suite_errors;
    skipped += suite_skipped;
    absl::StrAppend(&suites, "  <testsuite name=\"", Xml(absl::StrCat(command, " ", r.id)),
                    "\" tests=\"", suite_tests, "\" failures=\"", suite_failures, "\" errors=\"",
                    suite_errors, "\" skipped=\"", suite_skipped, "\" time=\"", Seconds(r.elapsed),
                    "\" timestamp=\"", timestamp, "\" hostname=\"", host, "\">\n", properties,
                    cases, "  </testsuite>\n");
  }
  return absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"xo-immutable ", Xml(command),
      "\" tests=\"", total, "\" failures=\"", failures, "\" errors=\"", errors, "\">\n", suites,
      "</testsuites>\n");
}

}  // namespace xoi
