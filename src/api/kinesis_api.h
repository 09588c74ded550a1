// Kinesis Data Streams operations (`Kinesis_20131202.*`) over the stream store.
#pragma once

#include <functional>
#include <string_view>

#include "api/http_types.h"
#include "api/kinesis_fanout.h"
#include "api/value.h"
#include "common/clock.h"
#include "log/group_commit.h"
#include "stream/account_settings.h"
#include "stream/stream_store.h"

namespace eddy::api {

class KinesisApi {
 public:
  // `account`: Describe/UpdateAccountSettings (nullptr: those calls are refused).
  KinesisApi(stream::StreamStore& store, log::GroupCommitter& committer, const Clock& clock, FanOutOptions fan_out = {},
             stream::AccountSettings* account = nullptr)
      : store_(store), committer_(committer), clock_(clock), fan_out_(store, clock, fan_out), account_(account) {}

  // `input` has been validated against the service model and normalised (blobs are bytes,
  // timestamps epoch ms). `respond` is called exactly once, possibly on the group-commit thread.
  void handle(std::string_view op, const Value& input, Protocol protocol, Respond respond);

 private:
  stream::StreamStore& store_;
  log::GroupCommitter& committer_;
  const Clock& clock_;
  FanOut fan_out_;  // enhanced fan-out: consumers and SubscribeToShard
  stream::AccountSettings* account_;
};

}  // namespace eddy::api
