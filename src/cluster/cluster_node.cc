#include "cluster/cluster_node.h"
#include "common/logging.h"

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <random>

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

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
  // Can the servers keep --replicas copies? A throw-away stream answers, whatever exists already.
  {
    const std::string probe = "EDDY_PROBE_" + std::string(incarnation);
    const std::string subject = "eddy.probe." + std::string(incarnation);
    const char* subjects[] = {subject.c_str()};
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = probe.c_str();
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_MemoryStorage;
    sc.Replicas = options.replicas;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus s = NATS_TIMEOUT;
    // Servers that have just started, or are electing a leader, may take longer than one wait.
    for (int attempt = 0; attempt < 6 && s == NATS_TIMEOUT; ++attempt) {
      if (attempt) log_warn("cluster", "the NATS cluster has not answered yet; waiting for it");
      jsStreamInfo* info = nullptr;
      code = static_cast<jsErrCode>(0);
      s = js_AddStream(&info, node->nats_->jetstream(), &sc, nullptr, &code);
      jsStreamInfo_Destroy(info);
    }
    if (s == NATS_OK) (void)js_DeleteStream(node->nats_->jetstream(), probe.c_str(), nullptr, &code);
    if (code == JSClusterNoPeersErr || code == JSStreamReplicasNotSupportedErr) {
      return make_error(Errc::kInvalidArgument, "the NATS cluster cannot keep " + std::to_string(options.replicas) +
                                                    " copies (--replicas " + std::to_string(options.replicas) +
                                                    "): it has fewer JetStream servers; lower --replicas or add "
                                                    "servers");
    }
    if (s != NATS_OK) return tl::unexpected(nats_error(s, "checking --replicas with the NATS cluster", code));
  }
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
  char shard_id[32];
  std::snprintf(shard_id, sizeof(shard_id), "shardId-%012u", shard);
  o.description = stream + "/" + shard_id;
  return open_storage(std::move(o));
}

Result<std::shared_ptr<log::ShardStorage>> ClusterNode::open_journal(const std::string& delivery,
                                                                     uint64_t incarnation) {
  JetStreamShardOptions o;
  o.stream = journal_stream_name(incarnation);
  o.subject = journal_subject(incarnation);
  o.description = "delivery stream " + delivery + " (direct-put journal)";
  return open_storage(std::move(o));
}

Result<std::shared_ptr<log::ShardStorage>> ClusterNode::open_storage(JetStreamShardOptions o) {
  o.replicas = options_.replicas;
  o.writer_id = writer_id_;
  auto s = JetStreamShard::open(*nats_, std::move(o));
  if (!s) return tl::unexpected(s.error());
  {
    std::lock_guard lock(shards_mu_);
    std::erase_if(shards_, [](const auto& w) { return w.expired(); });
    shards_.push_back(*s);
  }
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

ClusterNode::Counters ClusterNode::counters() const {
  Counters c;
  c.reconnects = nats_->reconnects();
  std::lock_guard lock(shards_mu_);
  for (const auto& w : shards_) {
    if (auto shard = w.lock()) {
      c.append_conflicts += shard->append_conflicts();
      c.grouped_appends += shard->grouped_appends();
      ++c.open_shards;
    }
  }
  return c;
}

std::string ClusterNode::connected_url() const {
  char buf[256] = {0};
  if (natsConnection_GetConnectedUrl(nats_->connection(), buf, sizeof(buf)) != NATS_OK) return "";
  return buf;
}

std::string ClusterNode::server_version() const {
  // nats://host:port -> host, port
  std::string url = connected_url();
  if (const size_t scheme = url.find("://"); scheme != std::string::npos) url = url.substr(scheme + 3);
  const size_t colon = url.rfind(':');
  if (colon == std::string::npos) return "";
  const std::string host = url.substr(0, colon), port = url.substr(colon + 1);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || !found) return "";
  std::string line;
  const int fd = ::socket(found->ai_family, found->ai_socktype, found->ai_protocol);
  if (fd >= 0) {
    timeval tv{2, 0};  // bounded: a server that says nothing leaves the version unknown
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (::connect(fd, found->ai_addr, found->ai_addrlen) == 0) {
      char buf[4096];
      while (line.size() < sizeof(buf) && line.find('\n') == std::string::npos) {
        const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) break;
        line.append(buf, static_cast<size_t>(n));
      }
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  // INFO {"server_id":"...","version":"2.9.10",...}
  const size_t key = line.find("\"version\":\"");
  if (!line.starts_with("INFO ") || key == std::string::npos) return "";
  const size_t start = key + 11, end = line.find('"', start);
  return end == std::string::npos ? "" : line.substr(start, end - start);
}

std::string ClusterNode::durability_note() const {
  const std::string version = server_version();
  int major = 0, minor = 0;
  if (std::sscanf(version.c_str(), "%d.%d", &major, &minor) != 2) {
    return "an acknowledged record is stored by a quorum of JetStream servers (their version is unknown: "
           "with nats-server 2.10+, set jetstream { sync_interval: always } to have each write on disk)";
  }
  if (major < 2 || (major == 2 && minor < 10)) {
    return "nats-server " + version +
           " writes to disk on a timer: an acknowledged record is stored by a quorum of servers, in memory "
           "until their next sync (2.10+ with jetstream { sync_interval: always } syncs every write)";
  }
  return "nats-server " + version +
         ": an acknowledged record is stored by a quorum of servers; it is on their disks at once only with "
         "jetstream { sync_interval: always } in their configuration";
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
          log_error("cluster",
                    std::string("cannot watch the cluster's metadata (") + natsStatus_GetText(s) + "); retrying");
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
