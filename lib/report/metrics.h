// Prometheus text exposition (version 0.0.4) for node_exporter's textfile collector: per remote,
// the items the last run protected, waited for, lifted, refused, failed on; whether the remote was
// usable; the last run that converged without errors; the run's duration; and whether lifting is
// suspended (time shift, mass-lift guard).
#ifndef XOI_LIB_REPORT_METRICS_H_
#define XOI_LIB_REPORT_METRICS_H_

#include <map>
#include <string>

#include "absl/time/time.h"
#include "lib/report/run_report.h"

namespace xoi {

// `last_success` maps remote id to its last successful run (this one included when it succeeded);
// remotes without one are left out of that metric.
std::string FormatMetrics(const RunReport& report,
                          const std::map<std::string, absl::Time>& last_success);

}  // namespace xoi

#endif  // XOI_LIB_REPORT_METRICS_H_
