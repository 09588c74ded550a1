#include "cluster/jetstream_metadata_store.h"

#include <algorithm>

namespace eddy::cluster {

namespace {

bool plain(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Frees a libnats object when it goes out of scope.
template <class T, void (*Free)(T*)>
struct Owned {
  T* p = nullptr;
  ~Owned() { Free(p); }
};

}  // namespace

std::string encode_key_token(std::string_view name) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(name.size());
  for (unsigned char c : name) {
    if (plain(c)) {
      out += static_cast<char>(c);
    } else {
      out += '=';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> decode_key_token(std::string_view token) {
  std::string out;
  for (size_t i = 0; i < token.size(); ++i) {
    if (token[i] != '=') {
      if (!plain(static_cast<unsigned char>(token[i]))) return std::nullopt;
      out += token[i];
      continue;
    }
    if (i + 2 >= token.size()) return std::nullopt;
    const int hi = hex_value(token[i + 1]), lo = hex_value(token[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

Result<std::unique_ptr<JetStreamMetadataStore>> JetStreamMetadataStore::open(NatsConnection& nats,
                                                                             const std::string& bucket,
                                                                             const std::string& kind, int replicas) {
  std::unique_ptr<JetStreamMetadataStore> store(new JetStreamMetadataStore(nats, bucket, kind));
  kvConfig config;
  kvConfig_Init(&config);
  config.Bucket = store->bucket_.c_str();
  config.History = 1;
  config.Replicas = replicas;
  config.StorageType = js_FileStorage;
  // The same configuration from every node: creating it again opens it.
  natsStatus s = js_CreateKeyValue(&store->kv_, nats.jetstream(), &config);
  if (s != NATS_OK) s = js_KeyValue(&store->kv_, nats.jetstream(), store->bucket_.c_str());
  if (s != NATS_OK) {
    return make_error(Errc::kIo, nats_error(s, "opening the key-value bucket " + bucket).message +
                                     (replicas > 1 ? "; are there " + std::to_string(replicas) +
                                                         " servers for --replicas " + std::to_string(replicas) + "?"
                                                   : ""));
  }
  return store;
}

JetStreamMetadataStore::~JetStreamMetadataStore() {
  kvStore_Destroy(kv_);
}

Result<std::vector<std::string>> JetStreamMetadataStore::names() const {
  kvWatchOptions options;
  kvWatchOptions_Init(&options);
  options.MetaOnly = true;
  options.IgnoreDeletes = true;
  Owned<kvWatcher, kvWatcher_Destroy> watcher;
  const std::string filter = kind_ + ".*";
  if (natsStatus s = kvStore_Watch(&watcher.p, kv_, filter.c_str(), &options); s != NATS_OK)
    return tl::unexpected(nats_error(s, "listing " + kind_));
  std::vector<std::string> out;
  for (;;) {  // the initial values, then a null entry
    Owned<kvEntry, kvEntry_Destroy> entry;
    if (natsStatus s = kvWatcher_Next(&entry.p, watcher.p, 5000); s != NATS_OK)
      return tl::unexpected(nats_error(s, "listing " + kind_));
    if (!entry.p) break;
    const std::string_view key = kvEntry_Key(entry.p);
    auto name = decode_key_token(key.substr(kind_.size() + 1));
    if (!name)
      return make_error(Errc::kCorruption, "key " + std::string(key) + " in bucket " + bucket_ + " is not eddy's");
    out.push_back(std::move(*name));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::optional<MetadataStore::Document>> JetStreamMetadataStore::get(std::string_view name) const {
  // From the bucket stream's leader, not kvStore_Get: that is a direct get, which any replica may
  // answer, and a replica that is behind would answer "not found" for a document just created (a
  // node would forget its own new stream) or an older revision.
  const std::string stream = "KV_" + bucket_, subject = "$KV." + bucket_ + "." + key(name);
  natsMsg* m = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetLastMsg(&m, nats_.jetstream(), stream.c_str(), subject.c_str(), nullptr, &code);
  if (s == NATS_NOT_FOUND || code == JSNoMessageFoundErr) return std::optional<Document>{};  // never written
  if (s != NATS_OK) return tl::unexpected(nats_error(s, "reading " + kind_ + " " + std::string(name), code));
  Owned<natsMsg, natsMsg_Destroy> msg{m};
  const char* op = nullptr;
  if (natsMsgHeader_Get(m, "KV-Operation", &op) == NATS_OK && op) return std::optional<Document>{};  // removed
  return std::optional<Document>{
      Document{std::string(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m))), natsMsg_GetSequence(m)}};
}

Error JetStreamMetadataStore::refused(natsStatus status, std::string_view name, uint64_t expected,
                                      const char* what) const {
  // libnats' KV calls return no JetStream error code: read the key again to tell a conflict
  // (its revision moved on) from a failure of the servers.
  auto now = get(name);
  const uint64_t revision = now && *now ? (*now)->revision : 0;
  if (now && revision != expected) {
    if (expected == 0) return Error{Errc::kResourceInUse, std::string(name) + " already exists"};
    return Error{Errc::kConcurrentModification, std::string(name) + " was changed meanwhile (revision " +
                                                    std::to_string(revision) + ", not " + std::to_string(expected) +
                                                    "); read it again"};
  }
  return nats_error(status, std::string(what) + " " + kind_ + " " + std::string(name));
}

Result<uint64_t> JetStreamMetadataStore::put(std::string_view name, std::string_view value, uint64_t expected) {
  uint64_t revision = 0;
  const std::string k = key(name);
  // Never kvStore_Update with 0: libnats reads it as "no expectation", a blind write.
  const natsStatus s =
      expected == 0 ? kvStore_Create(&revision, kv_, k.c_str(), value.data(), static_cast<int>(value.size()))
                    : kvStore_Update(&revision, kv_, k.c_str(), value.data(), static_cast<int>(value.size()), expected);
  if (s != NATS_OK) return tl::unexpected(refused(s, name, expected, "writing"));
  return revision;
}

Status JetStreamMetadataStore::remove(std::string_view name, uint64_t expected) {
  // libnats 3.4's kvStore_Purge takes no revision: the purge marker is published by hand, on
  // condition that the key's last write is still `expected`.
  const std::string subject = "$KV." + bucket_ + "." + key(name);
  Owned<natsMsg, natsMsg_Destroy> msg;
  natsStatus s = natsMsg_Create(&msg.p, subject.c_str(), nullptr, nullptr, 0);
  if (s == NATS_OK) s = natsMsgHeader_Set(msg.p, "KV-Operation", "PURGE");
  if (s == NATS_OK) s = natsMsgHeader_Set(msg.p, "Nats-Rollup", "sub");
  if (s != NATS_OK) return tl::unexpected(nats_error(s, "removing " + kind_ + " " + std::string(name)));
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.ExpectLastSubjectSeq = expected;
  if (expected == 0) options.ExpectNoMessage = true;
  Owned<jsPubAck, jsPubAck_Destroy> ack;
  jsErrCode code = static_cast<jsErrCode>(0);
  s = js_PublishMsg(&ack.p, nats_.jetstream(), msg.p, &options, &code);
  if (s != NATS_OK) return tl::unexpected(refused(s, name, expected, "removing"));
  return {};
}

}  // namespace eddy::cluster
