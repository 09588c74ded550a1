// The placement seam (common/placement.h) on leases in key-value bucket eddy_leases, whose keys
// expire `ttl_ms` after their last write (the bucket's age limit: JetStream 2.9 has no per-key
// time-to-live). Each node registers itself (a second live node with the same --node-id is
// refused), renews what it holds every ttl/5, and takes unowned work up to its share, the node
// a rendezvous hash prefers first. A node runs work only while its lease is surely valid: until
// ttl - margin after the renewal was sent, before the servers can let anyone else take it.
// Design: docs/design/cluster-jetstream.md §4.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster/nats_connection.h"
#include "common/placement.h"

namespace eddy::cluster {

struct LeaseOptions {
  std::string node_id;
  std::string endpoint;  // where this node answers, shown to a second node with the same id
  int replicas = 1;
  int64_t ttl_ms = 10'000;
  int64_t margin_ms = 3'000;
};

class LeasePlacement final : public Placement {
 public:
  using Work = std::pair<WorkKind, std::string>;
  // Every application and delivery stream there is (the hosts' names).
  using WorkList = std::function<std::vector<Work>()>;
  // Told when this node gains (here = true) or loses a lease; called on the lease thread.
  using Listener = std::function<void(WorkKind, const std::string&, bool here)>;

  // Opens the bucket and registers the node; an id another live node uses is an error.
  static Result<std::unique_ptr<LeasePlacement>> start(NatsConnection& nats, LeaseOptions options);
  ~LeasePlacement() override;  // releases what it holds, so others take it over at once

  // Starts renewing and acquiring. Set the work list and the listener first.
  void run(WorkList work, Listener listener);
  // Stops renewing and releases every lease (before whatever the listener uses goes away).
  // Without `release` (tests: a node that died), the leases expire after the TTL instead.
  void stop(bool release = true);
  bool runs_here(WorkKind kind, const std::string& name) const override;

  struct Lease {
    std::string key;  // "app.<name>", "dlv.<name>", "node.<id>"
    std::string holder;
  };
  // Every lease in the bucket (eddy cluster status).
  Result<std::vector<Lease>> leases() const;

 private:
  LeasePlacement(NatsConnection& nats, LeaseOptions options) : nats_(nats), options_(std::move(options)) {}
  struct Held {
    uint64_t revision = 0;
    int64_t valid_until_ms = 0;  // steady clock
  };
  void loop(WorkList work, Listener listener);
  void tick(const WorkList& work, const Listener& listener);
  Result<std::vector<std::string>> live_nodes() const;
  static std::string key_of(const Work& w);

  NatsConnection& nats_;
  LeaseOptions options_;
  std::string value_;  // "<node id> <incarnation>"
  kvStore* kv_ = nullptr;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<std::string, Held> held_;          // by key, the node's own key included
  std::map<std::string, int> unowned_ticks_;  // work seen without an owner, for how many ticks
  std::thread thread_;
};

}  // namespace eddy::cluster
