// Over 800 lines because it still holds metadata persistence, resharding, retention and the put
// and read paths of every stream; issue 22 separates them behind the storage seam that cluster
// mode (issue 23) needs.

#include "stream/stream_store.h"

#include <algorithm>
#include <random>

#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/fault_log.h"
#include "common/file_util.h"
#include "common/path_names.h"
#include "stream/sequence_number.h"
#include "stream/tokens.h"

namespace eddy::stream {
namespace {

constexpr size_t kMaxGetRecordsBytes = 10u << 20;
constexpr size_t kMaxTagsPerStream = 50;
constexpr size_t kAccountShardLimit = 500;
constexpr int kMaxCreatingStreams = 5;
constexpr int kOnDemandShards = 4;
constexpr TimestampMs kDayMs = 24LL * 3600 * 1000;
constexpr const char* kMetaFile = "stream.json";
constexpr const char* kDeletingPrefix = ".deleting-";

uint64_t random_id() {
  static std::mt19937_64 rng{std::random_device{}()};
  static std::mutex mu;
  std::lock_guard lock(mu);
  uint64_t v = 0;
  while (v == 0) v = rng();
  return v;
}

std::string shard_dir_name(uint32_t index) {
  return "shard-" + shard_id(index).substr(8);
}

}  // namespace

std::optional<IteratorType> parse_iterator_type(std::string_view s) {
  if (s == "AT_SEQUENCE_NUMBER") return IteratorType::kAtSequenceNumber;
  if (s == "AFTER_SEQUENCE_NUMBER") return IteratorType::kAfterSequenceNumber;
  if (s == "TRIM_HORIZON") return IteratorType::kTrimHorizon;
  if (s == "LATEST") return IteratorType::kLatest;
  if (s == "AT_TIMESTAMP") return IteratorType::kAtTimestamp;
  return std::nullopt;
}

std::optional<ShardFilterType> parse_shard_filter_type(std::string_view s) {
  if (s == "AFTER_SHARD_ID") return ShardFilterType::kAfterShardId;
  if (s == "AT_TRIM_HORIZON") return ShardFilterType::kAtTrimHorizon;
  if (s == "FROM_TRIM_HORIZON") return ShardFilterType::kFromTrimHorizon;
  if (s == "AT_LATEST") return ShardFilterType::kAtLatest;
  if (s == "AT_TIMESTAMP") return ShardFilterType::kAtTimestamp;
  if (s == "FROM_TIMESTAMP") return ShardFilterType::kFromTimestamp;
  return std::nullopt;
}

StreamStore::StreamStore(StoreOptions options, const Clock& clock, log::GroupCommitter& committer)
    : options_(std::move(options)), clock_(clock), committer_(committer) {
  options_.log.visible_after_sync = committer.policy().mode == log::FsyncMode::kAlways;
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

Status StreamStore::persist(const Stream& s) const {
  nlohmann::json j;
  j["name"] = s.name;
  j["id"] = s.id;
  j["created_ms"] = s.created_ms;
  j["retention_hours"] = s.retention_hours;
  j["mode"] = to_string(s.mode);
  j["max_record_kib"] = s.max_record_kib;
  j["tags"] = s.tags;
  j["scaling_history"] = s.scaling_history;
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
  return write_file_atomic(stream_dir(s) / kMetaFile, j.dump(1));
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
  if (!shard->info.open()) shard->log->seal();
  committer_.track(shard->log);
  return shard;
}

Status StreamStore::load() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(options_.dir, ec)) {
    if (!entry.is_directory()) continue;
    const auto dir_name = entry.path().filename().string();
    if (dir_name.starts_with(kDeletingPrefix)) {  // a deletion interrupted by a crash
      std::filesystem::remove_all(entry.path(), ec);
      continue;
    }
    auto text = read_file(entry.path() / kMetaFile);
    if (!text) continue;  // a stream whose creation never completed
    auto s = std::make_shared<Stream>();
    try {
      const auto j = nlohmann::json::parse(*text);
      s->name = j.at("name").get<std::string>();
      if (auto st = move_to_entry(entry.path(), stream_dir(*s)); !st) return st;
      s->id = j.at("id").get<uint64_t>();
      s->created_ms = j.at("created_ms").get<TimestampMs>();
      s->retention_hours = j.at("retention_hours").get<int>();
      s->mode = j.at("mode").get<std::string>() == "ON_DEMAND" ? StreamMode::kOnDemand : StreamMode::kProvisioned;
      s->max_record_kib = j.value("max_record_kib", 1024u);
      s->tags = j.at("tags").get<std::map<std::string, std::string>>();
      s->scaling_history = j.value("scaling_history", std::vector<TimestampMs>{});
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
        auto shard = open_shard(*s, std::move(i));
        if (!shard) return tl::unexpected(shard.error());
        s->shards.push_back(std::move(*shard));
      }
    } catch (const std::exception& e) {
      return make_error(Errc::kCorruption, "cannot read " + (entry.path() / kMetaFile).string() + ": " + e.what() +
                                               " (restore it from a backup or move the stream's folder away)");
    }
    s->status = StreamStatus::kActive;
    s->rebuild_open_shards();
    by_id_[s->id] = s;
    by_name_[s->name] = std::move(s);
  }
  return {};
}

// ---- background work ------------------------------------------------------------------------

void StreamStore::schedule(TimestampMs delay, std::function<void()> fn) {
  {
    std::lock_guard lock(tasks_mu_);
    tasks_.emplace(clock_.now_ms() + delay, std::move(fn));
  }
  tasks_cv_.notify_all();
}

