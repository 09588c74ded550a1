#include "cluster/cluster_node.h"

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <random>

namespace eddy::cluster {

namespace {

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<std::unique_ptr<ClusterNode>> ClusterNode::start(const ClusterOptions& options) {
  if (options.node_id.empty())
    return make_error(Errc::kInvalidArgument, "--cluster needs --node-id: a name for this node, unique in the cluster");
  if (options.replicas < 1 || options.replicas > 5)
    return make_error(Errc::kInvalidArgument, "--replicas must be 1 to 5 (JetStream keeps at most 5 copies)");
  std::unique_ptr<ClusterNode> node(new ClusterNode(options));
  auto nats = NatsConnection::connect({.urls = options.urls, .name = "eddy " + options.node_id});
  if (!nats) return tl::unexpected(nats.error());
  node->nats_ = std::move(*nats);
  const int64_t max_payload = natsConnection_GetMaxPayload(node->nats_->connection());
  if (max_payload < kMinMaxPayload) {
    return make_error(Errc::kInvalidArgument,
                      "the NATS servers accept messages of at most " + std::to_string(max_payload >> 10) +
                          " KiB, too small for a 5 MiB PutRecords or a 10 MiB record: set max_payload: 16MB in "
                          "every server's configuration");
  }
  std::random_device rd;
  char incarnation[24];
  std::snprintf(incarnation, sizeof(incarnation), "%016" PRIx64,
                (static_cast<uint64_t>(rd()) << 32) ^ static_cast<uint64_t>(rd()));
  node->writer_id_ = options.node_id + "." + incarnation;
  // Opening the bucket checks that the servers can keep --replicas copies.
  if (auto m = node->metadata("streams"); !m) return tl::unexpected(m.error());
  return node;
}

ClusterNode::~ClusterNode() {
  stop_watch();
}

void ClusterNode::stop_watch() {
  stopping_ = true;
  if (watcher_.joinable()) watcher_.join();
}

Result<std::shared_ptr<MetadataStore>> ClusterNode::metadata(const std::string& kind) {
  auto m = JetStreamMetadataStore::open(*nats_, kMetadataBucket, kind, options_.replicas);
  if (!m) return tl::unexpected(m.error());
  return std::shared_ptr<MetadataStore>(std::move(*m));
}

Result<std::shared_ptr<log::ShardStorage>> ClusterNode::open_shard(const std::string& stream, uint64_t stream_id,
                                                                   uint32_t shard) {
  JetStreamShardOptions o;
  o.stream = shard_stream_name(stream_id, shard);
  o.subject = shard_subject(stream_id, shard);
  o.description = stream + "/" + std::to_string(shard);
  o.replicas = options_.replicas;
  o.writer_id = writer_id_;
  auto s = JetStreamShard::open(*nats_, std::move(o));
  if (!s) return tl::unexpected(s.error());
  return std::shared_ptr<log::ShardStorage>(std::move(*s));
}

Result<ClusterNode::ShardPlacement> ClusterNode::shard_placement(uint64_t stream_id, uint32_t shard) const {
  ShardPlacement p;
  p.jetstream_stream = shard_stream_name(stream_id, shard);
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, nats_->jetstream(), p.jetstream_stream.c_str(), nullptr, &code);
  if (s != NATS_OK) return tl::unexpected(nats_error(s, "reading the state of " + p.jetstream_stream, code));
  p.messages = info->State.Msgs;
  p.bytes = info->State.Bytes;
  if (const jsClusterInfo* c = info->Cluster) {
    if (c->Leader) p.leader = c->Leader;
    for (int i = 0; i < c->ReplicasLen; ++i) {
      const jsPeerInfo* r = c->Replicas[i];
      p.replicas.push_back({r->Name ? r->Name : "", r->Current, r->Offline, r->Lag});
    }
  }
  jsStreamInfo_Destroy(info);
  return p;
}

std::string ClusterNode::connected_url() const {
  char buf[256] = {0};
  if (natsConnection_GetConnectedUrl(nats_->connection(), buf, sizeof(buf)) != NATS_OK) return "";
  return buf;
}

void ClusterNode::watch(std::function<void(const std::string&, const std::string&)> changed, int64_t resync_ms) {
  watcher_ = std::thread([this, changed = std::move(changed), resync_ms] { run_watch(changed, resync_ms); });
}

void ClusterNode::run_watch(std::function<void(const std::string&, const std::string&)> changed, int64_t resync_ms) {
  kvStore* kv = nullptr;
  kvWatcher* w = nullptr;
  uint64_t seen_reconnects = 0;
  int64_t started = 0;
  bool warned = false;
  while (!stopping_) {
    if (!w || nats_->reconnects() != seen_reconnects || steady_ms() - started > resync_ms) {
      // (Re)subscribe: the watch first reports every current document, then each change.
      kvWatcher_Destroy(w);
      w = nullptr;
      seen_reconnects = nats_->reconnects();
      natsStatus s = kv ? NATS_OK : js_KeyValue(&kv, nats_->jetstream(), kMetadataBucket);
      kvWatchOptions wo;
      kvWatchOptions_Init(&wo);
      wo.MetaOnly = true;
      if (s == NATS_OK) s = kvStore_WatchAll(&w, kv, &wo);
      if (s != NATS_OK) {
        if (!warned)
          std::cerr << "eddy: cannot watch the cluster's metadata (" << natsStatus_GetText(s) << "); retrying"
                    << std::endl;
        warned = true;
        w = nullptr;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        continue;
      }
      warned = false;
      started = steady_ms();
    }
    kvEntry* e = nullptr;
    natsStatus s = kvWatcher_Next(&e, w, 500);
    if (s == NATS_TIMEOUT) continue;
    if (s != NATS_OK) {
      kvWatcher_Destroy(w);
      w = nullptr;
      continue;
    }
    if (!e) continue;  // the end of the initial values
    const std::string key = kvEntry_Key(e);
    kvEntry_Destroy(e);
    const size_t dot = key.find('.');
    if (dot == std::string::npos) continue;
    auto name = decode_key_token(std::string_view(key).substr(dot + 1));
    if (!name) continue;  // not a document eddy wrote
    changed(key.substr(0, dot), *name);
  }
  kvWatcher_Destroy(w);
  kvStore_Destroy(kv);
}

}  // namespace eddy::cluster
