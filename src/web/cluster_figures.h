// In cluster mode each node counts only the requests it answers itself (PutRecords, GetRecords)
// and only the node running a delivery stream knows what it holds in memory. ClusterFigures shares
// those counts: every node publishes its own to a key-value bucket once a second, and /metrics and
// the dashboard on any node add up every node's, so that a client behind a load balancer sees the
// cluster's figures, as on one machine.
//
// Sums are made of published figures only, this node's included: two requests answered by two
// nodes then see the same sum or a later one, never a smaller one, which would look like a counter
// reset to Prometheus. The price is up to a second of delay. A node that stops publishing (it
// died) drops out of the sums after kCurrentMs: its counts are gone, as a restarted server's are.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/metadata_store.h"
#include "delivery/delivery_metrics.h"
#include "stream/stream_metrics.h"

namespace eddy::web {

class ClusterFigures {
 public:
  ClusterFigures(std::shared_ptr<MetadataStore> board, std::string node, const Clock& clock)
      : board_(std::move(board)), node_(std::move(node)), clock_(clock) {}

  // This node's own figures (from one thread, about every second): written when they changed,
  // and every kRepublishMs regardless, so that readers can tell a live node from a dead one.
  void publish(const std::vector<stream::StreamMetrics>& streams,
               const std::vector<delivery::DeliveryMetrics>& deliveries);
  // Replaces the counts in this node's figures by the cluster's: for each stream (the same name
  // and id) and delivery stream, the sum over every node that published lately.
  void merge(std::vector<stream::StreamMetrics>& streams, std::vector<delivery::DeliveryMetrics>& deliveries) const;
  // A clean stop: the others stop counting this node at once.
  void withdraw();

  static constexpr TimestampMs kRepublishMs = 3000;
  static constexpr TimestampMs kCurrentMs = 10000;
  // A node's document stays well below NATS's default 1 MB payload; streams beyond it (thousands
  // with traffic on one node) are left out of the sums, and a fault says so.
  static constexpr size_t kMaxDocumentBytes = 256 << 10;

 private:
  struct Published {
    std::string content;  // without the time, to tell a change from a renewal
    std::string text;
    uint64_t revision = 0;
    TimestampMs at_ms = 0;
  };
  std::vector<std::string> current_documents() const;

  std::shared_ptr<MetadataStore> board_;
  std::string node_;
  const Clock& clock_;
  mutable std::mutex mu_;
  Published published_;
};

}  // namespace eddy::web
