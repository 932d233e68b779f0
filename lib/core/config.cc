#include "lib/core/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <cmath>
#include <set>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "lib/core/duration.h"
#include "lib/core/glob_set.h"
#include "lib/core/status.h"

namespace xoi {
namespace {

namespace json = boost::json;

// Builds errors that all read "<file>: <key>: <what is wrong>".
class Errors {
 public:
  explicit Errors(absl::string_view source) : source_(source) {}
  const std::string& source() const { return source_; }
  absl::Status At(absl::string_view key, absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": ", key, ": ", what));
  }

 private:
  std::string source_;
};

absl::StatusOr<std::string> NormalisedAbsolutePath(const json::value& v, absl::string_view key,
                                                   const Errors& errors) {
  if (!v.is_string()) return errors.At(key, "must be a string (an absolute path)");
  const absl::string_view path(v.get_string().data(), v.get_string().size());
  if (path.empty() || path[0] != '/') return errors.At(key, "must be an absolute path");
  if (path.find('\0') != absl::string_view::npos) return errors.At(key, "contains a NUL byte");
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (part == "." || part == "..") {
      return errors.At(key, absl::StrCat("\"", path, "\" must not contain '.' or '..'"));
    }
    parts.push_back(part);
  }
  return absl::StrCat("/", absl::StrJoin(parts, "/"));
}

absl::StatusOr<absl::Duration> DurationValue(const json::value& v, absl::string_view key,
                                             const Errors& errors) {
  if (v.is_int64() || v.is_uint64() || v.is_double()) {
    const double ms = v.to_number<double>();
    if (ms < 0) return errors.At(key, "must not be negative");
    // A bare number is milliseconds, as in `ms`. Fixed notation: StrCat's 6-digit "%g" would
    // write 86400000 as "8.64e+07", which is no duration.
    auto d = ParseDuration(absl::StrFormat("%.3f", ms));
    if (!d.ok()) return errors.At(key, d.status().message());
    return d;
  }
  if (!v.is_string()) return errors.At(key, "must be a duration string such as \"14d\"");
  auto d = ParseDuration(absl::string_view(v.get_string().data(), v.get_string().size()));
  if (!d.ok()) return errors.At(key, d.status().message());
  return d;
}

// TOML documents are validated by the same code as JSON ones: TOML tables become JSON objects, and
// dates and times (which no key takes) become strings, so that they are reported as wrong types.
json::value TomlToJson(const toml::node& node) {
  if (const toml::table* table = node.as_table()) {
    json::object object;
    for (const auto& [key, value] : *table) {
      object[json::string_view(key.str().data(), key.str().size())] = TomlToJson(value);
    }
    return object;
  }
  if (const toml::array* array = node.as_array()) {
    json::array out;
    for (const toml::node& element : *array) out.push_back(TomlToJson(element));
    return out;
  }
  if (const auto* v = node.as_string()) return json::value(v->get());
  if (const auto* v = node.as_integer()) return json::value(v->get());
  if (const auto* v = node.as_floating_point()) return json::value(v->get());
  if (const auto* v = node.as_boolean()) return json::value(v->get());
  return json::value(node.is_date() ? "(a TOML date)" : "(a TOML date or time)");
}

bool IsValidRemoteId(absl::string_view id) {
  if (id.empty() || id.size() > 128 || !absl::ascii_isalnum(id[0])) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.';
  });
}

