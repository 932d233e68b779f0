#include "lib/core/glob_set.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace xoi {
namespace {

constexpr size_t kMaxExpansions = 4096;

absl::Status PatternError(absl::string_view pattern, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("glob \"", pattern, "\": ", why));
}

// Expands the first top-level {a,b,...} group of `pattern` recursively into `out`.
absl::Status ExpandBraces(absl::string_view pattern, absl::string_view original,
                          std::vector<std::string>* out) {
  const size_t open = pattern.find('{');
  if (open == absl::string_view::npos) {
    if (pattern.find('}') != absl::string_view::npos) {
      return PatternError(original, "unbalanced '}'");
    }
    if (out->size() >= kMaxExpansions) return PatternError(original, "too many alternatives");
    out->emplace_back(pattern);
    return absl::OkStatus();
  }
  int depth = 0;
  size_t close = absl::string_view::npos;
  std::vector<size_t> commas;
  for (size_t i = open; i < pattern.size(); ++i) {
    if (pattern[i] == '{') ++depth;
    if (pattern[i] == '}' && --depth == 0) {
      close = i;
      break;
    }
    if (pattern[i] == ',' && depth == 1) commas.push_back(i);
  }
  if (close == absl::string_view::npos) return PatternError(original, "unbalanced '{'");
  size_t begin = open + 1;
  commas.push_back(close);
  for (size_t end : commas) {
    const std::string alternative = absl::StrCat(
        pattern.substr(0, open), pattern.substr(begin, end - begin), pattern.substr(close + 1));
    if (auto status = ExpandBraces(alternative, original, out); !status.ok()) return status;
    begin = end + 1;
  }
  return absl::OkStatus();
}

}  // namespace

bool MatchSegment(absl::string_view segment, absl::string_view name) {
  // Iterative matcher with a single backtrack point: linear for patterns with one `*`, and never
  // exponential (the last `*` absorbs what earlier ones could not).
  size_t p = 0, n = 0, star = absl::string_view::npos, star_n = 0;
  while (n < name.size()) {
    if (p < segment.size() && (segment[p] == '?' || segment[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < segment.size() && segment[p] == '*') {
      star = p++;
      star_n = n;
    } else if (star != absl::string_view::npos) {
      p = star + 1;
      n = ++star_n;
    } else {
      return false;
    }
  }
  while (p < segment.size() && segment[p] == '*') ++p;
  return p == segment.size();
}

const std::vector<std::string>& GlobSet::DefaultPatterns() {
  static const auto* const kDefaults = new std::vector<std::string>{
      "xo-config-backups/*/*/{data,data.json,metadata.json}",
      "xo-pool-metadata-backups/*/*/*/{metadata.json,data}",
      "xo-vm-backups/*/*.json",
      "xo-vm-backups/*/*.xva",
      "xo-vm-backups/*/*.xva.checksum",
      "xo-vm-backups/*/vdis/*/*/*.vhd",
      "xo-vm-backups/*/vdis/*/*/data/*.vhd/",
  };
  return *kDefaults;
}

bool GlobSet::IsExcludedName(absl::string_view name) {
  return name.empty() || name[0] == '.' || absl::EndsWith(name, ".lock") || name == "cache.json.gz";
}

absl::StatusOr<GlobSet> GlobSet::Compile(absl::Span<const std::string> patterns) {
  GlobSet set;
  set.nodes_.emplace_back();
  for (const std::string& pattern : patterns) {
    std::vector<std::string> expanded;
    if (auto status = ExpandBraces(pattern, pattern, &expanded); !status.ok()) return status;
    for (const std::string& one : expanded) {
      if (auto status = set.Add(one, pattern); !status.ok()) return status;
    }
  }
  return set;
}

absl::Status GlobSet::Add(absl::string_view pattern, absl::string_view original) {
  if (pattern.empty()) return PatternError(original, "empty pattern");
  if (pattern[0] == '/') {
    return PatternError(original, "must be relative to the remote root (no leading '/')");
  }
  const bool tree = pattern.back() == '/';
  if (tree) pattern.remove_suffix(1);
  uint32_t node = 0;
  for (absl::string_view segment : absl::StrSplit(pattern, '/')) {
    if (segment.empty()) return PatternError(original, "empty path segment ('//')");
    if (segment == "." || segment == "..") {
      return PatternError(original, "'.' and '..' segments are not allowed");
    }
    if (segment[0] == '.') {
      return PatternError(original,
                          "a segment starting with '.' never matches (dotfiles are "
                          "XO's temporary files)");
    }
    if (absl::StrContains(segment, "**")) {
      return PatternError(original, "'**' is not supported: write each level with '*'");
    }
    if (segment.find_first_of("[]\\") != absl::string_view::npos) {
      return PatternError(original, "'[', ']' and '\\' are not supported");
    }
    const bool literal = segment.find_first_of("*?") == absl::string_view::npos;
    auto& edges = nodes_[node].edges;
    auto it = std::find_if(edges.begin(), edges.end(),
                           [&](const Edge& e) { return e.segment == segment; });
    if (it != edges.end()) {
      node = it->target;
      continue;
    }
    const auto next = static_cast<uint32_t>(nodes_.size());
    nodes_[node].edges.push_back(Edge{std::string(segment), literal, next});
    nodes_.emplace_back();
    node = next;
  }
  (tree ? nodes_[node].tree_item : nodes_[node].file_item) = true;
  patterns_.push_back(absl::StrCat(pattern, tree ? "/" : ""));
  return absl::OkStatus();
}

void GlobSet::Advance(const State& from, absl::string_view name, Step* step) const {
  step->next.clear();
  step->file_item = false;
  step->tree_item = false;
  if (IsExcludedName(name)) return;
  for (uint32_t node : from) {
    for (const Edge& edge : nodes_[node].edges) {
      if (edge.literal ? edge.segment != name : !MatchSegment(edge.segment, name)) continue;
      const Node& target = nodes_[edge.target];
      step->file_item |= target.file_item;
      step->tree_item |= target.tree_item;
      if (!target.edges.empty() &&
          std::find(step->next.begin(), step->next.end(), edge.target) == step->next.end()) {
        step->next.push_back(edge.target);
      }
    }
  }
}

bool GlobSet::LiteralChildren(const State& from, std::vector<std::string>* names) const {
  names->clear();
  for (uint32_t node : from) {
    for (const Edge& edge : nodes_[node].edges) {
      if (!edge.literal) return false;
      if (std::find(names->begin(), names->end(), edge.segment) == names->end()) {
        names->push_back(edge.segment);
      }
    }
  }
  return true;
}

}  // namespace xoi
