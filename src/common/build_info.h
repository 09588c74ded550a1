// The version and commit of this build (cmake/build_info.cmake writes their definitions).
#pragma once

namespace eddy {

const char* build_version();  // the project's version, e.g. "0.1.0"
const char* build_commit();   // the git commit the binary was built from, or "unknown"

}  // namespace eddy
