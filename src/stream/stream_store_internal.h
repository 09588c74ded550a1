// Constants StreamStore's source files share (stream_store.cc, stream_control.cc,
// stream_resharding.cc, stream_data.cc, stream_internal_reads.cc); not part of the stream
// module's interface.
#pragma once

#include <cstddef>

namespace eddy::stream {

inline constexpr size_t kMaxGetRecordsBytes = 10u << 20;
inline constexpr const char* kDeletingPrefix = ".deleting-";

}  // namespace eddy::stream
