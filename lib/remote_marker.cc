#include "lib/remote_marker.h"

#include <dirent.h>

#include <boost/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lib/duration.h"
#include "lib/fs.h"

namespace xoi {
namespace {

namespace json = boost::json;

constexpr const char* kXoRootFiles[] = {"encryption.json", "metadata.json"};

bool Initialised(int root_fd) {
  for (const char* name : kXoRootFiles) {
    if (StatAt(root_fd, name, name).ok()) return true;
  }
  bool found = false;
  (void)ListDir(root_fd, "(remote root)", [&](absl::string_view name, unsigned char type) {
    found = absl::StartsWith(name, "xo-") && type == DT_DIR;
    return !found;
  });
  return found;
}

Action RootAction(ActionKind kind, std::string name, const FileStat& st, std::string reason) {
  Action a{kind, std::move(name), false, st};
  a.indexed = false;
  a.reason = std::move(reason);
  return a;
}

}  // namespace

std::string MarkerContent(absl::Time since, absl::Duration duration) {
  json::object o;
  o["since"] = absl::ToUnixMillis(since);
  o["immutable"] = true;
  o["duration"] = absl::ToInt64Milliseconds(duration);
  return json::serialize(o);
}

std::vector<Action> PlanRemoteFiles(int root_fd, const Settings& settings, absl::Time now) {
  std::vector<Action> plan;
  const bool protecting = settings.duration != absl::ZeroDuration();
  if (protecting && !Initialised(root_fd)) return plan;

  for (const char* name : kXoRootFiles) {
    auto st = StatAt(root_fd, name, name);
    if (!st.ok()) continue;
    if (!st->is_regular()) {
      if (protecting) {
        plan.push_back(RootAction(ActionKind::kRefuse, name, *st,
                                  absl::StrCat("a ", FileTypeName(st->mode), ", not a file")));
      }
      continue;
    }
    if (!protecting) {
      if (st->immutable) {
        plan.push_back(RootAction(ActionKind::kLift, name, *st,
                                  "immutability duration is 0: the remote is being released"));
      }
      continue;
    }
    if (st->immutable) continue;
    if (st->nlink > 1) {
      plan.push_back(RootAction(ActionKind::kRefuse, name, *st,
                                absl::StrCat(st->nlink, " hard links")));
    } else if (now - st->ctime < settings.settle) {
      plan.push_back(RootAction(ActionKind::kWait, name, *st, "changed less than settle ago"));
    } else {
      plan.push_back(RootAction(ActionKind::kProtect, name, *st,
                                "XO's remote metadata is kept immutable while protected"));
    }
  }

  auto marker_stat = StatAt(root_fd, kMarkerName, kMarkerName);
  if (!protecting) {
    if (marker_stat.ok()) {
      plan.push_back(RootAction(ActionKind::kRemoveMarker, kMarkerName, *marker_stat,
                                "immutability duration is 0: removed once everything is lifted"));
    }
    return plan;
  }
  if (!marker_stat.ok()) {
    Action write = RootAction(ActionKind::kWriteMarker, kMarkerName, FileStat{},
                              absl::StrCat("tell XO the remote is immutable for ",
                                           DurationText(settings.duration)));
    write.content = MarkerContent(now, settings.duration);
    plan.push_back(std::move(write));
    return plan;
  }
  auto content = ReadSmallFile(root_fd, kMarkerName, 4096, kMarkerName);
  boost::system::error_code ec;
  const json::value doc =
      content.ok() ? json::parse(*content, ec) : json::value();
  const json::object* obj = !ec && doc.is_object() ? &doc.get_object() : nullptr;
  const json::value* since = obj ? obj->if_contains("since") : nullptr;
  const json::value* duration = obj ? obj->if_contains("duration") : nullptr;
  const bool since_ok = since && (since->is_int64() || since->is_uint64());
  const bool duration_ok = duration && (duration->is_int64() || duration->is_uint64()) &&
                           duration->to_number<int64_t>() ==
                               absl::ToInt64Milliseconds(settings.duration);
  const json::value* immutable = obj ? obj->if_contains("immutable") : nullptr;
  const bool immutable_ok = immutable && immutable->is_bool() && immutable->get_bool();
  if (since_ok && duration_ok && immutable_ok) {
    if (!marker_stat->immutable) {
      plan.push_back(RootAction(ActionKind::kProtect, kMarkerName, *marker_stat,
                                "immutability.json must itself be immutable"));
    }
    return plan;
  }
  const absl::Time since_time =
      since_ok ? absl::FromUnixMillis(since->to_number<int64_t>()) : now;
  Action write = RootAction(ActionKind::kWriteMarker, kMarkerName, *marker_stat,
                            absl::StrCat("rewrite: the immutability duration is now ",
                                         DurationText(settings.duration),
                                         since_ok ? " (since kept)" : ""));
  write.content = MarkerContent(since_time, settings.duration);
  plan.push_back(std::move(write));
  return plan;
}

}  // namespace xoi
