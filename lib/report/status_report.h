// The `status` report (lib/core/backup_status.h): text for people, JSON for programs.
#ifndef XOI_LIB_REPORT_STATUS_REPORT_H_
#define XOI_LIB_REPORT_STATUS_REPORT_H_

#include <string>
#include <vector>

#include "lib/core/backup_status.h"

namespace xoi {

std::string FormatStatusText(const std::vector<RemoteStatus>& status);
std::string FormatStatusJson(const std::vector<RemoteStatus>& status);

}  // namespace xoi

#endif  // XOI_LIB_REPORT_STATUS_REPORT_H_
