// What only the node running an application knows: why it cannot make progress (EddyFault in
// DescribeApplication), its latest error rows (eddy apps logs) and its figures (/metrics, the
// dashboard). In cluster mode that node
// publishes them to a key-value bucket every second, and any node answers from there, so that
// a client behind a load balancer sees what it would see on one machine.
//
// Who calls what: the application host publishes for the applications running on its node (from
// one thread, ApplicationHost::publish_status) and reads for the others (request threads).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/metadata_store.h"
#include "host/application_metrics.h"
#include "host/application_runner.h"

namespace eddy::host {

class SharedStatus {
 public:
  SharedStatus(std::shared_ptr<MetadataStore> board, std::string node, const Clock& clock)
      : board_(std::move(board)), node_(std::move(node)), clock_(clock) {}

  struct Status {
    std::optional<ApplicationRunner::Fault> fault;
    std::vector<std::string> errors;  // the latest error rows, oldest first
    ApplicationMetrics figures;       // name and status are the document's, not published
  };
  // Publishes `app`'s status if it changed, and every few seconds if not (so readers can tell a
  // current status from one a dead node left).
  void publish(const std::string& app, const Status& s);
  // The status a running node published lately; nothing if none did.
  std::optional<Status> read(const std::string& app) const;
  // The application is deleted.
  void remove(const std::string& app);

  static constexpr TimestampMs kRepublishMs = 3000;
  static constexpr TimestampMs kCurrentMs = 10000;  // older than this: its node is gone
  static constexpr size_t kMaxErrorBytes = 64 << 10;

 private:
  struct Published {
    std::string text;
    uint64_t revision = 0;
    TimestampMs at_ms = 0;
  };

  std::shared_ptr<MetadataStore> board_;
  std::string node_;
  const Clock& clock_;
  std::mutex mu_;
  std::map<std::string, Published> published_;
};

}  // namespace eddy::host
