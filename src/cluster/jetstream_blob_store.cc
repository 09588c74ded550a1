#include "cluster/jetstream_blob_store.h"

#include <sstream>

#include "cluster/jetstream_metadata_store.h"

namespace eddy::cluster {

namespace {

constexpr const char* kBucket = "eddy_ckpt";
constexpr const char* kStream = "EDDY_CKPT";
constexpr const char* kNoBlob = "v1 none";  // a claim before the first write

// "v1 <size> <seq>...": where the chunks of the latest blob are.
struct Head {
  size_t size = 0;
  std::vector<uint64_t> seqs;
  bool empty = true;
};

std::optional<Head> parse_head(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::string version, size;
  if (!(in >> version >> size) || version != "v1") return std::nullopt;
  Head h;
  if (size == "none") return h;
  h.empty = false;
  try {
    h.size = std::stoull(size);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  uint64_t seq;
  while (in >> seq) h.seqs.push_back(seq);
  return h;
}

struct Entry {
  kvEntry* e = nullptr;
  ~Entry() { kvEntry_Destroy(e); }
};

}  // namespace

Result<std::unique_ptr<JetStreamBlobStore>> JetStreamBlobStore::open(NatsConnection& nats, const std::string& kind,
                                                                     int replicas) {
  std::unique_ptr<JetStreamBlobStore> store(new JetStreamBlobStore(nats, kind));
  kvConfig kc;
  kvConfig_Init(&kc);
  kc.Bucket = kBucket;
  kc.History = 1;
  kc.Replicas = replicas;
  kc.StorageType = js_FileStorage;
  natsStatus s = js_CreateKeyValue(&store->kv_, nats.jetstream(), &kc);
  if (s != NATS_OK) s = js_KeyValue(&store->kv_, nats.jetstream(), kBucket);
  if (s != NATS_OK) return tl::unexpected(nats_error(s, std::string("opening the key-value bucket ") + kBucket));
  const int64_t max_payload = natsConnection_GetMaxPayload(nats.connection());
  // Half the limit: a chunk read from the stream leader comes base64-encoded in a JSON reply.
  store->chunk_bytes_ = static_cast<size_t>(std::max<int64_t>(max_payload / 2, 64 << 10));
  const char* subjects[] = {"eddy.ckpt.>"};
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = kStream;
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  sc.Storage = js_FileStorage;
  sc.Replicas = replicas;
  sc.AllowDirect = true;
  sc.MaxMsgSize = static_cast<int32_t>(max_payload);
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  s = js_AddStream(&info, nats.jetstream(), &sc, nullptr, &code);
  jsStreamInfo_Destroy(info);
  if (s != NATS_OK && code != JSStreamNameExistErr)
    return tl::unexpected(nats_error(s, std::string("creating JetStream stream ") + kStream, code));
  return store;
}

JetStreamBlobStore::~JetStreamBlobStore() {
  kvStore_Destroy(kv_);
}

std::string JetStreamBlobStore::key(const std::string& name) const {
  return kind_ + "." + encode_key_token(name);
}

std::string JetStreamBlobStore::what(const std::string& name) const {
  if (kind_ == "app") return "the checkpoint of application " + name;
  if (kind_ == "job") return "the job library " + name;
  if (kind_ == "dlv") return "the delivery state " + name;
  return kind_ + " " + name;
}

std::string JetStreamBlobStore::subject(const std::string& name) const {
  return "eddy.ckpt." + kind_ + "." + encode_key_token(name);
}

Status JetStreamBlobStore::claim(const std::string& name) {
  const std::string k = key(name);
  for (int attempt = 0; attempt < 3; ++attempt) {
    Entry current;
    natsStatus s = kvStore_Get(&current.e, kv_, k.c_str());
    uint64_t rev = 0;
    if (s == NATS_OK) {
      // Writing the same head again moves its revision past what any earlier owner holds.
      s = kvStore_Update(&rev, kv_, k.c_str(), kvEntry_Value(current.e), kvEntry_ValueLen(current.e),
                         kvEntry_Revision(current.e));
    } else if (s == NATS_NOT_FOUND) {
      s = kvStore_Create(&rev, kv_, k.c_str(), kNoBlob, static_cast<int>(std::char_traits<char>::length(kNoBlob)));
    } else {
      return tl::unexpected(nats_error(s, "claiming " + what(name)));
    }
    if (s == NATS_OK) {
      std::lock_guard lock(mu_);
      held_[name] = rev;
      return {};
    }
    if (s != NATS_ERR) return tl::unexpected(nats_error(s, "claiming " + what(name)));
    // Someone else wrote in between: read again and claim over it.
  }
  return make_error(Errc::kConcurrentModification, what(name) + " keeps changing; retry");
}

Status JetStreamBlobStore::write(const std::string& name, std::string_view bytes) {
  uint64_t held;
  {
    std::lock_guard lock(mu_);
    auto it = held_.find(name);
    if (it == held_.end()) return make_error(Errc::kConcurrentModification, "this node has not claimed " + what(name));
    held = it->second;
  }
  const std::string subj = subject(name);
  std::string head = "v1 " + std::to_string(bytes.size());
  uint64_t first_seq = 0;
  for (size_t at = 0; at < bytes.size() || at == 0; at += chunk_bytes_) {
    const std::string_view chunk = bytes.substr(at, chunk_bytes_);
    jsPubAck* ack = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus s =
        js_Publish(&ack, nats_.jetstream(), subj.c_str(), chunk.data(), static_cast<int>(chunk.size()), nullptr, &code);
    if (s != NATS_OK) return tl::unexpected(nats_error(s, "writing " + what(name), code));
    if (first_seq == 0) first_seq = ack->Sequence;
    head += " " + std::to_string(ack->Sequence);
    jsPubAck_Destroy(ack);
    if (bytes.empty()) break;
  }
  uint64_t rev = 0;
  natsStatus s = kvStore_Update(&rev, kv_, key(name).c_str(), head.data(), static_cast<int>(head.size()), held);
  if (s != NATS_OK) {
    Entry current;
    if (s == NATS_ERR && kvStore_Get(&current.e, kv_, key(name).c_str()) == NATS_OK &&
        kvEntry_Revision(current.e) != held) {
      std::lock_guard lock(mu_);
      held_.erase(name);
      return make_error(Errc::kConcurrentModification,
                        "another node has taken " + what(name) + " over: this node's write is refused");
    }
    return tl::unexpected(nats_error(s, "committing " + what(name)));
  }
  {
    std::lock_guard lock(mu_);
    held_[name] = rev;
  }
  // The chunks of earlier checkpoints (and of writes that never committed) go. (A sequence of 1
  // would mean "no sequence", a purge of the whole subject, to the servers; nothing precedes it.)
  if (first_seq <= 1) return {};
  jsOptions o;
  jsOptions_Init(&o);
  o.Stream.Purge.Subject = subj.c_str();
  o.Stream.Purge.Sequence = first_seq;
  jsErrCode code = static_cast<jsErrCode>(0);
  (void)js_PurgeStream(nats_.jetstream(), kStream, &o, &code);  // the next write purges them if this fails
  return {};
}

Result<std::optional<std::string>> JetStreamBlobStore::read(const std::string& name) const {
  Entry current;
  natsStatus s = kvStore_Get(&current.e, kv_, key(name).c_str());
  if (s == NATS_NOT_FOUND) return std::nullopt;
  if (s != NATS_OK) return tl::unexpected(nats_error(s, "reading " + what(name)));
  auto head = parse_head(std::string_view(kvEntry_ValueString(current.e), kvEntry_ValueLen(current.e)));
  if (!head) return make_error(Errc::kCorruption, "the checkpoint head of " + name + " is not eddy's");
  if (head->empty) return std::nullopt;
  std::string out;
  out.reserve(head->size);
  for (uint64_t seq : head->seqs) {
    natsMsg* m = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    // From the leader: a replica that is behind may not have the newest chunks yet.
    s = js_GetMsg(&m, nats_.jetstream(), kStream, seq, nullptr, &code);
    if (s != NATS_OK) return tl::unexpected(nats_error(s, "reading " + what(name), code));
    out.append(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
    natsMsg_Destroy(m);
  }
  if (out.size() != head->size) return make_error(Errc::kCorruption, what(name) + " is incomplete");
  return out;
}

Status JetStreamBlobStore::remove(const std::string& name) {
  {
    std::lock_guard lock(mu_);
    held_.erase(name);
  }
  natsStatus s = kvStore_Purge(kv_, key(name).c_str(), nullptr);
  if (s != NATS_OK && s != NATS_NOT_FOUND) return tl::unexpected(nats_error(s, "removing " + what(name)));
  const std::string subj = subject(name);
  jsOptions o;
  jsOptions_Init(&o);
  o.Stream.Purge.Subject = subj.c_str();
  jsErrCode code = static_cast<jsErrCode>(0);
  s = js_PurgeStream(nats_.jetstream(), kStream, &o, &code);
  if (s != NATS_OK) return tl::unexpected(nats_error(s, "removing " + what(name), code));
  return {};
}

}  // namespace eddy::cluster
