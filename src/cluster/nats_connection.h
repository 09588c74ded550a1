// A node's connection to its NATS cluster, with JetStream: the one libnats handle the cluster
// backends (jetstream_metadata_store.h, and the shard storage, checkpoints and leases to come)
// share. libnats reconnects by itself and is thread-safe; a backend's call during a reconnect
// fails with a transport error that the caller reports as retryable.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nats/nats.h>

#include "common/error.h"

namespace eddy::cluster {

struct NatsOptions {
  std::vector<std::string> urls;  // nats://host:port of the servers (--cluster)
  std::string name = "eddy";      // how the servers list this connection
  int64_t timeout_ms = 2000;      // to connect, and for each JetStream request (x 2.5)
};

class NatsConnection {
 public:
  // Connects to any of the servers and checks that JetStream is enabled. An unreachable cluster
  // is one error naming the URLs tried; no retry in the background.
  static Result<std::unique_ptr<NatsConnection>> connect(const NatsOptions& options);
  ~NatsConnection();
  NatsConnection(const NatsConnection&) = delete;
  NatsConnection& operator=(const NatsConnection&) = delete;

  natsConnection* connection() const { return nc_; }
  jsCtx* jetstream() const { return js_; }
  // How many times libnats reconnected (to the same or another server): subscriptions such as a
  // key-value watch may need making again after one.
  uint64_t reconnects() const { return reconnects_.load(); }
  // Whether the connection is up now (not reconnecting or closed).
  bool connected() const { return natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED; }
  // Whether JetStream answers now: its account request needs the servers' meta group, so a
  // cluster that lost its quorum says no (after the JetStream wait at most).
  bool jetstream_answers() const {
    jsAccountInfo* info = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus s = js_GetAccountInfo(&info, js_, nullptr, &code);
    jsAccountInfo_Destroy(info);
    return s == NATS_OK;
  }
  // Closes the connection: every call in progress or to come fails at once. For a shutdown
  // while the servers are unreachable, which would otherwise wait out each call's timeout.
  void close() { natsConnection_Close(nc_); }

 private:
  NatsConnection() = default;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  std::atomic<uint64_t> reconnects_{0};
};

// The error of a failed libnats call: what was being done, libnats' text and its last detail.
// A transport failure or a cluster without quorum is kUnavailable (a retryable 503); anything
// else kIo (InternalFailure).
Error nats_error(natsStatus status, std::string_view what, jsErrCode code = static_cast<jsErrCode>(0));
// Whether a failed call may succeed when retried: the servers were unreachable or had no leader.
bool transient(natsStatus status, jsErrCode code);

}  // namespace eddy::cluster
