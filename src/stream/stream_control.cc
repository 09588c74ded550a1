// StreamStore's control plane: CreateStream, DeleteStream, DescribeStream, ListStreams,
// ListShards (with its filters and page tokens), retention periods and tags.

#include "stream/stream_store.h"

#include <cctype>

#include <algorithm>
#include <random>

#include "common/fault_log.h"
#include "common/file_util.h"
#include "stream/sequence_number.h"
#include "stream/stream_store_internal.h"
#include "stream/tokens.h"

namespace eddy::stream {
namespace {

constexpr size_t kMaxTagsPerStream = 50;
constexpr int kMaxCreatingStreams = 5;
constexpr int kOnDemandShards = 4;

uint64_t random_id() {
  static std::mt19937_64 rng{std::random_device{}()};
  static std::mutex mu;
  std::lock_guard lock(mu);
  uint64_t v = 0;
  while (v == 0) v = rng();
  return v;
}

}  // namespace

std::optional<ShardFilterType> parse_shard_filter_type(std::string_view s) {
  if (s == "AFTER_SHARD_ID") return ShardFilterType::kAfterShardId;
  if (s == "AT_TRIM_HORIZON") return ShardFilterType::kAtTrimHorizon;
  if (s == "FROM_TRIM_HORIZON") return ShardFilterType::kFromTrimHorizon;
  if (s == "AT_LATEST") return ShardFilterType::kAtLatest;
  if (s == "AT_TIMESTAMP") return ShardFilterType::kAtTimestamp;
  if (s == "FROM_TIMESTAMP") return ShardFilterType::kFromTimestamp;
  return std::nullopt;
}

namespace {

// Kinesis accepts in tag keys and values Unicode letters, digits, spaces and _ . : / = + - @
// (CloudFormation tags every resource with aws:cloudformation:stack-name), and refuses the rest
// (';', ',', '%', tabs, newlines, ...). Letters beyond ASCII are taken as the
// ranges Kinesis's own check accepts (U+00C0-U+1FFF, U+2C00-U+D7FF), read from UTF-8.
bool valid_tag_text(std::string_view t) {
  for (size_t i = 0; i < t.size();) {
    const auto c = static_cast<unsigned char>(t[i]);
    if (c < 0x80) {
      if (!(std::isalnum(c) || std::string_view(" _.:/=+-@").find(static_cast<char>(c)) != std::string_view::npos))
        return false;
      ++i;
      continue;
    }
    const size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (len == 0 || i + len > t.size()) return false;
    uint32_t cp = c & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      const auto cont = static_cast<unsigned char>(t[i + k]);
      if ((cont & 0xC0) != 0x80) return false;
      cp = cp << 6 | (cont & 0x3F);
    }
    if (!((cp >= 0xC0 && cp <= 0x1FFF) || (cp >= 0x2C00 && cp <= 0xD7FF))) return false;
    i += len;
  }
  return true;
}

Status check_tag_characters(const std::map<std::string, std::string>& tags) {
  for (const auto& [k, v] : tags) {
    if (!valid_tag_text(k) || !valid_tag_text(v)) {
      return make_error(Errc::kInvalidArgument,
                        "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white "
                        "space, _ . : / = + - @.");
    }
  }
  return {};
}

}  // namespace