void StreamStore::run_background() {
  TimestampMs next_retention = clock_.now_ms() + options_.retention_check_ms;
  std::unique_lock lock(tasks_mu_);
  while (!stopping_) {
    const TimestampMs now = clock_.now_ms();
    if (!tasks_.empty() && tasks_.begin()->first <= now) {
      auto fn = std::move(tasks_.begin()->second);
      tasks_.erase(tasks_.begin());
      lock.unlock();
      fn();
      lock.lock();
      continue;
    }
    if (now >= next_retention) {
      lock.unlock();
      enforce_retention();
      lock.lock();
      next_retention = now + options_.retention_check_ms;
      continue;
    }
    TimestampMs wake = next_retention;
    if (!tasks_.empty()) wake = std::min(wake, tasks_.begin()->first);
    // Wake at least every 50 ms: the clock may be a test clock that jumps.
    tasks_cv_.wait_for(lock, std::chrono::milliseconds(std::clamp<TimestampMs>(wake - now, 1, 50)));
  }
}

void StreamStore::enforce_retention() {
  std::vector<std::shared_ptr<Stream>> streams;
  {
    std::shared_lock lock(mu_);
    for (const auto& [_, s] : by_name_) streams.push_back(s);
  }
  const TimestampMs now = clock_.now_ms();
  for (const auto& s : streams) {
    std::vector<std::shared_ptr<Shard>> shards;
    TimestampMs cutoff;
    {
      std::shared_lock lock(s->mu);
      if (s->status == StreamStatus::kDeleting) continue;
      shards = s->shards;
      cutoff = now - TimestampMs{s->retention_hours} * 3600 * 1000;
    }
    for (const auto& sh : shards) {
      if (auto st = sh->log->trim_before(cutoff); !st)
        log_fault("retention of " + sh->info.id() + " of a stream", st.error().message);  // tried again next round
    }
  }
}

// ---- control plane --------------------------------------------------------------------------

Status StreamStore::create_stream(const std::string& name, std::optional<int> shard_count, StreamMode mode,
                                  std::map<std::string, std::string> tags, std::optional<int> max_record_kib) {
  if (mode == StreamMode::kOnDemand) shard_count = shard_count.value_or(kOnDemandShards);
  if (!shard_count) {
    return make_error(Errc::kValidation,
                      "1 validation error detected: Value null at 'shardCount' failed to satisfy constraint: "
                      "Member must not be null for PROVISIONED streams");
  }
  if (tags.size() > kMaxTagsPerStream) {
    return make_error(Errc::kInvalidArgument, "Failed to create stream " + name + " under account " + options_.account +
                                                  " because a stream cannot have more than " +
                                                  std::to_string(kMaxTagsPerStream) + " tags.");
  }
  auto s = std::make_shared<Stream>();
  s->name = name;
  s->id = random_id();
  s->created_ms = clock_.now_ms();
  s->mode = mode;
  s->tags = std::move(tags);
  if (max_record_kib) s->max_record_kib = static_cast<uint32_t>(*max_record_kib);
  {
    std::unique_lock lock(mu_);
    if (by_name_.count(name)) {
      return make_error(Errc::kResourceInUse,
                        "Stream " + name + " under account " + options_.account + " already exists.");
    }
    size_t shards = 0;
    int creating = 0;
    for (const auto& [_, other] : by_name_) {
      std::shared_lock slock(other->mu);
      shards += other->open_shards.size();
      creating += other->status == StreamStatus::kCreating;
    }
    if (creating >= kMaxCreatingStreams) {
      return make_error(Errc::kLimitExceeded, "Cannot create more than " + std::to_string(kMaxCreatingStreams) +
                                                  " streams at once in state CREATING; retry when they are ACTIVE.");
    }
    if (shards + static_cast<size_t>(*shard_count) > kAccountShardLimit) {
      return make_error(Errc::kLimitExceeded, "This request would exceed the shard limit for the account " +
                                                  options_.account + " in " + options_.region +
                                                  ". Current shard count for the account: " + std::to_string(shards) +
                                                  ". Limit: " + std::to_string(kAccountShardLimit) +
                                                  ". Number of additional shards "
                                                  "that would have resulted from this request: " +
                                                  std::to_string(*shard_count) + ".");
    }
    // Reserve the name while the files are made; CREATING keeps data calls out.
    by_name_[name] = s;
    by_id_[s->id] = s;
  }
  Status st = [&]() -> Status {
    std::unique_lock lock(s->mu);
    std::error_code ec;
    std::filesystem::create_directories(stream_dir(*s), ec);
    if (ec) return make_error(Errc::kIo, "create " + stream_dir(*s).string() + ": " + ec.message());
    const auto ranges = split_evenly(static_cast<uint32_t>(*shard_count));
    for (uint32_t i = 0; i < ranges.size(); ++i) {
      ShardInfo info;
      info.index = i;
      info.range = ranges[i];
      info.created_ms = s->created_ms;
      auto shard = open_shard(*s, std::move(info));
      if (!shard) return tl::unexpected(shard.error());
      s->shards.push_back(std::move(*shard));
    }
    s->rebuild_open_shards();
    if (auto p = persist(*s); !p) return p;
    return fsync_dir(options_.dir);
  }();
  if (!st) {
    std::unique_lock lock(mu_);
    by_name_.erase(name);
    by_id_.erase(s->id);
    std::error_code ec;
    std::filesystem::remove_all(stream_dir(*s), ec);
    return st;
  }
  schedule(options_.status_delay_ms, [s] {
    std::unique_lock lock(s->mu);
    if (s->status == StreamStatus::kCreating) s->status = StreamStatus::kActive;
  });
  return {};
}

