#include "api/json_codec.h"

#include <simdjson.h>

#include <charconv>
#include <cstdio>

#include "common/digest.h"
#include "common/json_text.h"

namespace eddy::api {
namespace {

Result<Value> convert(simdjson::dom::element e, int depth) {
  if (depth > 64) return make_error(Errc::kSerialization, "JSON nesting too deep");
  Value v;
  switch (e.type()) {
    case simdjson::dom::element_type::OBJECT: {
      v.type = Value::Type::kObject;
      const simdjson::dom::object obj(e);
      v.members.reserve(obj.size());
      for (auto field : obj) {
        auto child = convert(field.value, depth + 1);
        if (!child) return child;
        v.members.emplace_back(std::string(field.key), std::move(*child));
      }
      break;
    }
    case simdjson::dom::element_type::ARRAY: {
      v.type = Value::Type::kArray;
      const simdjson::dom::array arr(e);
      v.items.reserve(arr.size());
      for (auto item : arr) {
        auto child = convert(item, depth + 1);
        if (!child) return child;
        v.items.push_back(std::move(*child));
      }
      break;
    }
    case simdjson::dom::element_type::STRING:
      v.type = Value::Type::kString;
      v.text = std::string(std::string_view(e));
      break;
    case simdjson::dom::element_type::INT64:
      v.type = Value::Type::kInt;
      v.integer = int64_t(e);
      break;
    case simdjson::dom::element_type::UINT64:
      v.type = Value::Type::kDouble;
      v.number = static_cast<double>(uint64_t(e));
      break;
    case simdjson::dom::element_type::DOUBLE:
      v.type = Value::Type::kDouble;
      v.number = double(e);
      break;
    case simdjson::dom::element_type::BOOL:
      v.type = Value::Type::kBool;
      v.boolean = bool(e);
      break;
    case simdjson::dom::element_type::NULL_VALUE:
      break;
  }
  return v;
}

}  // namespace

Result<Value> parse_json(const char* data, size_t size, size_t capacity) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  const bool padded = capacity >= size + simdjson::SIMDJSON_PADDING;
  auto error = parser.parse(reinterpret_cast<const uint8_t*>(data), size, !padded).get(root);
  if (error) {
    return make_error(Errc::kSerialization,
                      std::string("Malformed JSON request body: ") + simdjson::error_message(error));
  }
  if (root.type() != simdjson::dom::element_type::OBJECT) {
    return make_error(Errc::kSerialization, "Request body must be a JSON object.");
  }
  return convert(root, 0);
}

void JsonWriter::separate() {
  if (!first_) out_.push_back(',');
  first_ = false;
}
void JsonWriter::begin_object() {
  separate();
  out_.push_back('{');
  first_ = true;
}
void JsonWriter::end_object() {
  out_.push_back('}');
  first_ = false;
}
void JsonWriter::begin_array() {
  separate();
  out_.push_back('[');
  first_ = true;
}
void JsonWriter::end_array() {
  out_.push_back(']');
  first_ = false;
}
void JsonWriter::key(std::string_view k) {
  // Keys are the service model's member names: plain ASCII, nothing to escape.
  if (!first_) out_.push_back(',');
  out_.push_back('"');
  out_.append(k);
  out_.append("\":", 2);
  first_ = true;  // the value that follows needs no comma
}
void JsonWriter::string(std::string_view s) {
  separate();
  append_json_string(out_, s);
}
void JsonWriter::blob(std::string_view bytes) {
  separate();
  out_.push_back('"');
  base64_encode_append(bytes, out_);
  out_.push_back('"');
}
void JsonWriter::boolean(bool v) {
  separate();
  out_ += v ? "true" : "false";
}
void JsonWriter::timestamp(TimestampMs ms) {
  // Epoch seconds with the millisecond fraction, as AWS JSON services send them. Records of a
  // batch share their arrival time, so the last text is reused.
  separate();
  if (ms == last_ts_ && !last_ts_text_.empty()) {
    out_.append(last_ts_text_);
    return;
  }
  const int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  const int64_t frac = ms - sec * 1000;
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), sec);
  *r.ptr++ = '.';
  *r.ptr++ = static_cast<char>('0' + frac / 100);
  *r.ptr++ = static_cast<char>('0' + frac / 10 % 10);
  *r.ptr++ = static_cast<char>('0' + frac % 10);
  last_ts_ = ms;
  last_ts_text_.assign(buf, r.ptr);
  out_.append(buf, r.ptr);
}

void JsonWriter::integer(int64_t v) {
  separate();
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out_.append(buf, r.ptr);
}

}  // namespace eddy::api
