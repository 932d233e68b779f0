// Plan entries and their outcomes as bytes, so that a plan too large for memory (a first run over
// a million items) can wait on disk between the rules and the executor, and the reports read it
// back in order (lib/fs/spool.h). Pure: encoding and decoding only; decoding checks every length.
#ifndef XOI_LIB_CORE_PLAN_CODEC_H_
#define XOI_LIB_CORE_PLAN_CODEC_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "lib/core/plan.h"

namespace xoi {

// One entry of a plan and, once it was carried out (or not), what came of it.
struct PlanEntry {
  Action action;
  bool executed = false;
  Outcome outcome = Outcome::kDone;
  std::string detail;
};

std::string EncodePlanEntry(const PlanEntry& entry);
// nullopt for bytes that are not one whole entry.
std::optional<PlanEntry> DecodePlanEntry(absl::string_view bytes);

}  // namespace xoi

#endif  // XOI_LIB_CORE_PLAN_CODEC_H_