Status StreamStore::delete_stream(const std::string& name) {
  auto s = find(name);
  if (!s) return not_found(name);
  std::filesystem::path doomed;
  {
    std::unique_lock lock(s->mu);
    if (s->status == StreamStatus::kDeleting) return {};
    s->status = StreamStatus::kDeleting;
    // The rename is the durable deletion: a crash after it never brings the stream back.
    doomed = options_.dir / (kDeletingPrefix + std::to_string(s->id));
    std::error_code ec;
    std::filesystem::rename(stream_dir(*s), doomed, ec);
    if (ec) {
      s->status = StreamStatus::kActive;
      return make_error(Errc::kIo, "cannot delete " + stream_dir(*s).string() + ": " + ec.message());
    }
    // Not durable yet if this fails: a crash could bring the stream back. Logged; the deletion goes on.
    if (auto st = fsync_dir(options_.dir); !st) log_fault("deleting stream " + name, st.error().message);
  }
  schedule(options_.status_delay_ms, [this, s, doomed] {
    {
      std::unique_lock lock(mu_);
      auto it = by_name_.find(s->name);
      if (it != by_name_.end() && it->second == s) by_name_.erase(it);
      by_id_.erase(s->id);
    }
    std::error_code ec;
    std::filesystem::remove_all(doomed, ec);
  });
  return {};
}

bool StreamStore::shard_expired(const Stream& s, const ShardInfo& info) const {
  return info.closed_ms && *info.closed_ms < clock_.now_ms() - TimestampMs{s.retention_hours} * 3600 * 1000;
}

ShardSnapshot StreamStore::snapshot(const Shard& shard) const {
  ShardSnapshot snap;
  snap.info = shard.info;
  snap.starting_sequence_number = encode_sequence_number(shard.info.index, 0);
  if (!shard.info.open()) {
    const log::Offset last = shard.info.end_offset == 0 ? 0 : shard.info.end_offset - 1;
    snap.ending_sequence_number = encode_sequence_number(shard.info.index, last);
  }
  return snap;
}

Result<StreamSnapshot> StreamStore::describe(const std::string& name) const {
  auto s = find(name);
  if (!s) return not_found(name);
  std::shared_lock lock(s->mu);
  StreamSnapshot out;
  out.name = s->name;
  out.arn = arn(s->name);
  out.id = s->id;
  out.status = s->status;
  out.mode = s->mode;
  out.created_ms = s->created_ms;
  out.retention_hours = s->retention_hours;
  out.max_record_kib = s->max_record_kib;
  out.open_shard_count = s->open_shards.size();
  out.tags.assign(s->tags.begin(), s->tags.end());
  for (const auto& sh : s->shards) {
    if (!shard_expired(*s, sh->info)) out.shards.push_back(snapshot(*sh));
  }
  return out;
}

Result<StreamPage> StreamStore::list_streams(size_t limit, std::optional<std::string> exclusive_start,
                                             std::optional<std::string> next_token) const {
  if (next_token) {
    auto t = decode_page_token(*next_token);
    if (!t || t->stream_id != 0) return make_error(Errc::kInvalidArgument, "Invalid NextToken.");
    if (clock_.now_ms() - t->issued_ms > options_.iterator_ttl_ms) {
      return make_error(Errc::kExpiredNextToken, "The NextToken has expired; start the listing again.");
    }
    exclusive_start = t->after;
  }
  StreamPage page;
  std::vector<std::shared_ptr<Stream>> streams;
  {
    std::shared_lock lock(mu_);
    auto it = exclusive_start ? by_name_.upper_bound(*exclusive_start) : by_name_.begin();
    for (; it != by_name_.end(); ++it) {
      if (streams.size() == limit) {
        page.has_more = true;
        break;
      }
      streams.push_back(it->second);
    }
  }
  for (const auto& s : streams) {
    std::shared_lock lock(s->mu);
    StreamSnapshot snap;
    snap.name = s->name;
    snap.arn = arn(s->name);
    snap.status = s->status;
    snap.mode = s->mode;
    snap.created_ms = s->created_ms;
    page.streams.push_back(std::move(snap));
  }
  if (page.has_more && !page.streams.empty()) {
    page.next_token = encode_page_token({0, page.streams.back().name, clock_.now_ms()});
  }
  return page;
}

Result<ShardPage> StreamStore::list_shards(std::optional<std::string> name, std::optional<std::string> next_token,
                                           std::optional<std::string> exclusive_start_shard_id, size_t max_results,
                                           std::optional<ShardFilter> filter) const {
  if (name && next_token) {
    return make_error(Errc::kInvalidArgument, "NextToken and StreamName cannot be provided together.");
  }
  if (!name && !next_token) {
    return make_error(Errc::kInvalidArgument, "Either NextToken or StreamName should be provided.");
  }
  std::shared_ptr<Stream> s;
  std::optional<uint32_t> after;
  if (next_token) {
    auto t = decode_page_token(*next_token);
    if (!t || t->stream_id == 0) return make_error(Errc::kInvalidArgument, "Invalid NextToken.");
    if (clock_.now_ms() - t->issued_ms > options_.iterator_ttl_ms) {
      return make_error(Errc::kExpiredNextToken, "The NextToken has expired; start the listing again.");
    }
    s = find_by_id(t->stream_id);
    if (!s) return make_error(Errc::kResourceNotFound, "The stream of this NextToken no longer exists.");
    after = parse_shard_id(t->after);
  } else {
    s = find(*name);
    if (!s) return not_found(*name);
    if (exclusive_start_shard_id) after = parse_shard_id(*exclusive_start_shard_id);
  }
  const TimestampMs now = clock_.now_ms();
  std::shared_lock lock(s->mu);
  const TimestampMs horizon = now - TimestampMs{s->retention_hours} * 3600 * 1000;
  const ShardFilter f = filter.value_or(ShardFilter{});
  if (f.type == ShardFilterType::kAfterShardId) {
    if (!f.shard_id) {
      return make_error(Errc::kInvalidArgument, "ShardId must be provided for ShardFilter type AFTER_SHARD_ID.");
    }
    after = parse_shard_id(*f.shard_id);
  }
  if ((f.type == ShardFilterType::kAtTimestamp || f.type == ShardFilterType::kFromTimestamp) && !f.timestamp) {
    return make_error(Errc::kInvalidArgument,
                      "Timestamp must be provided for ShardFilter type AT_TIMESTAMP or FROM_TIMESTAMP.");
  }
  auto open_at = [](const ShardInfo& i, TimestampMs t) { return i.created_ms <= t && (i.open() || *i.closed_ms >= t); };
  ShardPage page;
  for (const auto& sh : s->shards) {
    const auto& i = sh->info;
    if (after && i.index <= *after) continue;
    if (shard_expired(*s, i)) continue;
    bool keep = true;
    switch (f.type) {
      case ShardFilterType::kAfterShardId:
      case ShardFilterType::kFromTrimHorizon:
        break;
      case ShardFilterType::kAtTrimHorizon:
        keep = open_at(i, std::max(horizon, s->created_ms));
        break;
      case ShardFilterType::kAtLatest:
        keep = i.open();
        break;
      case ShardFilterType::kAtTimestamp:
        keep = open_at(i, std::max(*f.timestamp, s->created_ms));
        break;
      case ShardFilterType::kFromTimestamp:
        keep = i.open() || *i.closed_ms >= *f.timestamp;
        break;
    }
    if (!keep) continue;
    if (page.shards.size() == max_results) {
      page.next_token = encode_page_token({s->id, page.shards.back().info.id(), now});
      break;
    }
    page.shards.push_back(snapshot(*sh));
  }
  return page;
}

