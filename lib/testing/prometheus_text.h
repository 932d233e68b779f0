// A strict parser of the Prometheus text exposition format (0.0.4), to validate what
// --metrics-file writes: HELP/TYPE lines before their family's samples, TYPE at most once per
// family, families not interleaved, metric and label names by the grammar, label values with only
// the three escapes, numeric values, no duplicate series, and a final newline.
#ifndef XOI_LIB_TESTING_PROMETHEUS_TEXT_H_
#define XOI_LIB_TESTING_PROMETHEUS_TEXT_H_

#include <map>
#include <string>
#include <vector>

namespace xoi::testing {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Returns "" and fills `samples` when `text` is valid, else a message naming the line.
std::string ParsePrometheusText(const std::string& text, std::vector<PromSample>* samples);

// The value of the sample `name` with exactly `labels`, or -1 when there is none.
double PromValue(const std::vector<PromSample>& samples, const std::string& name,
                 const std::map<std::string, std::string>& labels = {});

}  // namespace xoi::testing

#endif  // XOI_LIB_TESTING_PROMETHEUS_TEXT_H_