absl::StatusOr<RemoteConfig> ParseRemote(absl::string_view id, const json::value& v,
                                         const Errors& errors, std::vector<std::string>* notices) {
  const std::string prefix = absl::StrCat("remotes.", id);
  if (!IsValidRemoteId(id)) {
    return errors.At(prefix,
                     "a remote id must start with a letter or digit and hold only "
                     "letters, digits, '.', '-' and '_' (it names a folder)");
  }
  if (!v.is_object()) return errors.At(prefix, "must be an object");
  RemoteConfig remote;
  remote.id = std::string(id);
  bool has_root = false, has_duration = false, has_paths = false;
  for (const auto& [json_key, value] : v.get_object()) {
    const absl::string_view key(json_key.data(), json_key.size());
    const std::string where = absl::StrCat(prefix, ".", key);
    if (key == "root") {
      XOI_ASSIGN_OR_RETURN(remote.root, NormalisedAbsolutePath(value, where, errors));
      if (std::string why = SystemFolderReason(remote.root); !why.empty()) {
        return errors.At(where, why);
      }
      has_root = true;
    } else if (key == "immutabilityDuration") {
      XOI_ASSIGN_OR_RETURN(remote.immutability_duration, DurationValue(value, where, errors));
      // Zero releases the whole remote at the next run: only an explicit "0" or 0 may say so, never
      // a value that merely rounds to zero milliseconds ("0.5", "0.4ms").
      const bool written_zero = (value.is_string() && value.get_string() == "0") ||
                                (value.is_int64() && value.get_int64() == 0) ||
                                (value.is_uint64() && value.get_uint64() == 0);
      if (!written_zero && remote.immutability_duration < absl::Hours(24)) {
        return errors.At(where,
                         "must be at least 1 day (\"1d\"), or exactly \"0\" to lift everything");
      }
      has_duration = true;
    } else if (key == "settle") {
      XOI_ASSIGN_OR_RETURN(remote.settle, DurationValue(value, where, errors));
    } else if (key == "orphanGrace") {
      XOI_ASSIGN_OR_RETURN(remote.orphan_grace, DurationValue(value, where, errors));
    } else if (key == "paths") {
      if (!value.is_array()) return errors.At(where, "must be an array of glob strings");
      for (const json::value& p : value.get_array()) {
        if (!p.is_string()) return errors.At(where, "every entry must be a string");
        remote.paths.emplace_back(p.get_string().data(), p.get_string().size());
      }
      if (remote.paths.empty()) return errors.At(where, "must hold at least one glob");
      if (auto set = GlobSet::Compile(remote.paths); !set.ok()) {
        return errors.At(where, set.status().message());
      }
      has_paths = true;
    } else if (key == "indexPath") {
      // XO's daemon's own key, with its meaning: where it kept this remote's index, which a run
      // reads once to import what is still locked (lib/fs/xo_daemon.h). Ours is the top level's.
      XOI_ASSIGN_OR_RETURN(remote.xo_daemon_index, NormalisedAbsolutePath(value, where, errors));
    } else if (key == "rebuildIndexOnStart") {
      notices->push_back(absl::StrCat(errors.source(), ": ", where,
                                      " is an option of XO's daemon, ignored: every run repairs "
                                      "the index"));
    } else {
      return errors.At(where,
                       "unknown key (expected root, immutabilityDuration, settle, "
                       "orphanGrace, paths, indexPath)");
    }
  }
  if (!has_root) return errors.At(absl::StrCat(prefix, ".root"), "is required");
  if (!has_duration) {
    return errors.At(absl::StrCat(prefix, ".immutabilityDuration"), "is required");
  }
  if (!has_paths) remote.paths = GlobSet::DefaultPatterns();
  return remote;
}

}  // namespace

bool IsSameOrBelow(absl::string_view path, absl::string_view dir) {
  return path == dir || dir == "/" || absl::StartsWith(path, absl::StrCat(dir, "/"));
}