Status StreamStore::change_retention(const std::string& name, int hours, bool increase) {
  auto s = require_active(name);
  if (!s) return tl::unexpected(s.error());
  if (hours < 24) {
    return make_error(Errc::kInvalidArgument,
                      "Minimum allowed retention period is 24 hours. Requested retention period (" +
                          std::to_string(hours) + " hours) is too short.");
  }
  if (hours > 8760) {
    return make_error(Errc::kInvalidArgument,
                      "Maximum allowed retention period is 8760 hours. Requested retention period (" +
                          std::to_string(hours) + " hours) is too long.");
  }
  std::unique_lock lock((*s)->mu);
  const int current = (*s)->retention_hours;
  if (increase && hours < current) {
    return make_error(Errc::kInvalidArgument,
                      "Requested retention period (" + std::to_string(hours) + " hours) for stream " + name +
                          " can not be shorter than existing retention period (" + std::to_string(current) +
                          " hours). Use DecreaseRetentionPeriod API.");
  }
  if (!increase && hours > current) {
    return make_error(Errc::kInvalidArgument,
                      "Requested retention period (" + std::to_string(hours) + " hours) for stream " + name +
                          " can not be longer than existing retention period (" + std::to_string(current) +
                          " hours). Use IncreaseRetentionPeriod API.");
  }
  (*s)->retention_hours = hours;
  return persist(**s);
}

Status StreamStore::add_tags(const std::string& name, const std::map<std::string, std::string>& tags) {
  auto s = require_active(name);
  if (!s) return tl::unexpected(s.error());
  std::unique_lock lock((*s)->mu);
  auto merged = (*s)->tags;
  for (const auto& [k, v] : tags) merged[k] = v;
  if (merged.size() > kMaxTagsPerStream) {
    return make_error(Errc::kInvalidArgument, "Failed to add tags to stream " + name + " under account " +
                                                  options_.account + " because a given stream cannot have more than " +
                                                  std::to_string(kMaxTagsPerStream) + " tags.");
  }
  (*s)->tags = std::move(merged);
  return persist(**s);
}

Status StreamStore::remove_tags(const std::string& name, const std::vector<std::string>& keys) {
  auto s = require_active(name);
  if (!s) return tl::unexpected(s.error());
  std::unique_lock lock((*s)->mu);
  for (const auto& k : keys) (*s)->tags.erase(k);
  return persist(**s);
}

// ---- resharding ------------------------------------------------------------------------------

size_t StreamStore::open_shards_elsewhere(const Stream* except) const {
  size_t total = 0;
  std::shared_lock mlock(mu_);
  for (const auto& [_, other] : by_name_) {
    if (other.get() == except) continue;
    std::shared_lock slock(other->mu);
    total += other->open_shards.size();
  }
  return total;
}

Status StreamStore::reshard(const std::shared_ptr<Stream>& self, const std::vector<uint32_t>& parents,
                            std::vector<ShardInfo> children) {
  Stream& s = *self;
  const TimestampMs now = clock_.now_ms();
  std::vector<std::shared_ptr<Shard>> opened;
  for (auto& c : children) {
    c.created_ms = now;
    auto shard = open_shard(s, std::move(c));
    if (!shard) {
      for (const auto& o : opened) o->log->destroy();
      return tl::unexpected(shard.error());
    }
    opened.push_back(std::move(*shard));
  }
  // Holding the exclusive lock, no append is in flight: the parents' written offsets are final.
  for (uint32_t p : parents) {
    auto& info = s.shards[p]->info;
    info.closed_ms = now;
    info.end_offset = s.shards[p]->log->written_offset();
  }
  for (auto& o : opened) s.shards.push_back(std::move(o));
  s.rebuild_open_shards();
  s.status = StreamStatus::kUpdating;
  if (auto st = persist(s); !st) return st;
  for (uint32_t p : parents) s.shards[p]->log->seal();
  schedule(options_.status_delay_ms, [self] {
    std::unique_lock lock(self->mu);
    if (self->status == StreamStatus::kUpdating) self->status = StreamStatus::kActive;
  });
  return {};
}

