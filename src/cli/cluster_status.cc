#include "cli/cluster_status.h"

#include "cluster/jetstream_metadata_store.h"

namespace eddy::cli {

nlohmann::json cluster_status(const cluster::ClusterNode& node, const cluster::LeasePlacement& leases,
                              const stream::StreamStore& store) {
  nlohmann::json out;
  out["node"] = node.options().node_id;
  out["replicas"] = node.options().replicas;
  out["servers"] = node.options().urls;
  out["connected_to"] = node.connected_url();
  out["server_version"] = node.server_version();
  out["durability"] = node.durability_note();
  auto& nodes = out["nodes"] = nlohmann::json::array();
  auto& held = out["leases"] = nlohmann::json::array();
  if (auto all = leases.leases()) {
    for (const auto& l : *all) {
      const size_t dot = l.key.find('.');
      const auto name = cluster::decode_key_token(std::string_view(l.key).substr(dot + 1));
      const std::string kind = l.key.substr(0, dot);
      if (kind == "node")
        nodes.push_back(name.value_or(l.key));
      else
        held.push_back({{"kind", kind == "app" ? "application" : "delivery_stream"},
                        {"name", name.value_or(l.key)},
                        {"node", l.holder}});
    }
  } else {
    out["leases_error"] = all.error().message;
  }
  auto& streams = out["streams"] = nlohmann::json::array();
  std::optional<std::string> token;
  for (int page = 0; page < 1000; ++page) {  // 100 streams a page; the account has at most 500 shards
    auto listed = store.list_streams(100, std::nullopt, token);
    if (!listed) break;
    for (const auto& s : listed->streams) {
      auto d = store.describe(s.name);
      if (!d) continue;
      nlohmann::json shards = nlohmann::json::array();
      for (const auto& sh : d->shards) {
        nlohmann::json j = {{"shard_id", sh.info.id()}, {"open", sh.info.open()}};
        if (auto p = node.shard_placement(d->id, sh.info.index)) {
          j["jetstream_stream"] = p->jetstream_stream;
          j["leader"] = p->leader;
          j["messages"] = p->messages;
          j["bytes"] = p->bytes;
          auto& replicas = j["replicas"] = nlohmann::json::array();
          for (const auto& r : p->replicas)
            replicas.push_back({{"server", r.server}, {"current", r.current}, {"offline", r.offline}, {"lag", r.lag}});
        } else {
          j["error"] = p.error().message;
        }
        shards.push_back(std::move(j));
      }
      streams.push_back({{"name", s.name}, {"shards", std::move(shards)}});
    }
    if (!listed->next_token) break;
    token = listed->next_token;
  }
  return out;
}

}  // namespace eddy::cli
