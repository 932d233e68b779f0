#include "lib/testing/prometheus_text.h"

#include <cctype>
#include <cstdlib>
#include <set>

namespace xoi::testing {
namespace {

bool IsNameStart(char c, bool metric) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (metric && c == ':');
}
bool IsNameChar(char c, bool metric) {
  return IsNameStart(c, metric) || std::isdigit(static_cast<unsigned char>(c));
}

// Reads a name at `pos`; empty when there is none.
std::string Name(const std::string& line, size_t* pos, bool metric) {
  const size_t start = *pos;
  if (*pos >= line.size() || !IsNameStart(line[*pos], metric)) return "";
  while (*pos < line.size() && IsNameChar(line[*pos], metric)) ++*pos;
  return line.substr(start, *pos - start);
}

bool ParseValue(const std::string& text, double* value) {
  if (text == "NaN" || text == "+Inf" || text == "-Inf") return true;
  char* end = nullptr;
  *value = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size();
}

// The family a sample belongs to (histogram/summary suffixes are not used by us: the name).
std::string Family(const std::string& name) { return name; }

}  // namespace

std::string ParsePrometheusText(const std::string& text, std::vector<PromSample>* samples) {
  if (!text.empty() && text.back() != '\n') return "the last line does not end with a newline";
  std::set<std::string> typed, finished, series;
  std::string current;
  size_t line_no = 0;
  for (size_t start = 0; start < text.size();) {
    const size_t nl = text.find('\n', start);
    const std::string line = text.substr(start, nl - start);
    start = nl + 1;
    ++line_no;
    const std::string where = "line " + std::to_string(line_no) + ": ";
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
        size_t pos = 7;
        const std::string name = Name(line, &pos, true);
        if (name.empty()) return where + "bad metric name in HELP/TYPE";
        if (pos < line.size() && line[pos] != ' ') return where + "bad metric name";
        if (finished.count(name) || (current == name && samples->size() && line[2] == 'T')) {
          return where + "HELP/TYPE after the samples of " + name;
        }
        if (line[2] == 'T') {
          const std::string type = pos < line.size() ? line.substr(pos + 1) : "";
          if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" &&
              type != "untyped") {
            return where + "unknown type \"" + type + "\"";
          }
          if (!typed.insert(name).second) return where + "second TYPE for " + name;
        }
      }
      continue;
    }
    PromSample sample;
    size_t pos = 0;
    sample.name = Name(line, &pos, true);
    if (sample.name.empty()) return where + "bad metric name";
    if (pos < line.size() && line[pos] == '{') {
      ++pos;
      while (pos < line.size() && line[pos] != '}') {
        const std::string label = Name(line, &pos, false);
        if (label.empty() || pos + 1 >= line.size() || line[pos] != '=' || line[pos + 1] != '"') {
          return where + "bad label";
        }
        pos += 2;
        std::string value;
        for (; pos < line.size() && line[pos] != '"'; ++pos) {
          if (line[pos] == '\\') {
            if (++pos >= line.size()) return where + "dangling escape";
            if (line[pos] == 'n')
              value += '\n';
            else if (line[pos] == '\\' || line[pos] == '"')
              value += line[pos];
            else
              return where + "bad escape in a label value";
          } else {
            value += line[pos];
          }
        }
        if (pos >= line.size()) return where + "unterminated label value";
        ++pos;
        if (!sample.labels.emplace(label, value).second) return where + "label twice: " + label;
        if (pos < line.size() && line[pos] == ',') ++pos;
      }
      if (pos >= line.size()) return where + "unterminated label set";
      ++pos;
    }
    if (pos >= line.size() || line[pos] != ' ') return where + "no value";
    const std::string rest = line.substr(pos + 1);
    const size_t space = rest.find(' ');
    if (!ParseValue(rest.substr(0, space), &sample.value)) return where + "bad value";
    if (space != std::string::npos) {
      const std::string ts = rest.substr(space + 1);
      if (ts.empty() || ts.find_first_not_of("-0123456789") != std::string::npos) {
        return where + "bad timestamp";
      }
    }
    const std::string family = Family(sample.name);
    if (family != current) {
      if (finished.count(family)) return where + "samples of " + family + " are not grouped";
      if (!current.empty()) finished.insert(current);
      current = family;
    }
    std::string key = sample.name;
    for (const auto& [k, v] : sample.labels) key += "\x01" + k + "=" + v;
    if (!series.insert(key).second) return where + "duplicate series " + sample.name;
    samples->push_back(std::move(sample));
  }
  return "";
}

double PromValue(const std::vector<PromSample>& samples, const std::string& name,
                 const std::map<std::string, std::string>& labels) {
  for (const PromSample& s : samples) {
    if (s.name == name && s.labels == labels) return s.value;
  }
  return -1;
}

}  // namespace xoi::testing
