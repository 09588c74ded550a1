// Server faults (a failed write, a full disk) go to the server's log (component "fault", level
// error) with their reason, while the caller gets AWS's retryable InternalFailure without the
// detail. Rate-limited (a burst of 20 lines, then one a second, with a count of those left out):
// a full disk fails every request, and the log must not fill what is left of it.
#pragma once

#include <string_view>

namespace eddy {

void log_fault(std::string_view what, std::string_view reason);

}  // namespace eddy
