#include "api/writer.h"

#include <nlohmann/json.hpp>

#include "api/cbor_codec.h"
#include "api/json_codec.h"

namespace eddy::api {

std::unique_ptr<Writer> make_writer(Protocol protocol) {
  if (protocol == Protocol::kCbor) return std::make_unique<CborWriter>();
  return std::make_unique<JsonWriter>();
}

namespace {

void write_json(Writer& w, const nlohmann::json& j, std::string_view key) {
  if (key == "CreateTimestamp" || key == "LastUpdateTimestamp" || key == "DeliveryStartTimestamp") {
    w.timestamp(j.get<int64_t>());
    return;
  }
  switch (j.type()) {
    case nlohmann::json::value_t::object:
      w.begin_object();
      for (const auto& [k, v] : j.items()) {
        w.key(k);
        write_json(w, v, k);
      }
      w.end_object();
      break;
    case nlohmann::json::value_t::array:
      w.begin_array();
      for (const auto& v : j) write_json(w, v, {});
      w.end_array();
      break;
    case nlohmann::json::value_t::string:
      w.string(j.get<std::string>());
      break;
    case nlohmann::json::value_t::boolean:
      w.boolean(j.get<bool>());
      break;
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
      w.integer(j.get<int64_t>());
      break;
    case nlohmann::json::value_t::number_float:
      w.integer(static_cast<int64_t>(j.get<double>()));
      break;
    default:
      w.string("");
      break;
  }
}

}  // namespace

void write_json(Writer& w, const nlohmann::json& j) {
  write_json(w, j, {});
}

}  // namespace eddy::api
