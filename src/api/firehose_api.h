// Firehose (`Firehose_20150804.*`) over the delivery host.
#pragma once

#include <string_view>

#include "api/kinesis_api.h"
#include "api/value.h"
#include "delivery/delivery_host.h"

namespace eddy::api {

class FirehoseApi {
 public:
  FirehoseApi(delivery::DeliveryHost& host, log::GroupCommitter& committer) : host_(host), committer_(committer) {}
  void handle(std::string_view op, const Value& input, Protocol protocol, Respond respond);

 private:
  delivery::DeliveryHost& host_;
  log::GroupCommitter& committer_;
};

}  // namespace eddy::api
