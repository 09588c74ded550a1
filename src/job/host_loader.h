// The application host's JobLoader for C++ jobs: a library plus KDA-shaped PropertyGroups
// ([{"PropertyGroupId": ..., "PropertyMap": {...}}]) -> a running program with its source and sinks.
#pragma once

#include "runtime/program.h"

namespace eddy::job {

runtime::JobLoader host_job_loader();

}  // namespace eddy::job