Status StreamStore::create_stream(const std::string& name, std::optional<int> shard_count, StreamMode mode,
                                  std::map<std::string, std::string> tags, std::optional<int> max_record_kib) {
  if (mode == StreamMode::kOnDemand) shard_count = shard_count.value_or(kOnDemandShards);
  if (!shard_count) {
    return make_error(Errc::kValidation,
                      "1 validation error detected: Value null at 'shardCount' failed to satisfy constraint: "
                      "Member must not be null for PROVISIONED streams");
  }
  if (auto st = check_tag_characters(tags); !st) return st;
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
    if (shards + static_cast<size_t>(*shard_count) > options_.shard_limit) {
      return make_error(Errc::kLimitExceeded, "This request would exceed the shard limit for the account " +
                                                  options_.account + " in " + options_.region +
                                                  ". Current shard count for the account: " + std::to_string(shards) +
                                                  ". Limit: " + std::to_string(options_.shard_limit) +
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
    // Only this request's reservation: in cluster mode the watch may already have put the
    // stream another node created in its place.
    if (auto it = by_name_.find(name); it != by_name_.end() && it->second == s) by_name_.erase(it);
    by_id_.erase(s->id);
    if (s->revision != 0) {  // its document was written: removed the same way as a deletion
      if (auto gone = options_.metadata->remove(name, s->revision); !gone)
        log_fault("undoing the creation of stream " + name, gone.error().message);
    } else {
      // Never written: its shards' storage goes too (in cluster mode, JetStream streams).
      for (const auto& shard : s->shards) shard->log->destroy();
      std::error_code ec;
      std::filesystem::remove_all(stream_dir(*s), ec);
    }
    // Another node created the same name first (cluster mode): AWS's answer for an existing name.
    if (st.error().code == Errc::kResourceInUse)
      return make_error(Errc::kResourceInUse,
                        "Stream " + name + " under account " + options_.account + " already exists.");
    return st;
  }
  schedule(options_.status_delay_ms, [s] {
    std::unique_lock lock(s->mu);
    if (s->status == StreamStatus::kCreating) s->status = StreamStatus::kActive;
  });
  return {};
}

Status StreamStore::delete_stream(const std::string& name, bool enforce_consumer_deletion) {
  auto s = find(name);
  if (!s) return not_found(name);
  {
    std::unique_lock lock(s->mu);
    if (s->status == StreamStatus::kDeleting) return {};
    if (!s->consumers.empty() && !enforce_consumer_deletion) {
      return make_error(Errc::kResourceInUse, "Stream " + name + " under account " + options_.account + " has " +
                                                  std::to_string(s->consumers.size()) +
                                                  " registered consumers; deregister them or pass "
                                                  "EnforceConsumerDeletion=true.");
    }
    // Removing its document is the durable deletion: a crash after it never brings the stream back
    // (locally its folder goes, shards and all). DELETING keeps data calls out meanwhile.
    if (auto st = options_.metadata->remove(s->name, s->revision); !st) {
      return make_error(st.error().code, "cannot delete stream " + name + ": " + st.error().message);
    }
    s->status = StreamStatus::kDeleting;
  }
  schedule(options_.status_delay_ms, [this, s] {
    // A backend that keeps shards apart from the metadata (a JetStream stream per shard) frees
    // them here; a ShardLog's folder went with the stream's. Before the name is free again, so
    // that a new stream of the same name never loses a shard to this.
    {
      std::shared_lock lock(s->mu);
      for (const auto& shard : s->shards) shard->log->destroy();
    }
    std::unique_lock lock(mu_);
    auto it = by_name_.find(s->name);
    if (it != by_name_.end() && it->second == s) by_name_.erase(it);
    by_id_.erase(s->id);
  });
  return {};
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
  out.warm_throughput_mibps = s->warm_throughput_mibps;
  out.shard_level_metrics = s->shard_level_metrics;
  out.open_shard_count = s->open_shards.size();
  out.consumer_count = s->consumers.size();
  out.encryption_key_id = s->encryption_key_id;
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
  const ShardFilter f = filter.value_or(ShardFilter{});
  if (f.type == ShardFilterType::kAfterShardId && !f.shard_id) {
    return make_error(Errc::kInvalidArgument, "ShardId must be provided for ShardFilter type AFTER_SHARD_ID.");
  }
  if ((f.type == ShardFilterType::kAtTimestamp || f.type == ShardFilterType::kFromTimestamp) && !f.timestamp) {
    return make_error(Errc::kInvalidArgument,
                      "Timestamp must be provided for ShardFilter type AT_TIMESTAMP or FROM_TIMESTAMP.");
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
  if (f.type == ShardFilterType::kAfterShardId) after = parse_shard_id(*f.shard_id);
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
  auto s = require_active(name);
  if (!s) return tl::unexpected(s.error());
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
  if (auto st = check_tag_characters(tags); !st) return st;
  if (tags.size() > kMaxTagsPerStream) {  // too many whatever the stream holds: before it is looked up
    return make_error(Errc::kInvalidArgument, "Failed to add tags to stream " + name + " under account " +
                                                  options_.account + " because a given stream cannot have more than " +
                                                  std::to_string(kMaxTagsPerStream) + " tags.");
  }
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

}  // namespace eddy::stream
