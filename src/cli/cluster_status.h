// GET /eddy/v1/cluster on a cluster node: the node, the live nodes and who holds which lease,
// and for every shard the JetStream stream that keeps it, its leader and replicas.
#pragma once

#include <nlohmann/json.hpp>

#include "cluster/cluster_node.h"
#include "cluster/lease_placement.h"
#include "stream/stream_store.h"

namespace eddy::cli {

nlohmann::json cluster_status(const cluster::ClusterNode& node, const cluster::LeasePlacement& leases,
                              const stream::StreamStore& store);

}  // namespace eddy::cli
