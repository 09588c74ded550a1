// The server's own figures for /metrics, named as Prometheus' client libraries name them:
// eddy_build_info, the process_* family (CPU seconds, resident memory, descriptors, start time)
// and the data directory's filesystem, so that the usual dashboards and alerts apply.
#pragma once

#include <string>

#include "web/disk_usage.h"

namespace eddy::web {

// `start_time_s`: when the server started (Unix seconds); `disk`: the data directory's figures.
std::string render_server_metrics(const DiskUsage::Figures& disk, double start_time_s);

}  // namespace eddy::web