Status StreamStore::split_shard(const std::string& name, const std::string& shard_id_text,
                                const std::string& new_starting_hash_key) {
  auto s = require(name);
  if (!s) return tl::unexpected(s.error());
  // Lock order is the store's map before a stream's: count other streams' shards first.
  const size_t open_total = open_shards_elsewhere(s->get());
  std::unique_lock lock((*s)->mu);
  Stream& st = **s;
  if (st.mode == StreamMode::kOnDemand) {
    return make_error(Errc::kValidation,
                      "SplitShard is not supported for streams in ON_DEMAND mode; use "
                      "UpdateStreamMode to switch to PROVISIONED first.");
  }
  if (st.status != StreamStatus::kActive) return not_active(st);
  const auto index = parse_shard_id(shard_id_text);
  Shard* shard = index ? st.shard(*index) : nullptr;
  if (!shard) {
    return make_error(Errc::kResourceNotFound, "Could not find shard " + shard_id_text + " in stream " + name +
                                                   " under account " + options_.account + ".");
  }
  if (!shard->info.open()) {
    return make_error(Errc::kResourceInUse,
                      "Shard " + shard_id_text + " in stream " + name + " under account " + options_.account +
                          " has already been merged or split, and thus is not eligible for merging or splitting.");
  }
  const auto key = parse_decimal_u128(new_starting_hash_key);
  const auto& r = shard->info.range;
  if (!key || !(r.start + 1 < *key && *key < r.end)) {
    return make_error(Errc::kInvalidArgument,
                      "NewStartingHashKey " + new_starting_hash_key + " used in SplitShard() on shard " +
                          shard_id_text + " in stream " + name + " under account " + options_.account +
                          " is not both greater than one plus the shard's StartingHashKey " + to_decimal(r.start) +
                          " and less than the shard's EndingHashKey " + to_decimal(r.end) + ".");
  }
  if (open_total + st.open_shards.size() + 1 > kAccountShardLimit) {
    return make_error(Errc::kLimitExceeded,
                      "This request would exceed the shard limit for the account " + options_.account + ".");
  }
  const auto next = static_cast<uint32_t>(st.shards.size());
  ShardInfo a, b;
  a.index = next;
  a.range = {r.start, *key - 1};
  a.parent = *index;
  b.index = next + 1;
  b.range = {*key, r.end};
  b.parent = *index;
  return reshard(*s, {*index}, {a, b});
}

Status StreamStore::merge_shards(const std::string& name, const std::string& shard_text,
                                 const std::string& adjacent_text) {
  auto s = require(name);
  if (!s) return tl::unexpected(s.error());
  std::unique_lock lock((*s)->mu);
  Stream& st = **s;
  if (st.mode == StreamMode::kOnDemand) {
    return make_error(Errc::kValidation,
                      "MergeShards is not supported for streams in ON_DEMAND mode; use "
                      "UpdateStreamMode to switch to PROVISIONED first.");
  }
  if (st.status != StreamStatus::kActive) return not_active(st);
  const auto ia = parse_shard_id(shard_text), ib = parse_shard_id(adjacent_text);
  Shard* a = ia ? st.shard(*ia) : nullptr;
  Shard* b = ib ? st.shard(*ib) : nullptr;
  for (auto [sh, text] : {std::pair{a, &shard_text}, std::pair{b, &adjacent_text}}) {
    if (!sh) {
      return make_error(Errc::kResourceNotFound, "Could not find shard " + *text + " in stream " + name +
                                                     " under account " + options_.account + ".");
    }
    if (!sh->info.open()) {
      return make_error(Errc::kResourceInUse,
                        "Shard " + *text + " in stream " + name + " under account " + options_.account +
                            " has already been merged or split, and thus is not eligible for merging or splitting.");
    }
  }
  const auto& ra = a->info.range;
  const auto& rb = b->info.range;
  const bool adjacent =
      (ra.end != kUint128Max && ra.end + 1 == rb.start) || (rb.end != kUint128Max && rb.end + 1 == ra.start);
  if (!adjacent || a == b) {
    return make_error(Errc::kInvalidArgument, "Shards " + shard_text + " and " + adjacent_text + " in stream " + name +
                                                  " under account " + options_.account +
                                                  " are not an adjacent pair of shards eligible for merging");
  }
  ShardInfo c;
  c.index = static_cast<uint32_t>(st.shards.size());
  c.range = {std::min(ra.start, rb.start), std::max(ra.end, rb.end)};
  c.parent = *ia;
  c.adjacent_parent = *ib;
  return reshard(*s, {*ia, *ib}, {c});
}

Result<std::pair<int, int>> StreamStore::update_shard_count(const std::string& name, int target) {
  auto s = require(name);
  if (!s) return tl::unexpected(s.error());
  std::unique_lock lock((*s)->mu);
  Stream& st = **s;
  if (st.mode == StreamMode::kOnDemand) {
    return make_error(Errc::kValidation, "UpdateShardCount is not supported for streams in ON_DEMAND mode.");
  }
  if (st.status != StreamStatus::kActive) return not_active(st);
  const int current = static_cast<int>(st.open_shards.size());
  if (target > 2 * current) {
    return make_error(
        Errc::kLimitExceeded,
        "UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: " +
            std::to_string(current) + " Target shard count: " + std::to_string(target));
  }
  if (target * 2 < current) {
    return make_error(
        Errc::kLimitExceeded,
        "UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: " +
            std::to_string(current) + " Target shard count: " + std::to_string(target));
  }
  const TimestampMs now = clock_.now_ms();
  std::erase_if(st.scaling_history, [now](TimestampMs t) { return now - t >= kDayMs; });
  if (st.scaling_history.size() >= 10) {
    return make_error(
        Errc::kLimitExceeded,
        "Exceeded the limit of 10 UpdateShardCount calls in a rolling 24-hour period for stream " + name + ".");
  }
  if (target == current) return std::pair{current, target};
  // Uniform scaling: the new open shards split the key space evenly. Each child names the old
  // shard holding its first key as parent and, when its range reaches into a second old shard,
  // that one as adjacent parent: a clean split (x2) or merge (/2) of uniform shards reads exactly
  // like SplitShard / MergeShards lineage.
  std::vector<uint32_t> parents;
  for (const Shard* o : st.open_shards) parents.push_back(o->info.index);
  std::vector<ShardInfo> children;
  const auto ranges = split_evenly(static_cast<uint32_t>(target));
  for (size_t i = 0; i < ranges.size(); ++i) {
    ShardInfo c;
    c.index = static_cast<uint32_t>(st.shards.size() + i);
    c.range = ranges[i];
    for (const Shard* o : st.open_shards) {
      if (!o->info.range.overlaps(c.range)) continue;
      if (!c.parent)
        c.parent = o->info.index;
      else if (!c.adjacent_parent)
        c.adjacent_parent = o->info.index;
    }
    children.push_back(c);
  }
  st.scaling_history.push_back(now);
  if (auto r = reshard(*s, parents, std::move(children)); !r) return tl::unexpected(r.error());
  return std::pair{current, target};
}

