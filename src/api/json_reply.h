// How an operation of a JSON-protocol AWS API (Kinesis Analytics, Firehose) answers: a body
// written in the request's protocol (JSON or CBOR), an error in AWS's shape, or `{}` for a Status.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>

#include "api/aws_errors.h"
#include "api/kinesis_api.h"
#include "api/writer.h"
#include "common/error.h"

namespace eddy::api {

class JsonReply {
 public:
  JsonReply(Protocol protocol, Respond respond)
      : protocol_(protocol), respond_(std::move(respond)), w_(make_writer(protocol)) {}

  void fail(const Error& e) { respond_(error_response(e, protocol_)); }
  void ok(const nlohmann::json& body) {
    write_json(*w_, body);
    HttpResponse r;
    r.content_type = content_type_for(protocol_);
    r.body = std::move(w_->buffer());
    respond_(std::move(r));
  }
  void status(const Status& st) {
    if (!st) return fail(st.error());
    ok(nlohmann::json::object());
  }

 protected:
  Protocol protocol_;
  Respond respond_;

 private:
  std::unique_ptr<Writer> w_;
};

}  // namespace eddy::api