std::string SystemFolderReason(absl::string_view path) {
  if (path == "/") return "the filesystem root cannot be a remote";
  for (absl::string_view dir : {"/etc", "/usr", "/boot", "/proc", "/sys", "/dev", "/run", "/bin",
                                "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
    if (IsSameOrBelow(path, dir)) {
      return absl::StrCat(path, " is a system folder",
                          path == dir ? "" : absl::StrCat(" (below ", dir, ")"),
                          ": it cannot be a remote");
    }
  }
  for (absl::string_view dir : {"/var", "/home", "/root"}) {
    if (path == dir) return absl::StrCat(path, " is a system folder: it cannot be a remote");
  }
  return "";
}

namespace {

// Finds the first key given twice in one object, which json::parse takes silently (the last one
// wins): two "root"s or two remotes of one id are a mistake to be named, not a choice to be made.
// The handler sees the keys decoded, so that "root" and "\u0072oot" are the same key.
class DuplicateKeyFinder {
 public:
  static constexpr size_t max_object_size = size_t(-1);
  static constexpr size_t max_array_size = size_t(-1);
  static constexpr size_t max_key_size = size_t(-1);
  static constexpr size_t max_string_size = size_t(-1);

  // The dotted path of the first key given twice, or "" when there is none.
  const std::string& duplicate() const { return duplicate_; }

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) {
    frames_.push_back(Frame{});
    return true;
  }
  bool on_object_end(size_t, boost::system::error_code&) {
    frames_.pop_back();
    return true;
  }
  bool on_array_begin(boost::system::error_code&) { return true; }
  bool on_array_end(size_t, boost::system::error_code&) { return true; }
  bool on_key_part(json::string_view s, size_t, boost::system::error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, size_t, boost::system::error_code& ec) {
    key_.append(s.data(), s.size());
    Frame& frame = frames_.back();
    if (!frame.keys.insert(key_).second) {
      std::vector<absl::string_view> path;
      for (const Frame& f : frames_) {
        if (&f != &frame) path.push_back(f.last);
      }
      path.push_back(key_);
      duplicate_ = absl::StrJoin(path, ".");
      ec = make_error_code(json::error::extra_data);  // stops the parse; the caller names it
      return false;
    }
    frame.last = std::move(key_);
    key_.clear();
    return true;
  }
  bool on_string_part(json::string_view, size_t, boost::system::error_code&) { return true; }
  bool on_string(json::string_view, size_t, boost::system::error_code&) { return true; }
  bool on_number_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(int64_t, json::string_view, boost::system::error_code&) { return true; }
  bool on_uint64(uint64_t, json::string_view, boost::system::error_code&) { return true; }
  bool on_double(double, json::string_view, boost::system::error_code&) { return true; }
  bool on_bool(bool, boost::system::error_code&) { return true; }
  bool on_null(boost::system::error_code&) { return true; }
  bool on_comment_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(json::string_view, boost::system::error_code&) { return true; }

 private:
  struct Frame {
    std::set<std::string> keys;
    std::string last;  // the key whose value is being read
  };
  std::vector<Frame> frames_;
  std::string key_;
  std::string duplicate_;
};

std::string FirstDuplicateKey(absl::string_view text, const json::parse_options& options) {
  json::basic_parser<DuplicateKeyFinder> parser(options);
  boost::system::error_code ec;
  parser.write_some(false, text.data(), text.size(), ec);
  return parser.handler().duplicate();
}

}  // namespace

// Validates a parsed document, whichever format it came from.
absl::StatusOr<Config> ConfigFromValue(const boost::json::value& doc, absl::string_view source,
                                       const IndexPathDefault& index_default);

absl::StatusOr<Config> ParseConfig(absl::string_view text, absl::string_view source,
                                   const IndexPathDefault& index_default) {
  const Errors errors(source);
  boost::system::error_code ec;
  json::parse_options options;
  options.allow_comments = true;  // so that the sample configuration can explain itself
  options.allow_trailing_commas = true;
  json::value doc =
      json::parse(json::string_view(text.data(), text.size()), ec, json::storage_ptr(), options);
  if (ec) return errors.At("(document)", absl::StrCat("not valid JSON: ", ec.message()));
  if (std::string key = FirstDuplicateKey(text, options); !key.empty()) {
    return errors.At(key, "given twice (each key may appear once)");
  }
  return ConfigFromValue(doc, source, index_default);
}

absl::StatusOr<Config> ParseTomlConfig(absl::string_view text, absl::string_view source,
                                       const IndexPathDefault& index_default) {
  const Errors errors(source);
  try {
    const toml::table table = toml::parse(std::string_view(text.data(), text.size()),
                                          std::string_view(source.data(), source.size()));
    return ConfigFromValue(TomlToJson(table), source, index_default);
  } catch (const toml::parse_error& e) {
    return errors.At("(document)",
                     absl::StrCat("not valid TOML: ", std::string(e.description()), " (line ",
                                  static_cast<uint64_t>(e.source().begin.line), ", column ",
                                  static_cast<uint64_t>(e.source().begin.column), ")"));
  }
}

