// CBOR (RFC 8949) bodies for `application/x-amz-cbor-1.1`, the Java SDKs' default for Kinesis.
#pragma once

#include <string_view>

#include "api/value.h"
#include "api/writer.h"
#include "common/error.h"

namespace eddy::api {

Result<Value> parse_cbor(std::string_view bytes);

class CborWriter final : public Writer {
 public:
  // Maps and arrays are written with indefinite length, so nothing is counted in advance.
  void begin_object() override { out_.push_back(static_cast<char>(0xbf)); }
  void end_object() override { out_.push_back(static_cast<char>(0xff)); }
  void begin_array() override { out_.push_back(static_cast<char>(0x9f)); }
  void end_array() override { out_.push_back(static_cast<char>(0xff)); }
  void key(std::string_view k) override { string(k); }
  void string(std::string_view s) override;
  void blob(std::string_view bytes) override;
  void integer(int64_t v) override;
  void boolean(bool v) override { out_.push_back(static_cast<char>(v ? 0xf5 : 0xf4)); }
  void timestamp(TimestampMs ms) override { integer(ms); }  // epoch milliseconds

 private:
  void head(uint8_t major, uint64_t arg);
};

}  // namespace eddy::api
