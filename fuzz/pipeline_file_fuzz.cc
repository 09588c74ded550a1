// Fuzz target: pipeline files and CloudFormation templates (YAML/JSON, intrinsics) into a desired
// state, then the local checks (SQL compiled against its schema). Loading writes nothing.
#include <cstddef>
#include <cstdint>
#include <string>

#include "pipeline/load.h"
#include "pipeline/validate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  eddy::pipeline::LoadOptions options;
  auto loaded = eddy::pipeline::load_pipeline_text("/nonexistent/fuzz.yaml",
                                                   std::string(reinterpret_cast<const char*>(data), size), options);
  if (loaded) (void)eddy::pipeline::validate_code(loaded->desired);
  return 0;
}
