// AWS JSON 1.1 bodies: simdjson for parsing (the PutRecords hot path), a direct writer for output.
#pragma once

#include <string>
#include <string_view>

#include "api/value.h"
#include "api/writer.h"
#include "common/error.h"

namespace eddy::api {

// `padded` must have simdjson::SIMDJSON_PADDING spare bytes after `size` (see HttpRequest).
Result<Value> parse_json(const char* data, size_t size, size_t capacity);

class JsonWriter final : public Writer {
 public:
  void begin_object() override;
  void end_object() override;
  void begin_array() override;
  void end_array() override;
  void key(std::string_view k) override;
  void string(std::string_view s) override;
  void blob(std::string_view bytes) override;
  void integer(int64_t v) override;
  void boolean(bool v) override;
  void timestamp(TimestampMs ms) override;

 private:
  void separate();
  bool first_ = true;
  TimestampMs last_ts_ = 0;
  std::string last_ts_text_;
};

}  // namespace eddy::api
