// Response encoders. Handlers write a response once through this interface; JSON and CBOR
// differ only in how blobs (base64 vs byte string) and timestamps (epoch seconds vs epoch
// milliseconds) are written.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "api/value.h"
#include "common/clock.h"

namespace eddy::api {

class Writer {
 public:
  virtual ~Writer() = default;
  virtual void begin_object() = 0;
  virtual void end_object() = 0;
  virtual void begin_array() = 0;
  virtual void end_array() = 0;
  virtual void key(std::string_view k) = 0;
  virtual void string(std::string_view s) = 0;
  virtual void blob(std::string_view bytes) = 0;
  virtual void integer(int64_t v) = 0;
  virtual void boolean(bool v) = 0;
  virtual void timestamp(TimestampMs ms) = 0;
  std::string& buffer() { return out_; }

  // Convenience for "key": value pairs.
  void field(std::string_view k, std::string_view v) {
    key(k);
    string(v);
  }
  void field(std::string_view k, const char* v) {
    key(k);
    string(v);
  }
  void field(std::string_view k, int64_t v) {
    key(k);
    integer(v);
  }
  void field(std::string_view k, bool v) {
    key(k);
    boolean(v);
  }

 protected:
  std::string out_;
};

std::unique_ptr<Writer> make_writer(Protocol protocol);

// Writes a response kept as nlohmann JSON (the Analytics and Firehose handlers build theirs so).
// Members named CreateTimestamp, LastUpdateTimestamp and DeliveryStartTimestamp hold epoch ms and
// go out as the protocol's timestamps.
void write_json(Writer& w, const nlohmann::json& j);

}  // namespace eddy::api
