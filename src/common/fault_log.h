// Server faults (a failed write, a full disk) go to the server's log with their reason, while the
// caller gets AWS's retryable InternalFailure without the detail. At most one line a second: a
// full disk fails every request, and the log must not fill what is left of it.
#pragma once

#include <string_view>

namespace eddy {

void log_fault(std::string_view what, std::string_view reason);

}  // namespace eddy
