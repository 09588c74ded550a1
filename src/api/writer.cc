#include "api/writer.h"

#include "api/cbor_codec.h"
#include "api/json_codec.h"

namespace eddy::api {

std::unique_ptr<Writer> make_writer(Protocol protocol) {
  if (protocol == Protocol::kCbor) return std::make_unique<CborWriter>();
  return std::make_unique<JsonWriter>();
}

}  // namespace eddy::api