// ---- data plane -----------------------------------------------------------------------------

Result<uint32_t> StreamStore::max_record_bytes(const std::string& name) const {
  auto s = find(name);
  if (!s) return not_found(name);
  return s->max_record_kib * 1024;
}

Result<PutResult> StreamStore::put(const std::string& name, std::span<const PutEntry> entries) {
  auto s = find(name);
  if (!s) return not_found(name);
  std::vector<uint128> keys(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    if (!e.explicit_hash_key.empty()) {
      const auto k = parse_decimal_u128(e.explicit_hash_key);
      if (!k) {
        return make_error(
            Errc::kInvalidArgument,
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was " +
                std::string(e.explicit_hash_key));
      }
      keys[i] = *k;
    } else {
      keys[i] = partition_key_hash(e.partition_key);
    }
  }
  const TimestampMs now = clock_.now_ms();
  std::shared_lock lock(s->mu);
  if (s->status == StreamStatus::kCreating || s->status == StreamStatus::kDeleting) return not_found(name);

  PutResult result;
  result.outcomes.resize(entries.size());
  // Group record indices by shard, keeping request order within each shard.
  std::vector<std::pair<Shard*, std::vector<uint32_t>>> groups;
  for (size_t i = 0; i < entries.size(); ++i) {
    Shard* shard = s->route(keys[i]);
    auto& out = result.outcomes[i];
    if (!shard) {
      out.error = Errc::kInternal;
      out.message = "Internal Service Failure";
      ++result.failed;
      continue;
    }
    if (options_.enforce_limits &&
        !shard->throttle.admit_write(entries[i].data.size() + entries[i].partition_key.size(), now)) {
      out.error = Errc::kProvisionedThroughputExceeded;
      out.message = "Rate exceeded for shard " + shard->info.id() + " in stream " + name + " under account " +
                    options_.account + ".";
      ++result.failed;
      continue;
    }
    auto it = std::find_if(groups.begin(), groups.end(), [shard](const auto& g) { return g.first == shard; });
    if (it == groups.end()) {
      groups.push_back({shard, {}});
      it = std::prev(groups.end());
    }
    it->second.push_back(static_cast<uint32_t>(i));
  }
  std::vector<log::AppendRecord> batch;
  for (const auto& [shard, indices] : groups) {
    batch.clear();
    for (uint32_t i : indices) {
      batch.push_back({entries[i].partition_key, entries[i].explicit_hash_key, entries[i].data});
    }
    auto appended = shard->log->append(batch, now);
    if (!appended) log_fault("append to " + name + "/" + shard->info.id(), appended.error().message);
    for (size_t j = 0; j < indices.size(); ++j) {
      auto& out = result.outcomes[indices[j]];
      if (!appended) {
        out.error = Errc::kInternal;
        out.message = "Internal Service Failure";
        ++result.failed;
        continue;
      }
      out.ok = true;
      out.shard_index = shard->info.index;
      out.sequence_number = encode_sequence_number(shard->info.index, appended->first_offset + j);
    }
    if (appended) result.touched.push_back(shard->log);
  }
  uint64_t bytes = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (result.outcomes[i].ok) bytes += entries[i].data.size();
  }
  // Relaxed: counters for /metrics, ordered with nothing else.
  s->counters.incoming_records.fetch_add(entries.size() - result.failed, std::memory_order_relaxed);
  s->counters.incoming_bytes.fetch_add(bytes, std::memory_order_relaxed);
  s->counters.put_failed_records.fetch_add(result.failed, std::memory_order_relaxed);
  return result;
}

log::Offset StreamStore::trim_horizon(const Stream& s, const Shard& shard) const {
  const TimestampMs cutoff = clock_.now_ms() - TimestampMs{s.retention_hours} * 3600 * 1000;
  const auto oldest = shard.log->oldest_arrival_ms();
  if (!oldest || *oldest >= cutoff) return shard.log->start_offset();
  auto off = shard.log->offset_for_time(cutoff);
  return off ? *off : shard.log->start_offset();
}

