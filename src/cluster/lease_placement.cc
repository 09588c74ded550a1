#include "cluster/lease_placement.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <random>
#include <set>

#include "cluster/jetstream_metadata_store.h"

namespace eddy::cluster {

namespace {

constexpr const char* kBucket = "eddy_leases";

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Entry {
  kvEntry* e = nullptr;
  ~Entry() { kvEntry_Destroy(e); }
};

// Rendezvous hashing: every node ranks the nodes for a name alike, without talking.
uint64_t affinity(const std::string& node, const std::string& name) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over node, a separator and name
  for (unsigned char c : node + '\0' + name) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

std::string LeasePlacement::key_of(const Work& w) {
  return std::string(w.first == WorkKind::kApplication ? "app." : "dlv.") + encode_key_token(w.second);
}

Result<std::unique_ptr<LeasePlacement>> LeasePlacement::start(NatsConnection& nats, LeaseOptions options) {
  std::unique_ptr<LeasePlacement> p(new LeasePlacement(nats, std::move(options)));
  kvConfig kc;
  kvConfig_Init(&kc);
  kc.Bucket = kBucket;
  kc.History = 1;
  kc.Replicas = p->options_.replicas;
  kc.StorageType = js_FileStorage;
  kc.TTL = p->options_.ttl_ms * 1'000'000;  // in ns (libnats passes it on as MaxAge): unwritten keys go
  natsStatus s = js_CreateKeyValue(&p->kv_, nats.jetstream(), &kc);
  if (s != NATS_OK) s = js_KeyValue(&p->kv_, nats.jetstream(), kBucket);
  if (s != NATS_OK) return tl::unexpected(nats_error(s, std::string("opening the key-value bucket ") + kBucket));
  std::random_device rd;
  char incarnation[24];
  std::snprintf(incarnation, sizeof(incarnation), "%016" PRIx64,
                (static_cast<uint64_t>(rd()) << 32) ^ static_cast<uint64_t>(rd()));
  p->value_ = p->options_.node_id + " " + incarnation + " " + p->options_.endpoint;
  const std::string node_key = "node." + encode_key_token(p->options_.node_id);
  // Register. A key already there is another live node with this id, or this node's previous
  // incarnation (killed): the first is renewed within a tick, the second expires within the TTL.
  const int64_t give_up = steady_ms() + p->options_.ttl_ms + p->options_.ttl_ms / 5 + 1000;
  uint64_t seen = 0;
  std::string holder;
  for (;;) {
    uint64_t rev = 0;
    s = kvStore_Create(&rev, p->kv_, node_key.c_str(), p->value_.data(), static_cast<int>(p->value_.size()));
    if (s == NATS_OK) {
      p->held_[node_key] = {rev, steady_ms() + p->options_.ttl_ms - p->options_.margin_ms};
      return p;
    }
    Entry e;
    natsStatus g = kvStore_Get(&e.e, p->kv_, node_key.c_str());
    if (g == NATS_OK) {
      holder = std::string(kvEntry_ValueString(e.e), kvEntry_ValueLen(e.e));
      if (seen != 0 && kvEntry_Revision(e.e) != seen) {
        const size_t sp = holder.rfind(' ');
        return make_error(Errc::kInvalidArgument, "node id '" + p->options_.node_id + "' is in use by the node at " +
                                                      (sp == std::string::npos ? holder : holder.substr(sp + 1)) +
                                                      ": give each node its own --node-id");
      }
      seen = kvEntry_Revision(e.e);
    } else if (g != NATS_NOT_FOUND) {
      return tl::unexpected(nats_error(g, "registering node " + p->options_.node_id));
    }
    if (steady_ms() > give_up) {
      return make_error(Errc::kUnavailable, "cannot register node " + p->options_.node_id + " in the cluster (" +
                                                natsStatus_GetText(s) + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

LeasePlacement::~LeasePlacement() {
  stop();
  kvStore_Destroy(kv_);
}

void LeasePlacement::stop(bool release) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // A clean stop hands everything over at once instead of after the TTL.
  std::map<std::string, Held> held;
  {
    std::lock_guard lock(mu_);
    held.swap(held_);
  }
  // Without the servers each purge would wait out its timeout: the keys then expire by themselves.
  if (!release || !nats_.connected()) return;
  for (const auto& [key, _] : held) (void)kvStore_Purge(kv_, key.c_str(), nullptr);
}

void LeasePlacement::run(WorkList work, Listener listener) {
  thread_ = std::thread([this, work = std::move(work), listener = std::move(listener)] { loop(work, listener); });
}

bool LeasePlacement::runs_here(WorkKind kind, const std::string& name) const {
  const std::string key = key_of({kind, name});
  std::lock_guard lock(mu_);
  auto it = held_.find(key);
  return it != held_.end() && steady_ms() < it->second.valid_until_ms;
}

void LeasePlacement::loop(WorkList work, Listener listener) {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    tick(work, listener);
    lock.lock();
    cv_.wait_for(lock, std::chrono::milliseconds(options_.ttl_ms / 5), [this] { return stopping_; });
  }
}

Result<std::vector<std::string>> LeasePlacement::live_nodes() const {
  kvWatcher* w = nullptr;
  kvWatchOptions wo;
  kvWatchOptions_Init(&wo);
  wo.IgnoreDeletes = true;
  natsStatus s = kvStore_Watch(&w, kv_, "node.*", &wo);
  if (s != NATS_OK) return tl::unexpected(nats_error(s, "listing the cluster's nodes"));
  std::vector<std::string> nodes;
  for (;;) {
    kvEntry* e = nullptr;
    s = kvWatcher_Next(&e, w, 2000);
    if (s != NATS_OK || !e) break;
    const std::string value(kvEntry_ValueString(e), kvEntry_ValueLen(e));
    nodes.push_back(value.substr(0, value.find(' ')));
    kvEntry_Destroy(e);
  }
  kvWatcher_Destroy(w);
  if (s != NATS_OK) return tl::unexpected(nats_error(s, "listing the cluster's nodes"));
  return nodes;
}

void LeasePlacement::tick(const WorkList& work, const Listener& listener) {
  std::vector<std::pair<std::string, bool>> changes;  // key, gained
  // Renew what this node holds.
  std::map<std::string, Held> held;
  {
    std::lock_guard lock(mu_);
    held = held_;
  }
  for (auto& [key, h] : held) {
    const int64_t sent = steady_ms();
    uint64_t rev = 0;
    natsStatus s = kvStore_Update(&rev, kv_, key.c_str(), value_.data(), static_cast<int>(value_.size()), h.revision);
    std::lock_guard lock(mu_);
    if (s == NATS_OK) {
      held_[key] = {rev, sent + options_.ttl_ms - options_.margin_ms};
    } else if (s == NATS_ERR || steady_ms() >= h.valid_until_ms) {
      // Refused (someone else holds it now) or unrenewed for too long: no longer this node's.
      held_.erase(key);
      if (!key.starts_with("node.")) changes.push_back({key, false});
    }
  }
  // Registered again if the node's own key expired (the servers were away longer than the TTL).
  const std::string node_key = "node." + encode_key_token(options_.node_id);
  bool registered;
  {
    std::lock_guard lock(mu_);
    registered = held_.count(node_key) > 0;
  }
  if (!registered) {
    uint64_t rev = 0;
    const int64_t sent = steady_ms();
    if (kvStore_Create(&rev, kv_, node_key.c_str(), value_.data(), static_cast<int>(value_.size())) == NATS_OK) {
      std::lock_guard lock(mu_);
      held_[node_key] = {rev, sent + options_.ttl_ms - options_.margin_ms};
    }
  }
  // Take a share of what has no owner.
  const auto items = work();
  auto nodes = live_nodes();
  if (nodes && !nodes->empty()) {
    std::set<std::string> wanted;
    for (const auto& w : items) wanted.insert(key_of(w));
    size_t mine = 0;
    {
      std::lock_guard lock(mu_);
      for (const auto& [key, _] : held_) mine += !key.starts_with("node.");
    }
    const size_t share = (items.size() + nodes->size() - 1) / nodes->size();
    for (const auto& w : items) {
      if (mine >= share) break;
      const std::string key = key_of(w);
      {
        std::lock_guard lock(mu_);
        if (held_.count(key)) continue;
      }
      Entry e;
      natsStatus s = kvStore_Get(&e.e, kv_, key.c_str());
      if (s == NATS_OK) {
        unowned_ticks_.erase(key);
        continue;
      }
      if (s != NATS_NOT_FOUND) continue;
      // The preferred node takes it at once; the others after a tick without an owner.
      const std::string preferred = *std::max_element(
          nodes->begin(), nodes->end(),
          [&](const std::string& a, const std::string& b) { return affinity(a, w.second) < affinity(b, w.second); });
      if (preferred != options_.node_id && unowned_ticks_[key]++ < 1) continue;
      uint64_t rev = 0;
      const int64_t sent = steady_ms();
      if (kvStore_Create(&rev, kv_, key.c_str(), value_.data(), static_cast<int>(value_.size())) != NATS_OK) continue;
      unowned_ticks_.erase(key);
      std::lock_guard lock(mu_);
      held_[key] = {rev, sent + options_.ttl_ms - options_.margin_ms};
      changes.push_back({key, true});
      ++mine;
    }
    // Release what no longer exists.
    std::vector<std::string> gone;
    {
      std::lock_guard lock(mu_);
      for (const auto& [key, _] : held_) {
        if (!key.starts_with("node.") && !wanted.count(key)) gone.push_back(key);
      }
      for (const auto& key : gone) held_.erase(key);
    }
    for (const auto& key : gone) (void)kvStore_Purge(kv_, key.c_str(), nullptr);
  }
  for (const auto& [key, gained] : changes) {
    const WorkKind kind = key.starts_with("app.") ? WorkKind::kApplication : WorkKind::kDeliveryStream;
    if (auto name = decode_key_token(std::string_view(key).substr(4)); name && listener) listener(kind, *name, gained);
  }
}

Result<std::vector<LeasePlacement::Lease>> LeasePlacement::leases() const {
  kvWatcher* w = nullptr;
  kvWatchOptions wo;
  kvWatchOptions_Init(&wo);
  wo.IgnoreDeletes = true;
  natsStatus s = kvStore_WatchAll(&w, kv_, &wo);
  if (s != NATS_OK) return tl::unexpected(nats_error(s, "listing the leases"));
  std::vector<Lease> out;
  for (;;) {
    kvEntry* e = nullptr;
    s = kvWatcher_Next(&e, w, 2000);
    if (s != NATS_OK || !e) break;
    const std::string value(kvEntry_ValueString(e), kvEntry_ValueLen(e));
    out.push_back({kvEntry_Key(e), value.substr(0, value.find(' '))});
    kvEntry_Destroy(e);
  }
  kvWatcher_Destroy(w);
  return out;
}

}  // namespace eddy::cluster