absl::StatusOr<Config> ConfigFromValue(const boost::json::value& doc, absl::string_view source,
                                       const IndexPathDefault& index_default) {
  const Errors errors(source);
  if (!doc.is_object()) {
    return errors.At("(document)", "must be a JSON object (or, in TOML, a table)");
  }
  Config config;
  config.source = std::string(source);
  bool has_remotes = false, has_index_path = false;
  for (const auto& [json_key, value] : doc.get_object()) {
    const absl::string_view key(json_key.data(), json_key.size());
    if (key == "indexPath") {
      XOI_ASSIGN_OR_RETURN(config.index_path, NormalisedAbsolutePath(value, key, errors));
      has_index_path = true;
    } else if (key == "remotes") {
      if (!value.is_object()) return errors.At(key, "must be an object of remotes by id");
      for (const auto& [id, remote] : value.get_object()) {
        XOI_ASSIGN_OR_RETURN(
            RemoteConfig parsed,
            ParseRemote(absl::string_view(id.data(), id.size()), remote, errors, &config.notices));
        config.remotes.push_back(std::move(parsed));
      }
      has_remotes = true;
    } else if (key == "timeShiftThreshold") {
      XOI_ASSIGN_OR_RETURN(config.time_shift_threshold, DurationValue(value, key, errors));
      if (config.time_shift_threshold < absl::Hours(1)) {
        return errors.At(key, "must be at least 1h (NTP corrections and suspends move the clock)");
      }
    } else if (key == "maxLiftFraction") {
      if (!value.is_number() || value.to_number<double>() <= 0 || value.to_number<double>() > 1) {
        return errors.At(key, "must be a number above 0 and at most 1 (e.g. 0.5)");
      }
      config.max_lift_fraction = value.to_number<double>();
    } else if (key == "maxEntriesPerRun") {
      const bool whole =
          value.is_int64() || value.is_uint64() ||
          (value.is_double() && std::floor(value.get_double()) == value.get_double());
      if (!whole || value.to_number<double>() < 1 || value.to_number<double>() > 1e9) {
        return errors.At(key, absl::StrCat("must be a whole number from 1 to 1000000000 (e.g. ",
                                           kDefaultMaxEntriesPerRun, ")"));
      }
      config.max_entries_per_run = static_cast<uint64_t>(value.to_number<double>());
    } else if (key == "liftEvery" || key == "rebuildIndexOnStart") {
      config.notices.push_back(absl::StrCat(
          source, ": ", key, " is an option of XO's daemon, ignored: ",
          key == "liftEvery" ? "every run lifts what has expired" : "every run repairs the index"));
    } else {
      return errors.At(key,
                       "unknown key (expected indexPath, remotes, timeShiftThreshold, "
                       "maxLiftFraction, maxEntriesPerRun)");
    }
  }
  if (!has_remotes || config.remotes.empty()) {
    return errors.At("remotes", "at least one remote is required");
  }
  if (!has_index_path) {
    config.index_path = index_default.path;
    config.notices.push_back(absl::StrCat(
        source, ": indexPath is not set, using ", config.index_path, " (", index_default.origin,
        "); set it, so that manual runs and the timer share one index and one lock"));
  }
  std::sort(config.remotes.begin(), config.remotes.end(),
            [](const RemoteConfig& a, const RemoteConfig& b) { return a.id < b.id; });
  for (size_t i = 0; i < config.remotes.size(); ++i) {
    const RemoteConfig& a = config.remotes[i];
    if (IsSameOrBelow(config.index_path, a.root) || IsSameOrBelow(a.root, config.index_path)) {
      return errors.At("indexPath",
                       absl::StrCat("\"", config.index_path, "\" and the root of remote \"", a.id,
                                    "\" (\"", a.root, "\") must not contain one another"));
    }
    for (size_t j = i + 1; j < config.remotes.size(); ++j) {
      const RemoteConfig& b = config.remotes[j];
      if (IsSameOrBelow(a.root, b.root) || IsSameOrBelow(b.root, a.root)) {
        return errors.At(
            absl::StrCat("remotes.", b.id, ".root"),
            absl::StrCat("\"", b.root, "\" overlaps remote \"", a.id, "\" (\"", a.root, "\")"));
      }
    }
  }
  return config;
}

}  // namespace xoi
