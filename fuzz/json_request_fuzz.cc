// Fuzz target: JSON request bodies through simdjson, the normaliser and the model validator.
#include <cstddef>
#include <cstdint>
#include <string>

#include "api/json_codec.h"
#include "api/service_model.h"

namespace eddy::embedded {
std::string_view kinesis_model();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto model = eddy::api::ServiceModel::load(eddy::embedded::kinesis_model());
  std::string body(reinterpret_cast<const char*>(data), size);
  body.reserve(size + 64);
  auto v = eddy::api::parse_json(body.data(), body.size(), body.capacity());
  if (!v) return 0;
  for (const char* op : {"PutRecords", "PutRecord", "GetShardIterator", "CreateStream", "ListShards"}) {
    eddy::api::Value copy = *v;
    if ((*model)->normalize(op, copy, eddy::api::Protocol::kJson)) (void)(*model)->validate(op, copy);
  }
  return 0;
}
