// Enhanced fan-out: the consumer operations (Register/Describe/List/DeregisterStreamConsumer) and
// SubscribeToShard, which answers an AWS event stream (api/event_stream.h) over HTTP/1.1 chunked
// or HTTP/2: `initial-response`, then SubscribeToShardEvents as records become readable (the
// shard's readable signal wakes the subscription; nothing polls for records), an event at least
// every 5 s when the shard is quiet, ChildShards at a closed shard's end, and the end of the
// response after 5 minutes, as AWS does.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "api/http_types.h"
#include "api/value.h"
#include "common/clock.h"
#include "common/metadata_store.h"
#include "stream/stream_store.h"

namespace eddy::api {

struct FanOutOptions {
  std::chrono::milliseconds subscription_length{5 * 60 * 1000};
  std::chrono::milliseconds heartbeat{5000};  // the longest a quiet subscription goes without an event
  // How often a subscription looks at its shard unwoken. Appends on this node wake it at once;
  // in cluster mode another node's appends are seen at the next look.
  std::chrono::milliseconds look_interval{1000};
  // Cluster mode: where the nodes record which subscription holds each consumer's shard, so that
  // the 5 s rule and takeovers hold across nodes. Unset: this node's memory.
  std::shared_ptr<MetadataStore> holders;
};

class FanOut {
 public:
  FanOut(stream::StreamStore& store, const Clock& clock, FanOutOptions options = {});
  ~FanOut();

  static bool handles(std::string_view op);
  // As KinesisApi::handle.
  void handle(std::string_view op, const Value& input, Protocol protocol, Respond respond);

  // Which subscription holds each consumer's shard: a second SubscribeToShard within 5 s of a
  // successful one is refused; a later one takes the subscription over (the older one ends with
  // ResourceInUseException).
  struct Holders;

 private:
  void subscribe(const Value& input, Protocol protocol, Respond respond);

  stream::StreamStore& store_;
  const Clock& clock_;
  FanOutOptions options_;
  std::shared_ptr<Holders> holders_;
};

}  // namespace eddy::api