Result<std::string> StreamStore::shard_iterator(const std::string& name, const std::string& shard_text,
                                                IteratorType type, std::optional<std::string> sequence_number,
                                                std::optional<TimestampMs> timestamp) const {
  auto s = find(name);
  if (!s) return not_found(name);
  std::shared_lock lock(s->mu);
  if (s->status == StreamStatus::kCreating || s->status == StreamStatus::kDeleting) return not_found(name);
  const auto index = parse_shard_id(shard_text);
  Shard* shard = index ? s->shard(*index) : nullptr;
  if (!shard || shard_expired(*s, shard->info)) {
    return make_error(Errc::kResourceNotFound, "Shard " + shard_text + " in stream " + name + " under account " +
                                                   options_.account + " does not exist");
  }
  const bool by_sequence = type == IteratorType::kAtSequenceNumber || type == IteratorType::kAfterSequenceNumber;
  if (by_sequence && !sequence_number) {
    return make_error(
        Errc::kInvalidArgument,
        "Must specify StartingSequenceNumber for " +
            std::string(type == IteratorType::kAtSequenceNumber ? "AT_SEQUENCE_NUMBER" : "AFTER_SEQUENCE_NUMBER") +
            " ShardIteratorType.");
  }
  if (type == IteratorType::kAtTimestamp && timestamp && *timestamp > clock_.now_ms()) {
    return make_error(Errc::kInvalidArgument,
                      "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. "
                      "timestampInMillis: " +
                          std::to_string(*timestamp) +
                          ", currentTimestampInMillis: " + std::to_string(clock_.now_ms()));
  }
  if (type == IteratorType::kAtTimestamp && !timestamp) {
    return make_error(Errc::kInvalidArgument,
                      "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has "
                      "no timestamp parameter.");
  }
  if ((!by_sequence && sequence_number) || (type != IteratorType::kAtTimestamp && timestamp)) {
    return make_error(Errc::kInvalidArgument,
                      "Request should not contain a startingSequenceNumber or a timestamp for this ShardIteratorType.");
  }
  const log::Offset horizon = trim_horizon(*s, *shard);
  const log::Offset end = shard->info.open() ? shard->log->written_offset() : shard->info.end_offset;
  log::Offset offset = horizon;
  switch (type) {
    case IteratorType::kTrimHorizon:
      break;
    case IteratorType::kLatest:
      offset = end;
      break;
    case IteratorType::kAtTimestamp: {
      auto o = shard->log->offset_for_time(*timestamp);
      if (!o) return tl::unexpected(o.error());
      offset = std::max(*o, horizon);
      break;
    }
    case IteratorType::kAtSequenceNumber:
    case IteratorType::kAfterSequenceNumber: {
      const auto pos = decode_sequence_number(*sequence_number);
      if (!pos) {
        return make_error(Errc::kInvalidArgument, "StartingSequenceNumber " + *sequence_number +
                                                      " used in GetShardIterator on shard " + shard_text +
                                                      " in stream " + name + " under account " + options_.account +
                                                      " is invalid because it did not come from this stream.");
      }
      if (pos->shard_index != *index) {
        return make_error(Errc::kInvalidArgument, "Invalid StartingSequenceNumber. It encodes " +
                                                      shard_id(pos->shard_index) +
                                                      ", while it was used in a call to a shard with " + shard_text);
      }
      offset = pos->offset + (type == IteratorType::kAfterSequenceNumber ? 1 : 0);
      if (offset > end) {
        return make_error(Errc::kInvalidArgument,
                          "StartingSequenceNumber " + *sequence_number + " used in GetShardIterator on shard " +
                              shard_text + " in stream " + name + " under account " + options_.account +
                              " is invalid because it is beyond the newest record of the shard.");
      }
      offset = std::max(offset, horizon);
      break;
    }
  }
  return encode_iterator({s->id, *index, offset, clock_.now_ms()});
}

Result<GetRecordsResult> StreamStore::get_records(std::string_view iterator, size_t limit) const {
  const auto token = decode_iterator(iterator);
  if (!token) return make_error(Errc::kInvalidArgument, "Invalid ShardIterator.");
  const TimestampMs now = clock_.now_ms();
  if (now - token->issued_ms > options_.iterator_ttl_ms) {
    return make_error(Errc::kExpiredIterator, "Iterator expired. The iterator was created at time " +
                                                  std::to_string(token->issued_ms) + " while right now it is " +
                                                  std::to_string(now) +
                                                  " which is further in the future than the tolerated delay of " +
                                                  std::to_string(options_.iterator_ttl_ms) + " milliseconds.");
  }
  auto s = find_by_id(token->stream_id);
  if (!s) return make_error(Errc::kResourceNotFound, "The stream this shard iterator belongs to no longer exists.");
  std::shared_ptr<Shard> shard;
  ShardInfo info;
  log::Offset horizon;
  std::vector<ChildShard> children;
  {
    std::shared_lock lock(s->mu);
    if (s->status == StreamStatus::kDeleting) return not_found(s->name);
    if (token->shard_index >= s->shards.size()) return make_error(Errc::kInvalidArgument, "Invalid ShardIterator.");
    shard = s->shards[token->shard_index];
    info = shard->info;
    horizon = trim_horizon(*s, *shard);
    if (!info.open()) {
      for (const auto& c : s->shards) {
        const auto& ci = c->info;
        if (ci.parent != info.index && ci.adjacent_parent != info.index) continue;
        ChildShard child{ci.id(), {shard_id(*ci.parent)}, ci.range};
        if (ci.adjacent_parent) child.parent_shards.push_back(shard_id(*ci.adjacent_parent));
        children.push_back(std::move(child));
      }
    }
  }
  if (options_.enforce_limits && !shard->throttle.admit_read(now)) {
    return make_error(Errc::kProvisionedThroughputExceeded, "Rate exceeded for shard " + info.id() + " in stream " +
                                                                s->name + " under account " + options_.account + ".");
  }
  GetRecordsResult result;
  result.shard_index = token->shard_index;
  const log::Offset start = std::max(token->offset, horizon);
  const log::Offset end = info.open() ? shard->log->end_offset() : std::min(info.end_offset, shard->log->end_offset());
  auto read = shard->log->read(start, limit, kMaxGetRecordsBytes);
  if (!read) return tl::unexpected(read.error());
  result.read = std::move(*read);
  // Closed shards stop at their end offset (the log itself has nothing after it).
  while (!result.read.records.empty() && !info.open() && result.read.records.back().offset >= info.end_offset) {
    result.read.records.pop_back();
  }
  log::Offset next =
      result.read.records.empty() ? std::max(start, result.read.next_offset) : result.read.records.back().offset + 1;
  if (options_.enforce_limits) {
    size_t bytes = 0;
    for (const auto& r : result.read.records) bytes += r.data.size() + r.partition_key.size();
    shard->throttle.charge_read_bytes(bytes, now);
  }
  if (!info.open() && next >= info.end_offset) {
    result.child_shards = std::move(children);
  } else {
    result.next_iterator = encode_iterator({s->id, token->shard_index, next, now});
  }
  if (next >= end) {
    result.millis_behind_latest = 0;
  } else if (!result.read.records.empty()) {
    result.millis_behind_latest = std::max<int64_t>(0, now - result.read.records.back().arrival_ms);
  } else {
    auto t = shard->log->arrival_of(next);
    result.millis_behind_latest = t ? std::max<int64_t>(0, now - *t) : 0;
  }
  uint64_t bytes = 0;
  for (const auto& r : result.read.records) bytes += r.data.size();
  s->counters.get_records_calls.fetch_add(1, std::memory_order_relaxed);
  s->counters.outgoing_records.fetch_add(result.read.records.size(), std::memory_order_relaxed);
  s->counters.outgoing_bytes.fetch_add(bytes, std::memory_order_relaxed);
  s->counters.iterator_age_ms =
      result.read.records.empty() ? 0 : std::max<int64_t>(0, now - result.read.records.back().arrival_ms);
  s->counters.millis_behind_latest = result.millis_behind_latest;
  return result;
}

