// StreamStore's construction, stream lookup and the errors and per-shard checks every operation
// shares, and its metadata: each stream's stream.json written atomically and read back at start.
// The operations themselves live beside it by job: stream_control.cc, stream_resharding.cc,
// stream_data.cc, stream_internal_reads.cc and stream_background.cc.

#include "stream/stream_store.h"

#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/path_names.h"
#include "stream/stream_store_internal.h"

namespace eddy::stream {
namespace {

constexpr const char* kMetaFile = "stream.json";

std::string shard_dir_name(uint32_t index) {
  return "shard-" + shard_id(index).substr(8);
}

}  // namespace

StreamStore::StreamStore(StoreOptions options, const Clock& clock, log::GroupCommitter& committer)
    : options_(std::move(options)), clock_(clock), committer_(committer) {
  options_.log.visible_after_sync = committer.policy().mode == log::FsyncMode::kAlways;
  shared_ = options_.metadata != nullptr;
  if (!options_.metadata) {
    options_.metadata =
        std::make_shared<FileMetadataStore>(options_.dir, kMetaFile, [](std::string_view text) -> Result<std::string> {
          try {
            return nlohmann::json::parse(text).at("name").get<std::string>();
          } catch (const std::exception& e) {
            return make_error(Errc::kCorruption,
                              std::string(e.what()) + " (restore it from a backup or move the stream's folder away)");
          }
        });
  }
}

StreamStore::~StreamStore() {
  {
    std::lock_guard lock(tasks_mu_);
    stopping_ = true;
  }
  tasks_cv_.notify_all();
  if (background_.joinable()) background_.join();
}

Result<std::unique_ptr<StreamStore>> StreamStore::open(StoreOptions options, const Clock& clock,
                                                       log::GroupCommitter& committer) {
  std::unique_ptr<StreamStore> store(new StreamStore(std::move(options), clock, committer));
  std::error_code ec;
  std::filesystem::create_directories(store->options_.dir, ec);
  if (ec) {
    return make_error(Errc::kIo, "cannot create " + store->options_.dir.string() + ": " + ec.message() +
                                     " (choose a writable --data-dir)");
  }
  if (auto st = store->load(); !st) return tl::unexpected(st.error());
  store->background_ = std::thread([s = store.get()] { s->run_background(); });
  return store;
}

std::string StreamStore::arn(std::string_view name) const {
  return "arn:aws:kinesis:" + options_.region + ":" + options_.account + ":stream/" + std::string(name);
}

Result<std::string> StreamStore::name_from_arn(std::string_view arn_text) const {
  // arn:aws:kinesis:<region>:<account>:stream/<name>; any region is accepted, as clients sign
  // for the region they were configured with.
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (int i = 0; i < 5; ++i) {
    const size_t colon = arn_text.find(':', start);
    if (colon == std::string_view::npos) break;
    parts.push_back(arn_text.substr(start, colon - start));
    start = colon + 1;
  }
  const std::string_view rest = start < arn_text.size() ? arn_text.substr(start) : std::string_view{};
  if (parts.size() != 5 || parts[0] != "arn" || parts[2] != "kinesis" || !rest.starts_with("stream/")) {
    return make_error(Errc::kInvalidArgument, "Invalid StreamARN: " + std::string(arn_text));
  }
  if (parts[4] != options_.account) {
    return make_error(Errc::kAccessDenied, "User is not authorized to access stream " + std::string(arn_text) +
                                               " in account " + std::string(parts[4]));
  }
  return std::string(rest.substr(7));
}

tl::unexpected<Error> StreamStore::not_found(std::string_view name) const {
  return make_error(Errc::kResourceNotFound,
                    "Stream " + std::string(name) + " under account " + options_.account + " not found.");
}

tl::unexpected<Error> StreamStore::not_active(const Stream& s) const {
  return make_error(Errc::kResourceInUse, "Stream " + s.name + " under account " + options_.account +
                                              " not ACTIVE, instead in state " + to_string(s.status));
}

std::shared_ptr<Stream> StreamStore::find(const std::string& name) const {
  if (auto s = find_held(name)) return s;
  // Shared documents: another node may have created the stream a moment ago, before the watch
  // told this one. Reading its document here gives a client that goes from node to node the
  // same answers as one machine.
  if (!shared_ || !reload(name)) return nullptr;
  return find_held(name);
}

std::shared_ptr<Stream> StreamStore::find_held(const std::string& name) const {
  std::shared_lock lock(mu_);
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::shared_ptr<Stream> StreamStore::find_by_id(uint64_t id) const {
  std::shared_lock lock(mu_);
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

Result<std::shared_ptr<Stream>> StreamStore::require(const std::string& name) const {
  auto s = find(name);
  if (!s) return not_found(name);
  return s;
}

Result<std::shared_ptr<Stream>> StreamStore::require_active(const std::string& name) const {
  auto s = require(name);
  if (!s) return s;
  std::shared_lock lock((*s)->mu);
  if ((*s)->status != StreamStatus::kActive) return not_active(**s);
  return s;
}

std::filesystem::path StreamStore::stream_dir(const Stream& s) const {
  return options_.dir / path_component(s.name);
}

bool StreamStore::shard_expired(const Stream& s, const ShardInfo& info) const {
  return info.closed_ms && *info.closed_ms < clock_.now_ms() - TimestampMs{s.retention_hours} * 3600 * 1000;
}

log::Offset StreamStore::trim_horizon(const Stream& s, const Shard& shard) const {
  const TimestampMs cutoff = clock_.now_ms() - TimestampMs{s.retention_hours} * 3600 * 1000;
  const auto oldest = shard.log->oldest_arrival_ms();
  if (!oldest || *oldest >= cutoff) return shard.log->start_offset();
  auto off = shard.log->offset_for_time(cutoff);
  return off ? *off : shard.log->start_offset();
}

Status StreamStore::persist(Stream& s) const {
  nlohmann::json j;
  j["name"] = s.name;
  j["id"] = s.id;
  j["created_ms"] = s.created_ms;
  j["retention_hours"] = s.retention_hours;
  j["mode"] = to_string(s.mode);
  j["max_record_kib"] = s.max_record_kib;
  j["tags"] = s.tags;
  j["scaling_history"] = s.scaling_history;
  if (s.warm_throughput_mibps) j["warm_throughput_mibps"] = *s.warm_throughput_mibps;
  j["shard_level_metrics"] = s.shard_level_metrics;
  j["resource_policy"] = s.resource_policy;
  j["encryption_key_id"] = s.encryption_key_id;
  auto& consumers = j["consumers"] = nlohmann::json::array();
  for (const auto& c : s.consumers)
    consumers.push_back({{"name", c.name}, {"created_ms", c.created_ms}, {"tags", c.tags}});
  auto& shards = j["shards"] = nlohmann::json::array();
  for (const auto& sh : s.shards) {
    const auto& i = sh->info;
    nlohmann::json e;
    e["index"] = i.index;
    e["start"] = to_decimal(i.range.start);
    e["end"] = to_decimal(i.range.end);
    e["parent"] = i.parent ? nlohmann::json(*i.parent) : nlohmann::json();
    e["adjacent_parent"] = i.adjacent_parent ? nlohmann::json(*i.adjacent_parent) : nlohmann::json();
    e["created_ms"] = i.created_ms;
    e["closed_ms"] = i.closed_ms ? nlohmann::json(*i.closed_ms) : nlohmann::json();
    e["end_offset"] = i.end_offset;
    shards.push_back(std::move(e));
  }
  auto revision = options_.metadata->put(s.name, j.dump(1), s.revision);
  if (!revision && revision.error().code == Errc::kConcurrentModification) {
    // Another node changed the stream since this node read it (cluster mode); this node reloads
    // it when the metadata store reports the change, and the caller may retry then.
    return make_error(Errc::kResourceInUse, "Stream " + s.name + " under account " + options_.account +
                                                " is being changed by another request; retry.");
  }
  if (!revision) return tl::unexpected(revision.error());
  s.revision = *revision;
  return {};
}

Result<std::shared_ptr<Shard>> StreamStore::open_shard(const Stream& s, ShardInfo info) const {
  const auto dir = stream_dir(s) / shard_dir_name(info.index);
  Result<std::shared_ptr<log::ShardStorage>> storage =
      options_.open_storage ? options_.open_storage(s.name, s.id, info.index, dir)
                            : log::ShardLog::open(dir, options_.log).map([](std::unique_ptr<log::ShardLog> l) {
                                return std::shared_ptr<log::ShardStorage>(std::move(l));
                              });
  if (!storage) return tl::unexpected(storage.error());
  auto shard = std::make_shared<Shard>();
  shard->info = std::move(info);
  shard->log = std::move(*storage);
  if (!shard->info.open()) {
    // Closed shards are sealed when they close; this repeats it for a seal a crash interrupted.
    if (auto sealed = shard->log->seal(); !sealed) return tl::unexpected(sealed.error());
  }
  committer_.track(shard->log);
  return shard;
}

Status StreamStore::load() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(options_.dir, ec)) {
    // A deletion by an older eddy (a rename to .deleting-<id>) that a crash interrupted.
    if (entry.is_directory() && entry.path().filename().string().starts_with(kDeletingPrefix))
      std::filesystem::remove_all(entry.path(), ec);
  }
  auto names = options_.metadata->names();  // a stream whose creation never completed has none
  if (!names) return tl::unexpected(names.error());
  for (const auto& name : *names) {
    auto doc = options_.metadata->get(name);
    if (!doc) return tl::unexpected(doc.error());
    if (!*doc) continue;
    auto s = from_document(**doc, nullptr);
    if (!s) return tl::unexpected(s.error());
    by_id_[(*s)->id] = *s;
    by_name_[(*s)->name] = std::move(*s);
  }
  return {};
}

Result<std::shared_ptr<Stream>> StreamStore::from_document(const MetadataStore::Document& doc,
                                                           const Stream* reuse) const {
  auto s = std::make_shared<Stream>();
  try {
    const auto j = nlohmann::json::parse(doc.value);
    s->name = j.at("name").get<std::string>();
    s->revision = doc.revision;
    s->id = j.at("id").get<uint64_t>();
    s->created_ms = j.at("created_ms").get<TimestampMs>();
    s->retention_hours = j.at("retention_hours").get<int>();
    s->mode = j.at("mode").get<std::string>() == "ON_DEMAND" ? StreamMode::kOnDemand : StreamMode::kProvisioned;
    s->max_record_kib = j.value("max_record_kib", 1024u);
    s->tags = j.at("tags").get<std::map<std::string, std::string>>();
    s->scaling_history = j.value("scaling_history", std::vector<TimestampMs>{});
    if (j.contains("warm_throughput_mibps")) s->warm_throughput_mibps = j["warm_throughput_mibps"].get<uint32_t>();
    s->shard_level_metrics = j.value("shard_level_metrics", std::vector<std::string>{});
    s->resource_policy = j.value("resource_policy", std::string{});
    s->encryption_key_id = j.value("encryption_key_id", std::string{});
    for (const auto& c : j.value("consumers", nlohmann::json::array())) {
      s->consumers.push_back({c.at("name").get<std::string>(), c.at("created_ms").get<TimestampMs>(),
                              c.value("tags", std::map<std::string, std::string>{})});
    }
    if (reuse && reuse->id != s->id) reuse = nullptr;  // a new stream of the same name
    if (reuse) s->counters = reuse->counters;
    for (const auto& e : j.at("shards")) {
      ShardInfo i;
      i.index = e.at("index").get<uint32_t>();
      i.range.start = parse_decimal_u128(e.at("start").get<std::string>()).value();
      i.range.end = parse_decimal_u128(e.at("end").get<std::string>()).value();
      if (!e.at("parent").is_null()) i.parent = e.at("parent").get<uint32_t>();
      if (!e.at("adjacent_parent").is_null()) i.adjacent_parent = e.at("adjacent_parent").get<uint32_t>();
      i.created_ms = e.at("created_ms").get<TimestampMs>();
      if (!e.at("closed_ms").is_null()) i.closed_ms = e.at("closed_ms").get<TimestampMs>();
      i.end_offset = e.at("end_offset").get<log::Offset>();
      if (const Shard* held = reuse ? reuse->shard(i.index) : nullptr) {
        auto shard = std::make_shared<Shard>();
        const bool closes = held->info.open() && !i.open();
        shard->info = std::move(i);
        shard->log = held->log;
        shard->counters = held->counters;
        if (closes) {
          if (auto sealed = shard->log->seal(); !sealed) return tl::unexpected(sealed.error());
        }
        s->shards.push_back(std::move(shard));
        continue;
      }
      auto shard = open_shard(*s, std::move(i));
      if (!shard) return tl::unexpected(shard.error());
      s->shards.push_back(std::move(*shard));
    }
  } catch (const std::exception& e) {
    return make_error(Errc::kCorruption, "cannot read the document of stream " + s->name + ": " + e.what() +
                                             " (restore it from a backup or move the stream's folder away)");
  }
  s->status = StreamStatus::kActive;
  s->rebuild_open_shards();
  return s;
}

Status StreamStore::reload(const std::string& name) const {
  auto doc = options_.metadata->get(name);
  if (!doc) return tl::unexpected(doc.error());
  auto current = find_held(name);
  if (!*doc) {
    if (!current) return {};
    std::unique_lock lock(current->mu);
    // Revision 0: this node's own creation, not yet written. Otherwise another node deleted it
    // (and frees its shards); this node forgets it.
    if (current->revision == 0 || current->status == StreamStatus::kDeleting) return {};
    current->status = StreamStatus::kDeleting;
    lock.unlock();
    std::unique_lock mlock(mu_);
    auto it = by_name_.find(name);
    if (it != by_name_.end() && it->second == current) by_name_.erase(it);
    by_id_.erase(current->id);
    return {};
  }
  if (current) {
    std::shared_lock lock(current->mu);
    if (current->revision >= (*doc)->revision) return {};
  }
  std::shared_ptr<Stream> fresh;
  if (current) {
    std::shared_lock lock(current->mu);
    auto built = from_document(**doc, current.get());
    if (!built) return tl::unexpected(built.error());
    fresh = std::move(*built);
  } else {
    auto built = from_document(**doc, nullptr);
    if (!built) return tl::unexpected(built.error());
    fresh = std::move(*built);
  }
  if (current && current->id == fresh->id) {
    // In place: requests holding the stream see the new shards at their next lock.
    std::unique_lock lock(current->mu);
    if (current->revision >= fresh->revision) return {};  // this node wrote something newer meanwhile
    current->revision = fresh->revision;
    current->created_ms = fresh->created_ms;
    current->retention_hours = fresh->retention_hours;
    current->mode = fresh->mode;
    current->max_record_kib = fresh->max_record_kib;
    current->tags = std::move(fresh->tags);
    current->scaling_history = std::move(fresh->scaling_history);
    current->warm_throughput_mibps = fresh->warm_throughput_mibps;
    current->shard_level_metrics = std::move(fresh->shard_level_metrics);
    current->resource_policy = std::move(fresh->resource_policy);
    current->consumers = std::move(fresh->consumers);
    current->encryption_key_id = std::move(fresh->encryption_key_id);
    current->shards = std::move(fresh->shards);
    if (current->status != StreamStatus::kCreating) current->status = StreamStatus::kActive;
    current->rebuild_open_shards();
    return {};
  }
  std::unique_lock mlock(mu_);
  if (current) by_id_.erase(current->id);
  by_id_[fresh->id] = fresh;
  by_name_[name] = std::move(fresh);
  return {};
}

}  // namespace eddy::stream
