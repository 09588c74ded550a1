// Fuzz target: CBOR request bodies through the decoder, normaliser and model validator.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/cbor_codec.h"
#include "api/service_model.h"

namespace eddy::embedded {
std::string_view kinesis_model();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto model = eddy::api::ServiceModel::load(eddy::embedded::kinesis_model());
  auto v = eddy::api::parse_cbor(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!v) return 0;
  for (const char* op : {"PutRecords", "GetShardIterator", "CreateStream", "ListShards"}) {
    eddy::api::Value copy = *v;
    if ((*model)->normalize(op, copy, eddy::api::Protocol::kCbor)) (void)(*model)->validate(op, copy);
  }
  return 0;
}
