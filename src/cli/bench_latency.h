// `eddy bench latency`: window close -> output row latency of a SQL application on a server.
#pragma once

#include "cli/common_options.h"

namespace eddy::cli {

struct LatencyBenchOptions : ClientOptions {
  int seconds = 30;        // of steady load
  int rate = 1000;         // events per second
  int window_seconds = 1;  // STEP window length
};

int bench_latency(const LatencyBenchOptions& o);

}  // namespace eddy::cli
