// Which node runs which application, C++ job or delivery stream: the seam between the hosts and
// cluster mode. On one machine every one of them runs here (LocalPlacement); in cluster mode an
// implementation backed by leases in the cluster's key-value store answers, and a host runs only
// the work placed on its node.
//
// Who calls what: the application host asks before it starts or resumes a runner (load, start,
// update, deploy), under its registry lock; the delivery host likewise for its workers. Must be
// thread-safe and must not call back into a host.
#pragma once

#include <string>

namespace eddy {

enum class WorkKind { kApplication, kDeliveryStream };

class Placement {
 public:
  virtual ~Placement() = default;
  // Whether this node is to run `name` now.
  virtual bool runs_here(WorkKind kind, const std::string& name) const = 0;
};

// One machine: everything runs here.
class LocalPlacement final : public Placement {
 public:
  bool runs_here(WorkKind, const std::string&) const override { return true; }
};

}  // namespace eddy