std::vector<StreamMetrics> StreamStore::metrics() const {
  std::vector<std::shared_ptr<Stream>> streams;
  {
    std::shared_lock lock(mu_);
    for (const auto& [_, s] : by_name_) streams.push_back(s);
  }
  std::vector<StreamMetrics> out;
  for (const auto& s : streams) {
    StreamMetrics m;
    m.name = s->name;
    {
      std::shared_lock lock(s->mu);
      m.status = to_string(s->status);
      m.open_shards = s->open_shards.size();
    }
    const auto& c = s->counters;
    m.incoming_records = c.incoming_records;
    m.incoming_bytes = c.incoming_bytes;
    m.put_failed_records = c.put_failed_records;
    m.get_records_calls = c.get_records_calls;
    m.outgoing_records = c.outgoing_records;
    m.outgoing_bytes = c.outgoing_bytes;
    m.iterator_age_ms = c.iterator_age_ms;
    m.millis_behind_latest = c.millis_behind_latest;
    out.push_back(std::move(m));
  }
  return out;
}

// ---- internal consumers ---------------------------------------------------------------------

Result<std::vector<ShardInfo>> StreamStore::shards(const std::string& name) const {
  auto s = find(name);
  if (!s) return not_found(name);
  std::shared_lock lock(s->mu);
  std::vector<ShardInfo> out;
  for (const auto& sh : s->shards) {
    if (!shard_expired(*s, sh->info)) out.push_back(sh->info);
  }
  return out;
}

Result<StreamStore::ShardRead> StreamStore::read_shard(const std::string& name, uint32_t index, log::Offset from,
                                                       size_t max_records) const {
  auto s = find(name);
  if (!s) return not_found(name);
  std::shared_ptr<Shard> shard;
  ShardInfo info;
  log::Offset horizon;
  std::vector<uint32_t> children;
  {
    std::shared_lock lock(s->mu);
    if (s->status == StreamStatus::kDeleting) return not_found(name);
    if (index >= s->shards.size()) {
      return make_error(Errc::kResourceNotFound, "Shard " + shard_id(index) + " in stream " + name + " does not exist");
    }
    shard = s->shards[index];
    info = shard->info;
    horizon = trim_horizon(*s, *shard);
    for (const auto& c : s->shards) {
      if (c->info.parent == index || c->info.adjacent_parent == index) children.push_back(c->info.index);
    }
  }
  ShardRead out;
  const log::Offset start = std::max(from, horizon);
  auto read = shard->log->read(start, max_records, kMaxGetRecordsBytes);
  if (!read) return tl::unexpected(read.error());
  out.read = std::move(*read);
  while (!out.read.records.empty() && !info.open() && out.read.records.back().offset >= info.end_offset) {
    out.read.records.pop_back();
  }
  out.next = out.read.records.empty()
                 ? std::max(start, std::min(out.read.next_offset, info.open() ? out.read.next_offset : info.end_offset))
                 : out.read.records.back().offset + 1;
  if (!info.open() && out.next >= info.end_offset) {
    out.finished = true;
    out.children = std::move(children);
  }
  return out;
}

Result<log::Offset> StreamStore::shard_position(const std::string& name, uint32_t index, IteratorType type) const {
  auto s = find(name);
  if (!s) return not_found(name);
  std::shared_lock lock(s->mu);
  Shard* shard = s->shard(index);
  if (!shard)
    return make_error(Errc::kResourceNotFound, "Shard " + shard_id(index) + " in stream " + name + " does not exist");
  if (type == IteratorType::kLatest) return shard->info.open() ? shard->log->written_offset() : shard->info.end_offset;
  return trim_horizon(*s, *shard);
}

Result<log::Offset> StreamStore::shard_position_at(const std::string& name, uint32_t index, TimestampMs t) const {
  auto s = find(name);
  if (!s) return not_found(name);
  std::shared_lock lock(s->mu);
  Shard* shard = s->shard(index);
  if (!shard)
    return make_error(Errc::kResourceNotFound, "Shard " + shard_id(index) + " in stream " + name + " does not exist");
  const log::Offset horizon = trim_horizon(*s, *shard);
  auto off = shard->log->offset_for_time(t);
  return off ? std::max(*off, horizon) : horizon;
}

}  // namespace eddy::stream
