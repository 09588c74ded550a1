// Over 800 lines because DeliveryHost::run still holds the whole worker (reading, processing,
// partitioning, the three sinks, intent recovery) as lambdas over shared state; issue 22 splits it
// into named parts. Until then, keep new delivery logic in its own files (prefix.cc, *_sink.cc).

#include "delivery/delivery_host.h"

#include <algorithm>
#include <deque>
#include <future>
#include <iostream>
#include <random>
#include <set>

#include "common/digest.h"
#include "common/fault_log.h"
#include "common/file_util.h"
#include "delivery/gzip.h"
#include "delivery/http_endpoint.h"
#include "delivery/lambda_transform.h"
#include "delivery/prefix.h"
#include "delivery/stream_sink.h"
#include "stream/sequence_number.h"

namespace eddy::delivery {

namespace fs = std::filesystem;
using nlohmann::json;

// What a Lambda processor needs to resolve where its function runs.
struct LambdaSetup {
  const std::map<std::string, std::string>* functions;
  std::string runner;
};

namespace {

// Moves a state file that cannot be read to `<file>.unreadable-<ms>[-n]` (never over an earlier
// one) for a person to look at; returns the name it got, or why it could not be moved.
std::string keep_aside(const fs::path& file, TimestampMs now) {
  const std::string base = file.filename().string() + ".unreadable-" + std::to_string(now);
  fs::path aside = file.parent_path() / base;
  for (int n = 2; fs::exists(aside) && n < 1000; ++n) aside = file.parent_path() / (base + "-" + std::to_string(n));
  std::error_code ec;
  fs::rename(file, aside, ec);
  return ec ? "it could not be moved aside (" + ec.message() + ")" : "kept as " + aside.filename().string();
}

constexpr TimestampMs kJournalRetentionMs = 24LL * 3600 * 1000;  // Firehose keeps records 24 h
constexpr auto kIdlePoll = std::chrono::milliseconds(20);
constexpr size_t kReadBatch = 2000;
// Beside the delivery streams' folders, none of which starts with a dot (path_component).
constexpr const char* kLambdaRunner = ".lambda_runner.py";

struct Rec {
  TimestampMs arrival;
  uint32_t shard;
  uint64_t offset;
  std::string data;
  std::string partition_key;  // of a Kinesis-sourced record
};

tl::unexpected<Error> not_found(const std::string& name) {
  return make_error(Errc::kResourceNotFound, "Firehose " + name + " under account 000000000000 not found.");
}

tl::unexpected<Error> invalid(const std::string& m) {
  return make_error(Errc::kInvalidArgument, m);
}

// The destination as used by the worker, from the stored ExtendedS3 configuration.
struct Destination {
  std::optional<LambdaTransform> lambda;
  bool partitioning = false;               // dynamic partitioning: one object per partition key set
  std::optional<PartitionQuery> query;     // MetadataExtraction (JQ subset)
  std::optional<HttpEndpointConfig> http;  // else an S3-style bucket (or the stream below)
  std::string stream_arn;                  // an eddy stream as destination
  int stream_retry_seconds = 300;
  bool backup_all = false;  // HTTP: also write every record to the backup bucket
  std::string bucket;
  std::string prefix, error_prefix;
  uint64_t size_bytes = 5ull << 20;
  TimestampMs interval_ms = 300'000;
  bool gzip = false;
  bool append_newline = false;
  std::string extension;
};

Result<Destination> destination_of(const json& d, const LambdaSetup& setup) {
  Destination out;
  auto bucket = BucketSink::bucket_from_arn(d.value("BucketARN", ""));
  if (!bucket) return tl::unexpected(bucket.error());
  out.bucket = *bucket;
  std::optional<std::string> error_prefix;
  if (d.contains("ErrorOutputPrefix")) error_prefix = d["ErrorOutputPrefix"].get<std::string>();
  auto prefixes = resolve_prefixes(d.value("Prefix", ""), error_prefix);
  if (!prefixes) return tl::unexpected(prefixes.error());
  out.prefix = prefixes->prefix;
  out.error_prefix = prefixes->error_prefix;
  const auto hints = d.value("BufferingHints", json::object());
  out.size_bytes = static_cast<uint64_t>(hints.value("SizeInMBs", 5)) << 20;
  out.interval_ms = hints.value("IntervalInSeconds", 300) * 1000LL;
  const auto compression = d.value("CompressionFormat", "UNCOMPRESSED");
  if (compression != "UNCOMPRESSED" && compression != "GZIP") {
    return invalid("CompressionFormat " + compression + " is not supported by eddy (use UNCOMPRESSED or GZIP)");
  }
  out.gzip = compression == "GZIP";
  out.extension = d.value("FileExtension", out.gzip ? ".gz" : "");
  const auto processing = d.value("ProcessingConfiguration", json::object());
  if (processing.value("Enabled", false)) {
    for (const auto& p : processing.value("Processors", json::array())) {
      const auto type = p.value("Type", "");
      if (type == "AppendDelimiterToRecord") {
        out.append_newline = true;
      } else if (type == "MetadataExtraction") {
        std::map<std::string, std::string> params;
        for (const auto& kv : p.value("Parameters", json::array()))
          params[kv.value("ParameterName", "")] = kv.value("ParameterValue", "");
        if (params.count("JsonParsingEngine") && params["JsonParsingEngine"] != "JQ-1.6") {
          return invalid("JsonParsingEngine must be JQ-1.6");
        }
        auto q = parse_partition_query(params["MetadataExtractionQuery"]);
        if (!q) return tl::unexpected(q.error());
        out.query = std::move(*q);
      } else if (type == "Lambda") {
        std::map<std::string, std::string> params;
        for (const auto& kv : p.value("Parameters", json::array())) {
          params[kv.value("ParameterName", "")] = kv.value("ParameterValue", "");
        }
        int retries = 3;
        try {
          if (params.count("NumberOfRetries")) retries = std::stoi(params["NumberOfRetries"]);
        } catch (const std::exception&) {
          return invalid("NumberOfRetries must be a whole number");
        }
        if (retries < 0 || retries > 300) return invalid("NumberOfRetries must be 0 to 300");
        // BufferSizeInMBs sizes each invocation. BufferIntervalInSeconds is checked but the
        // function runs when the destination's buffer flushes, so it never waits longer than that.
        double buffer_mb = 1.0;
        int buffer_seconds = 60;
        try {
          if (params.count("BufferSizeInMBs")) buffer_mb = std::stod(params["BufferSizeInMBs"]);
          if (params.count("BufferIntervalInSeconds")) buffer_seconds = std::stoi(params["BufferIntervalInSeconds"]);
        } catch (const std::exception&) {
          return invalid("BufferSizeInMBs and BufferIntervalInSeconds must be numbers");
        }
        if (buffer_mb < 0.2 || buffer_mb > 3) return invalid("BufferSizeInMBs of a Lambda processor must be 0.2 to 3");
        if (buffer_seconds < 0 || buffer_seconds > 900)
          return invalid("BufferIntervalInSeconds of a Lambda processor must be 0 to 900");
        for (const auto& [param, _] : params) {
          if (param != "LambdaArn" && param != "NumberOfRetries" && param != "RoleArn" && param != "BufferSizeInMBs" &&
              param != "BufferIntervalInSeconds") {
            return invalid("Parameter " + param + " does not apply to a Lambda processor");
          }
        }
        auto t = LambdaTransform::create(params["LambdaArn"], *setup.functions, setup.runner, retries, 60'000,
                                         static_cast<size_t>(buffer_mb * (1 << 20)));
        if (!t) return tl::unexpected(t.error());
        out.lambda = std::move(*t);
      } else {
        return invalid("Processor type " + type +
                       " is not supported by eddy yet (AppendDelimiterToRecord and Lambda are)");
      }
    }
  }
  if (d.value("DynamicPartitioningConfiguration", json::object()).value("Enabled", false)) {
    out.partitioning = true;
    if (!d.contains("ErrorOutputPrefix")) return invalid("Dynamic partitioning requires an ErrorOutputPrefix");
    if (out.interval_ms == 0)
      return invalid("Dynamic partitioning is not available with zero buffering (IntervalInSeconds 0)");
    const std::string prefix = d.value("Prefix", "");
    if (prefix.find("!{partitionKeyFrom") == std::string::npos) {
      return invalid(
          "With dynamic partitioning the Prefix must use !{partitionKeyFromQuery:...} or "
          "!{partitionKeyFromLambda:...}");
    }
    if (prefix.find("!{partitionKeyFromQuery") != std::string::npos && !out.query) {
      return invalid(
          "!{partitionKeyFromQuery:...} needs a MetadataExtraction processor with a MetadataExtractionQuery");
    }
  } else if (d.value("Prefix", "").find("!{partitionKeyFrom") != std::string::npos) {
    return invalid(
        "!{partitionKeyFromQuery:...} and !{partitionKeyFromLambda:...} need DynamicPartitioningConfiguration Enabled");
  } else if (out.query) {
    return invalid("A MetadataExtraction processor needs DynamicPartitioningConfiguration Enabled");
  }
  if (d.value("S3BackupMode", "Disabled") != "Disabled")
    return invalid("S3BackupMode Enabled is not supported by eddy yet");
  if (d.value("DataFormatConversionConfiguration", json::object()).value("Enabled", false)) {
    return invalid("Data format conversion (Parquet/ORC) is not supported by eddy");
  }
  if (const auto tz = d.value("CustomTimeZone", std::string("UTC")); tz != "UTC" && !tz.empty()) {
    return invalid("CustomTimeZone " + tz + " is not supported by eddy yet; keys use UTC");
  }
  return out;
}

// The destination of a stored CreateDeliveryStream request: ExtendedS3 or HTTP endpoint (whose
// S3Configuration is the backup bucket for failed records).
// The longest object name (the key after its prefix) that `name` writes at `version`:
// NAME-VERSION-yyyy-MM-dd-HH-mm-ss-UUID and the extension (an error object has none).
std::string longest_object_name(const std::string& name, int64_t version, const Destination& d) {
  return name + "-" + std::to_string(std::max<int64_t>(version, 999)) + "-2021-01-31-14-05-47-" + std::string(36, '0') +
         d.extension;
}

Result<Destination> destination_of_stream(const json& request, const LambdaSetup& setup) {
  if (request.contains("ExtendedS3DestinationConfiguration")) {
    return destination_of(request["ExtendedS3DestinationConfiguration"], setup);
  }
  const json& h = request.at("HttpEndpointDestinationConfiguration");
  json s3 = h.value("S3Configuration", json::object());
  s3["ProcessingConfiguration"] = h.value("ProcessingConfiguration", json::object());
  s3["BufferingHints"] = {
      {"SizeInMBs", h.value("BufferingHints", json::object()).value("SizeInMBs", 5)},
      {"IntervalInSeconds", h.value("BufferingHints", json::object()).value("IntervalInSeconds", 60)}};
  s3.erase("CompressionFormat");
  auto d = destination_of(s3, setup);
  if (!d) return d;
  HttpEndpointConfig http;
  const auto endpoint = h.value("EndpointConfiguration", json::object());
  http.url = endpoint.value("Url", "");
  const auto request_config = h.value("RequestConfiguration", json::object());
  http.retry_seconds = h.value("RetryOptions", json::object()).value("DurationInSeconds", 300);
  d->backup_all = h.value("S3BackupMode", "FailedDataOnly") == "AllData";
  // eddy's own destination: an eddy stream, named by its ARN in place of the endpoint URL (Firehose
  // has no stream destination; this keeps the API shape and the S3 backup for failed records).
  if (http.url.starts_with("arn:aws:kinesis:")) {
    if (request_config.value("ContentEncoding", "NONE") != "NONE") {
      return invalid("ContentEncoding GZIP applies to HTTP endpoints; a stream destination takes records as they are");
    }
    d->stream_arn = http.url;
    d->stream_retry_seconds = http.retry_seconds;
    return d;
  }
  http.name = endpoint.value("Name", "");
  http.access_key = endpoint.value("AccessKey", "");
  if (!http.url.starts_with("http://") && !http.url.starts_with("https://")) {
    return invalid("EndpointConfiguration.Url must be an http:// or https:// URL, or the ARN of an eddy stream");
  }
  http.gzip = request_config.value("ContentEncoding", "NONE") == "GZIP";
  if (request_config.contains("CommonAttributes")) {
    json attrs = json::object();
    for (const auto& a : request_config["CommonAttributes"])
      attrs[a.value("AttributeName", "")] = a.value("AttributeValue", "");
    http.common_attributes_json = json{{"commonAttributes", attrs}}.dump();
  }
  d->http = std::move(http);
  return d;
}

}  // namespace

struct DeliveryHost::Worker {
  std::thread thread;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable cv;
  // What the worker holds in memory, waiting for the buffering hints (read by metrics()).
  std::atomic<uint64_t> buffered_bytes{0};
  std::atomic<uint64_t> buffered_records{0};
};

DeliveryHost::DeliveryHost(fs::path dir, fs::path bucket_dir, stream::StreamStore& store,
                           log::GroupCommitter& committer, const Clock& clock,
                           std::map<std::string, std::string> functions, std::optional<S3Options> s3)
    : dir_(std::move(dir)),
      bucket_(std::move(bucket_dir)),
      store_(store),
      committer_(committer),
      clock_(clock),
      functions_(std::move(functions)) {
  if (s3) s3_.emplace(std::move(*s3));
  bucket_.discard_staged();
}

Status DeliveryHost::write_object(const std::string& bucket, const std::string& key, std::string_view bytes) const {
  auto st = s3_ ? s3_->put(bucket, key, bytes) : bucket_.put(bucket, key, bytes);
  if (!st) log_fault("delivery of " + bucket + "/" + key, st.error().message);  // retried next round
  return st;
}

DeliveryHost::~DeliveryHost() {
  std::unique_lock lock(mu_);
  for (auto& [_, e] : streams_) {
    if (e->worker) halt(*e, lock);
  }
}

std::pair<uint64_t, uint64_t> DeliveryHost::buffered(const Entry& e) {
  if (!e.worker) return {0, 0};
  return {e.worker->buffered_bytes.load(), e.worker->buffered_records.load()};
}

LambdaSetup DeliveryHost::lambda_setup() const {
  return {&functions_, (dir_ / kLambdaRunner).string()};
}

std::string DeliveryHost::arn(const std::string& name) const {
  return "arn:aws:firehose:" + store_.options().region + ":" + store_.options().account + ":deliverystream/" + name;
}

Status DeliveryHost::persist(const std::string& name, const DeliveryStream& s) const {
  json j = {{"config", s.config},
            {"status", s.status},
            {"version", s.version},
            {"created_ms", s.created_ms},
            {"updated_ms", s.updated_ms}};
  std::error_code ec;
  fs::create_directories(entry_dir(name), ec);
  return write_file_atomic(entry_dir(name) / "stream.json", j.dump(1));
}

Status DeliveryHost::load() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return make_error(Errc::kIo, "cannot create " + dir_.string() + ": " + ec.message());
  // The runner of python: Lambdas, rewritten only when this build's differs: a server restarted on a
  // full disk must still start (its python: Lambdas then fail with the reason, and are retried).
  if (read_file(dir_ / kLambdaRunner).value_or("") != lambda_runner_source()) {
    if (auto st = write_file_atomic(dir_ / kLambdaRunner, lambda_runner_source()); !st)
      std::cerr << "eddy: cannot write " << (dir_ / kLambdaRunner).string() << ": " << st.error().message
                << " (python: Lambda transforms fail until it can be written)\n";
  }
  fs::remove(dir_ / "lambda_runner.py", ec);  // where an eddy before 2026-12-06 kept it
  std::unique_lock lock(mu_);
  for (const auto& d : fs::directory_iterator(dir_, ec)) {
    auto text = read_file(d.path() / "stream.json");
    if (!text) continue;
    auto e = std::make_unique<Entry>();
    try {
      const auto j = json::parse(*text);
      e->stream.config = j.at("config");
      e->stream.status = j.at("status").get<std::string>();
      e->stream.version = j.at("version").get<int64_t>();
      e->stream.created_ms = j.at("created_ms").get<TimestampMs>();
      e->stream.updated_ms = j.at("updated_ms").get<TimestampMs>();
    } catch (const std::exception& ex) {
      return make_error(Errc::kCorruption, "cannot read " + (d.path() / "stream.json").string() + ": " + ex.what());
    }
    const std::string name = e->stream.config.at("DeliveryStreamName").get<std::string>();
    if (auto st = move_to_entry(d.path(), entry_dir(name)); !st) return st;
    if (e->stream.config.value("DeliveryStreamType", "DirectPut") == "DirectPut") {
      auto journal = log::ShardLog::open(entry_dir(name) / "journal", log::LogOptions{});
      if (!journal) return tl::unexpected(journal.error());
      e->journal = std::shared_ptr<log::ShardLog>(std::move(*journal));
      committer_.track(e->journal);
    }
    auto* entry = e.get();
    streams_[name] = std::move(e);
    launch(name, *entry);
  }
  return {};
}

// The destination of a request is valid; an eddy stream as destination must exist.
Status DeliveryHost::check_destination(const json& request) const {
  auto dest = destination_of_stream(request, lambda_setup());
  if (!dest) return tl::unexpected(dest.error());
  const auto object_name = longest_object_name(request.value("DeliveryStreamName", ""), 0, *dest);
  if (auto st = check_prefix_forms_keys("Prefix", dest->prefix, object_name); !st) return st;
  if (auto st = check_prefix_forms_keys("ErrorOutputPrefix", dest->error_prefix, object_name); !st) return st;
  if (!dest->stream_arn.empty()) {
    auto target = store_.name_from_arn(dest->stream_arn);
    if (!target) return tl::unexpected(target.error());
    if (!store_.shards(*target))
      return invalid("Kinesis stream " + *target + " (the destination) does not exist; create it first");
  }
  return {};
}

Result<DeliveryStream> DeliveryHost::create(json request) {
  const std::string name = request.at("DeliveryStreamName").get<std::string>();
  const std::string type = request.value("DeliveryStreamType", "DirectPut");
  request["DeliveryStreamType"] = type;
  if (type != "DirectPut" && type != "KinesisStreamAsSource") {
    return invalid("DeliveryStreamType " + type + " is not supported by eddy (DirectPut, KinesisStreamAsSource)");
  }
  if (request.contains("S3DestinationConfiguration") && !request.contains("ExtendedS3DestinationConfiguration")) {
    request["ExtendedS3DestinationConfiguration"] = request["S3DestinationConfiguration"];
    request.erase("S3DestinationConfiguration");
  }
  if (!request.contains("ExtendedS3DestinationConfiguration") &&
      !request.contains("HttpEndpointDestinationConfiguration")) {
    return invalid(
        "eddy delivers to ExtendedS3DestinationConfiguration (a bucket directory or S3 store, BucketARN "
        "arn:aws:s3:::NAME) or HttpEndpointDestinationConfiguration");
  }
  int destinations = 0;
  for (const auto& [k, _] : request.items()) destinations += k.ends_with("DestinationConfiguration");
  if (destinations != 1) return invalid("A delivery stream has exactly one destination configuration");
  if (auto st = check_destination(request); !st) return tl::unexpected(st.error());
  json positions = json::object();
  json finished = json::array();
  if (type == "KinesisStreamAsSource") {
    if (!request.contains("KinesisStreamSourceConfiguration")) {
      return invalid("KinesisStreamAsSource needs KinesisStreamSourceConfiguration");
    }
    auto source = store_.name_from_arn(request["KinesisStreamSourceConfiguration"].value("KinesisStreamARN", ""));
    if (!source) return tl::unexpected(source.error());
    auto shards = store_.shards(*source);
    if (!shards) return invalid("Kinesis stream " + *source + " does not exist");
    // Like Firehose, a stream source is read from LATEST: from now on.
    for (const auto& s : *shards) {
      if (!s.open()) {
        finished.push_back(s.index);  // closed before the delivery stream existed: nothing to read
        continue;
      }
      auto p = store_.shard_position(*source, s.index, stream::IteratorType::kLatest);
      if (p) positions[std::to_string(s.index)] = *p;
    }
  } else if (request.contains("KinesisStreamSourceConfiguration")) {
    return invalid("KinesisStreamSourceConfiguration needs DeliveryStreamType KinesisStreamAsSource");
  }
  std::unique_lock lock(mu_);
  if (streams_.count(name)) {
    return make_error(Errc::kResourceInUse, "Firehose " + name + " under account 000000000000 already exists.");
  }
  auto e = std::make_unique<Entry>();
  e->stream.config = std::move(request);
  e->stream.created_ms = e->stream.updated_ms = clock_.now_ms();
  std::error_code ec;
  fs::remove_all(entry_dir(name), ec);  // leftovers of a deleted stream of the same name
  if (type == "DirectPut") {
    auto journal = log::ShardLog::open(entry_dir(name) / "journal", log::LogOptions{});
    if (!journal) return tl::unexpected(journal.error());
    e->journal = std::shared_ptr<log::ShardLog>(std::move(*journal));
    committer_.track(e->journal);
  }
  if (auto st = persist(name, e->stream); !st) return tl::unexpected(st.error());
  if (auto st = write_file_atomic(entry_dir(name) / "state.json",
                                  json{{"positions", positions}, {"finished", finished}}.dump());
      !st) {
    return tl::unexpected(st.error());
  }
  auto result = e->stream;
  auto* entry = e.get();
  streams_[name] = std::move(e);
  launch(name, *entry);
  return result;
}

Result<DeliveryStream> DeliveryHost::describe(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = streams_.find(name);
  if (it == streams_.end()) return not_found(name);
  DeliveryStream s = it->second->stream;
  if (auto state = read_file(entry_dir(name) / "state.json")) {
    try {
      const auto j = json::parse(*state);
      s.objects = j.value("objects", uint64_t{0});
      s.records = j.value("records", uint64_t{0});
      s.last_delivery_ms = j.value("last_delivery_ms", TimestampMs{0});
    } catch (const std::exception&) {
      // Figures only: the worker keeps an unreadable state.json aside and reports it.
    }
  }
  return s;
}

std::vector<DeliveryStream> DeliveryHost::list() const {
  std::lock_guard lock(mu_);
  std::vector<DeliveryStream> out;
  for (const auto& [_, e] : streams_) out.push_back(e->stream);
  return out;
}

Status DeliveryHost::remove(const std::string& name) {
  std::unique_lock lock(mu_);
  auto it = streams_.find(name);
  if (it == streams_.end()) return not_found(name);
  if (it->second->worker) halt(*it->second, lock);
  if (it->second->journal) it->second->journal->destroy();
  std::error_code ec;
  fs::remove_all(entry_dir(name), ec);
  streams_.erase(name);
  return {};
}

Status DeliveryHost::update_destination(const std::string& name, int64_t version, const std::string& kind,
                                        const json& update) {
  std::unique_lock lock(mu_);
  auto it = streams_.find(name);
  if (it == streams_.end()) return not_found(name);
  Entry& e = *it->second;
  if (version != e.stream.version) {
    return make_error(Errc::kConcurrentModification,
                      "Cannot update firehose: " + name +
                          " since the current version id: " + std::to_string(e.stream.version) +
                          " and the requested version id: " + std::to_string(version) + " do not match");
  }
  // The same destination type merges the given fields; another type replaces the destination.
  const std::string field = kind + "DestinationConfiguration";
  json request = e.stream.config;
  json next = request.contains(field) ? request[field] : json::object();
  for (const auto& [k, v] : update.items()) {
    if (k == "S3Update") {
      json& backup = next["S3Configuration"];
      if (!backup.is_object()) backup = json::object();
      for (const auto& [bk, bv] : v.items()) backup[bk] = bv;
    } else {
      next[k] = v;
    }
  }
  request.erase("ExtendedS3DestinationConfiguration");
  request.erase("HttpEndpointDestinationConfiguration");
  request[field] = std::move(next);
  if (auto st = check_destination(request); !st) return tl::unexpected(st.error());
  if (e.worker) halt(e, lock);
  e.stream.config = std::move(request);
  ++e.stream.version;
  e.stream.updated_ms = clock_.now_ms();
  auto st = persist(name, e.stream);
  launch(name, e);
  return st;
}

Result<uint64_t> DeliveryHost::journal_end(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = streams_.find(name);
  if (it == streams_.end()) return not_found(name);
  if (!it->second->journal) return invalid("delivery stream " + name + " reads a Kinesis stream: it has no journal");
  return it->second->journal->end_offset();
}

Status DeliveryHost::scan_journal(const std::string& name, uint64_t from,
                                  const std::function<void(std::string_view, std::string_view)>& each) const {
  std::shared_ptr<log::ShardLog> journal;
  {
    std::lock_guard lock(mu_);
    auto it = streams_.find(name);
    if (it == streams_.end()) return not_found(name);
    journal = it->second->journal;
  }
  if (!journal) return invalid("delivery stream " + name + " reads a Kinesis stream: it has no journal");
  for (;;) {
    auto r = journal->read(from, 1000, 16u << 20);
    if (!r) return tl::unexpected(r.error());
    if (r->records.empty()) return {};
    for (const auto& rec : r->records) each(rec.partition_key, rec.data);
    from = r->next_offset;
  }
}

Result<PutOutcome> DeliveryHost::put(const std::string& name, const std::vector<std::string_view>& records,
                                     const std::vector<std::string_view>& keys) {
  std::shared_ptr<log::ShardLog> journal;
  {
    std::lock_guard lock(mu_);
    auto it = streams_.find(name);
    if (it == streams_.end()) return not_found(name);
    if (!it->second->journal) {
      return invalid("This operation is not permitted on KinesisStreamAsSource delivery stream type.");
    }
    journal = it->second->journal;
  }
  std::vector<log::AppendRecord> batch;
  batch.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i)
    batch.push_back({i < keys.size() ? keys[i] : std::string_view(), "", records[i]});
  auto appended = journal->append(batch, clock_.now_ms());
  if (!appended) return tl::unexpected(appended.error());
  PutOutcome out;
  out.journal = journal;
  for (size_t i = 0; i < records.size(); ++i) {
    out.record_ids.push_back(stream::encode_sequence_number(0, appended->first_offset + i));
  }
  return out;
}

void DeliveryHost::launch(const std::string& name, Entry& e) {
  e.worker = std::make_unique<Worker>();
  Worker* w = e.worker.get();
  w->thread = std::thread([this, name, w] {
    try {
      run(name, *w);
    } catch (const std::exception& ex) {
      // A broken state file must not take the server down; the stream stops delivering.
      std::fprintf(stderr, "eddy: delivery stream %s stopped: %s\n", name.c_str(), ex.what());
    }
  });
}

void DeliveryHost::halt(Entry& e, std::unique_lock<std::mutex>& lock) {
  auto w = std::move(e.worker);
  w->stop = true;
  w->cv.notify_all();
  lock.unlock();
  w->thread.join();
  lock.lock();
}

void DeliveryHost::run(const std::string& name, Worker& w) {
  json config;
  std::shared_ptr<log::ShardLog> journal;
  int64_t version;
  {
    std::lock_guard lock(mu_);
    auto it = streams_.find(name);
    if (it == streams_.end()) return;
    config = it->second->stream.config;
    journal = it->second->journal;
    version = it->second->stream.version;
  }
  auto dest = destination_of_stream(config, lambda_setup());
  if (!dest) return;
  std::string source;
  if (!journal)
    source = *store_.name_from_arn(config["KinesisStreamSourceConfiguration"].value("KinesisStreamARN", ""));

  // Positions that cannot be read are kept aside and reported, and delivery starts over from the
  // oldest retained record: records may be delivered twice (as Firehose may), none is skipped.
  json state = json::object();
  const fs::path state_path = entry_dir(name) / "state.json";
  if (auto text = read_file(state_path)) {
    try {
      state = json::parse(*text);
      const json positions_text = state.is_object() ? state.value("positions", json::object()) : json();
      const json finished_text = state.is_object() ? state.value("finished", json::array()) : json();
      if (!positions_text.is_object() || !finished_text.is_array())
        throw std::runtime_error("not an object of positions and finished shards");
      for (const auto& [k, v] : positions_text.items()) {
        if (k.empty() || k.size() > 9 || k.find_first_not_of("0123456789") != std::string::npos ||
            !v.is_number_unsigned())
          throw std::runtime_error("position " + k + " is not a shard index with an offset");
      }
      for (const auto& f : finished_text) {
        if (!f.is_number_unsigned() || f.get<uint64_t>() > UINT32_MAX)
          throw std::runtime_error("finished shards are not shard indexes");
      }
    } catch (const std::exception& ex) {
      state = json::object();
      log_fault("reading the positions of delivery stream " + name,
                std::string(ex.what()) + "; " + keep_aside(state_path, clock_.now_ms()) +
                    "; delivery starts again from the oldest retained record");
    }
  }
  std::map<uint32_t, uint64_t> positions;  // delivered up to (exclusive)
  const json saved = state.value("positions", json::object());
  for (auto it = saved.begin(); it != saved.end(); ++it)
    positions[static_cast<uint32_t>(std::stoul(it.key()))] = it->get<uint64_t>();
  std::set<uint32_t> finished;
  for (const auto& f : state.value("finished", json::array())) finished.insert(f.get<uint32_t>());

  // Reads [from, to) of one source shard (to = 0: as much as is there, up to kReadBatch).
  auto read = [&](uint32_t shard, uint64_t from, uint64_t to, std::vector<Rec>& out, bool& done) -> uint64_t {
    done = false;
    const size_t max = to ? static_cast<size_t>(to - from) : kReadBatch;
    if (max == 0) return from;
    if (journal) {
      auto r = journal->read(from, max, 64u << 20);
      if (!r) return from;
      for (const auto& rec : r->records) out.push_back({rec.arrival_ms, 0, rec.offset, std::string(rec.data)});
      return r->records.empty() ? std::max(from, r->next_offset) : r->records.back().offset + 1;
    }
    auto r = store_.read_shard(source, shard, from, max);
    if (!r) return from;
    for (const auto& rec : r->read.records) {
      out.push_back({rec.arrival_ms, shard, rec.offset, std::string(rec.data), std::string(rec.partition_key)});
    }
    done = r->finished;
    return r->next;
  };

  // The records after processing (with Lambda partition keys), and the error records of records
  // the Lambda transform failed.
  struct Processed {
    std::string data;
    std::map<std::string, std::string> keys;
    TimestampMs arrival;
    const Rec* src;
  };
  auto error_line = [&](const Rec& r, const std::string& code, const std::string& message) {
    json e = {{"attemptsMade", 1},
              {"arrivalTimestamp", r.arrival},
              {"errorCode", code},
              {"errorMessage", message},
              {"attemptEndingTimestamp", clock_.now_ms()},
              {"rawData", base64_encode(r.data)}};
    if (dest->lambda) e["lambdaArn"] = dest->lambda->arn();
    return e.dump() + "\n";
  };
  auto process = [&](const std::vector<Rec>& recs, std::string& errors) {
    std::vector<Processed> out;
    if (!dest->lambda) {
      out.reserve(recs.size());
      for (const auto& r : recs) out.push_back({r.data, {}, r.arrival, &r});
      return out;
    }
    std::vector<TransformInput> inputs;
    for (const auto& r : recs) {
      TransformInput in{std::to_string(r.shard) + "-" + std::to_string(r.offset), r.arrival, r.data, "", "", ""};
      if (!journal) {
        char shard_id[32];
        std::snprintf(shard_id, sizeof shard_id, "shardId-%012u", r.shard);
        in.shard_id = shard_id;
        in.partition_key = r.partition_key;
        in.sequence_number = stream::encode_sequence_number(r.shard, r.offset);
      }
      inputs.push_back(std::move(in));
    }
    const auto outcomes = dest->lambda->invoke(arn(name), inputs, journal ? "" : store_.arn(source));
    for (size_t i = 0; i < outcomes.size(); ++i) {
      const auto& o = outcomes[i];
      if (o.result == TransformOutcome::Result::kOk) {
        Processed p{o.data, {}, recs[i].arrival, &recs[i]};
        for (const auto& [k, v] : o.partition_keys) p.keys["lambda:" + k] = v;
        out.push_back(std::move(p));
      } else if (o.result == TransformOutcome::Result::kFailed) {
        errors += error_line(recs[i], o.error_code, o.error_message);
      }
    }
    return out;
  };
  auto join = [&](const std::vector<Processed>& records) {
    std::string body;
    for (const auto& p : records) {
      body += p.data;
      if (dest->append_newline) body.push_back('\n');
    }
    return dest->gzip ? gzip(body) : body;
  };

  // Records written to the error prefix since the last save (metrics: failed records).
  uint64_t failed_since_save = 0;
  auto count_failed = [&](const std::string& lines) {
    failed_since_save += static_cast<uint64_t>(std::count(lines.begin(), lines.end(), '\n'));
  };
  // Positions and figures after an object is written. A failed write leaves them as they were and
  // says so: the caller keeps the intent and the round is retried (the same object again).
  auto save = [&](uint64_t add_objects, uint64_t add_records) -> bool {
    json next = state;
    next["failed_records"] = next.value("failed_records", uint64_t{0}) + failed_since_save;
    json pos = json::object();
    for (const auto& [s, p] : positions) pos[std::to_string(s)] = p;
    next["positions"] = pos;
    next["finished"] = finished;
    next["objects"] = next.value("objects", uint64_t{0}) + add_objects;
    next["records"] = next.value("records", uint64_t{0}) + add_records;
    if (add_objects) next["last_delivery_ms"] = clock_.now_ms();
    if (auto st = write_file_atomic(entry_dir(name) / "state.json", next.dump()); !st) {
      log_fault("saving the positions of delivery stream " + name, st.error().message + "; retrying");
      return false;
    }
    state = std::move(next);
    failed_since_save = 0;
    return true;
  };

  // An eddy stream as destination: records keyed by source position, appended exactly once (the
  // target's shard ends go into the intent before the first append; see stream_sink.h). Records
  // still refused after the retry duration, or too large for the stream, go to the backup bucket.
  StreamSink sink(store_, committer_, clock_);
  auto deliver_to_stream = [&](const std::vector<Processed>& processed, const std::string& key) -> bool {
    auto target = store_.name_from_arn(dest->stream_arn);
    if (!target) return false;
    json intent;
    try {
      intent = json::parse(read_file(entry_dir(name) / "intent.json").value_or("{}"));
    } catch (const std::exception& ex) {
      log_fault("reading the intent record of delivery stream " + name, ex.what());  // written by this round
      return false;
    }
    std::map<uint32_t, uint64_t> marks;
    std::set<std::string> skip;
    if (intent.contains("target")) {
      for (const auto& [shard, end] : intent["target"].items())
        marks[static_cast<uint32_t>(std::stoul(shard))] = end.get<uint64_t>();
      skip = sink.keys_after(*target, marks);
    } else {
      auto now = sink.marks(*target);
      if (now) marks = std::move(*now);  // a missing stream is retried below, then backed up
      json t = json::object();
      for (const auto& [shard, end] : marks) t[std::to_string(shard)] = end;
      intent["target"] = t;
      if (!write_file_atomic(entry_dir(name) / "intent.json", intent.dump())) return false;
    }
    std::vector<StreamRecord> records;
    records.reserve(processed.size());
    for (const auto& p : processed) {
      records.push_back({name + ":" + std::to_string(p.src->shard) + "-" + std::to_string(p.src->offset),
                         dest->append_newline ? p.data + "\n" : p.data});
    }
    auto r = sink.append(*target, records, skip, dest->stream_retry_seconds, [&w] { return w.stop.load(); });
    while (r.uncertain && !w.stop) {
      skip = sink.keys_after(*target, marks);
      r = sink.append(*target, records, skip, dest->stream_retry_seconds, [&w] { return w.stop.load(); });
    }
    // Interrupted: returning false leaves the intent, which the next start redoes. Any other
    // failure below must not return false, or a new intent (without the marks) could duplicate.
    if (w.stop && !r.delivered) return false;
    std::string failed;
    auto fail_line = [&](const Processed& p, const std::string& code, const std::string& message) {
      failed += json{{"attemptsMade", r.attempts},
                     {"arrivalTimestamp", p.arrival},
                     {"errorCode", code},
                     {"errorMessage", message},
                     {"attemptEndingTimestamp", clock_.now_ms()},
                     {"rawData", base64_encode(p.data)}}
                    .dump() +
                "\n";
    };
    for (size_t i : r.too_large) {
      fail_line(processed[i], "Kinesis.RecordTooLarge", "The record is larger than the stream's maximum record size");
    }
    for (size_t i : r.refused) fail_line(processed[i], r.error_code, r.error_message);
    if (failed.empty()) return true;
    const std::string failed_key = evaluate_prefix(
                                       dest->error_prefix, processed.front().arrival,
                                       [] { return std::string("00000000000"); }, "kinesis-stream-failed") +
                                   key.substr(key.rfind('/') + 1);
    while (!write_object(dest->bucket, failed_key, failed)) {
      if (w.stop) return false;
      std::unique_lock lock(w.mu);
      w.cv.wait_for(lock, std::chrono::seconds(1), [&] { return w.stop.load(); });
    }
    count_failed(failed);
    return true;
  };

  // Writes one object covering `ranges` (shard -> [from, to)), with its key fixed by an intent
  // record first, so that a crash in between rewrites exactly the same object.
  auto deliver = [&](const std::map<uint32_t, std::pair<uint64_t, uint64_t>>& ranges, std::vector<Rec> recs,
                     std::string key, std::string error_key) -> bool {
    std::stable_sort(recs.begin(), recs.end(), [](const Rec& a, const Rec& b) {
      return std::tie(a.arrival, a.shard, a.offset) < std::tie(b.arrival, b.shard, b.offset);
    });
    if (key.empty()) {
      std::string seed_text = name + "/" + std::to_string(version);
      for (const auto& [s, r] : ranges)
        seed_text += "/" + std::to_string(s) + ":" + std::to_string(r.first) + "-" + std::to_string(r.second);
      const auto digest = md5(seed_text);
      uint64_t seed;
      std::memcpy(&seed, digest.data(), sizeof(seed));
      std::mt19937_64 rng(seed);
      static constexpr char kChars[] = "0123456789abcdef";
      auto random = [&rng] {
        std::string s(11, '0');
        for (auto& c : s) c = kChars[rng() % 16];
        return s;
      };
      std::string uuid(36, '-');
      for (size_t i = 0; i < uuid.size(); ++i) {
        if (i != 8 && i != 13 && i != 18 && i != 23) uuid[i] = kChars[rng() % 16];
      }
      const TimestampMs oldest = recs.front().arrival;
      const std::string suffix =
          name + "-" + std::to_string(version) + "-" + format_java_time("yyyy-MM-dd-HH-mm-ss", oldest) + "-" + uuid;
      key = evaluate_prefix(dest->prefix, oldest, random) + suffix + dest->extension;
      error_key = evaluate_prefix(dest->error_prefix, oldest, random, "processing-failed") + suffix;
      json intent = {{"key", key}, {"error_key", error_key}, {"ranges", json::array()}};
      for (const auto& [s, r] : ranges) intent["ranges"].push_back({s, r.first, r.second});
      if (!write_file_atomic(entry_dir(name) / "intent.json", intent.dump())) return false;
    }
    std::string errors;
    std::vector<Processed> processed = process(recs, errors);
    // Dynamic partitioning: group by the partition key values (query and Lambda), one object each.
    std::map<std::map<std::string, std::string>, std::vector<Processed>> partitions;
    if (dest->partitioning) {
      for (auto& p : processed) {
        if (dest->query) {
          auto keys = extract_partition_keys(*dest->query, p.data);
          if (!keys) {
            errors += error_line(*p.src, "DynamicPartitioning.MetadataExtractionFailed",
                                 "The partition keys could not be extracted from the record");
            continue;
          }
          p.keys.insert(keys->begin(), keys->end());
        }
        if (auto st = check_prefix_forms_keys("the record's partition key values", dest->prefix,
                                              longest_object_name(name, version, *dest), &p.keys);
            !st) {
          errors += error_line(*p.src, "DynamicPartitioning.InvalidPartitionKey", st.error().message);
          continue;
        }
        if (partitions.size() >= 500 && !partitions.count(p.keys)) {
          errors +=
              error_line(*p.src, "DynamicPartitioning.ActivePartitionExceeded", "More than 500 active partitions");
          continue;
        }
        partitions[p.keys].push_back(std::move(p));
      }
    }
    if (!errors.empty() && !write_object(dest->bucket, error_key, errors)) return false;
    count_failed(errors);
    if (dest->partitioning) {
      int part = 0;
      for (const auto& [keys, records] : partitions) {
        const auto digest = md5(key + "#" + std::to_string(part++));
        uint64_t seed;
        std::memcpy(&seed, digest.data(), sizeof(seed));
        std::mt19937_64 prng(seed);
        auto random = [&prng] {
          static constexpr char kHex[] = "0123456789abcdef";
          std::string s(11, '0');
          for (auto& ch : s) ch = kHex[prng() % 16];
          return s;
        };
        std::string uuid = to_hex(digest);
        uuid.insert(8, "-").insert(13, "-").insert(18, "-").insert(23, "-");
        const TimestampMs oldest = records.front().arrival;
        const std::string object = evaluate_prefix(dest->prefix, oldest, random, "", &keys) + name + "-" +
                                   std::to_string(version) + "-" + format_java_time("yyyy-MM-dd-HH-mm-ss", oldest) +
                                   "-" + uuid + dest->extension;
        if (!write_object(dest->bucket, object, join(records))) return false;
      }
    } else if (!dest->stream_arn.empty()) {
      if (!deliver_to_stream(processed, key)) return false;
    } else if (dest->http) {
      // One request per 10,000 records; its id derives from the object key, so a retry after a
      // crash carries the same id and the endpoint can de-duplicate.
      std::string failed;
      for (size_t start = 0, part = 0; start < processed.size(); start += 10000, ++part) {
        std::vector<std::string> chunk;
        for (size_t i = start; i < std::min(processed.size(), start + 10000); ++i) chunk.push_back(processed[i].data);
        const auto digest = md5(key + "#" + std::to_string(part));
        std::string id = to_hex(digest);
        id.insert(8, "-").insert(13, "-").insert(18, "-").insert(23, "-");
        auto r = deliver_http(*dest->http, arn(name), id, chunk, clock_, [&w] { return w.stop.load(); });
        if (w.stop && !r.delivered) return false;  // interrupted: the intent redoes it
        if (!r.delivered) {
          for (const auto& d : chunk) {
            failed += json{{"attemptsMade", r.attempts},
                           {"arrivalTimestamp", recs.front().arrival},
                           {"errorCode", r.error_code},
                           {"errorMessage", r.error_message},
                           {"attemptEndingTimestamp", clock_.now_ms()},
                           {"rawData", base64_encode(d)},
                           {"subsequenceNumber", 0},
                           {"dataId", id}}
                          .dump() +
                      "\n";
          }
        }
      }
      if (!failed.empty()) {
        const std::string failed_key = evaluate_prefix(
                                           dest->error_prefix, recs.front().arrival,
                                           [] { return std::string("00000000000"); }, "http-endpoint-failed") +
                                       key.substr(key.rfind('/') + 1);
        if (!write_object(dest->bucket, failed_key, failed)) return false;
        count_failed(failed);
      }
      if (dest->backup_all && !write_object(dest->bucket, key, join(processed))) return false;
    } else if ((!processed.empty() || !dest->lambda) && !write_object(dest->bucket, key, join(processed))) {
      // (every record a transform dropped or failed would leave an empty object: skipped)
      return false;  // retried next round
    }
    const auto before = positions;
    for (const auto& [s, r] : ranges) positions[s] = std::max(positions[s], r.second);
    // The object is written; until the positions are saved, a new round would read the records
    // again into another object. So the save is retried, and a stop meanwhile leaves the intent
    // for the next start, which writes this same object again and saves.
    while (!save(1, recs.size())) {
      std::unique_lock lock(w.mu);
      if (w.cv.wait_for(lock, std::chrono::seconds(1), [&] { return w.stop.load(); })) {
        positions = before;
        return false;
      }
    }
    std::error_code ec;
    fs::remove(entry_dir(name) / "intent.json", ec);
    return true;
  };

  // Recovery: an object whose writing was interrupted is written again, identically. The intent
  // goes only once that is done (deliver removes it), or when its records are gone (retention);
  // a stop leaves it for the next start. An intent that cannot be read is kept aside and
  // reported, never deleted: its object may have been written in part.
  const fs::path intent_path = entry_dir(name) / "intent.json";
  if (auto text = read_file(intent_path)) {
    try {
      const auto intent = json::parse(*text);
      std::map<uint32_t, std::pair<uint64_t, uint64_t>> ranges;
      std::vector<Rec> recs;
      for (const auto& r : intent.at("ranges")) {
        const auto shard = r.at(0).get<uint32_t>();
        const auto from = r.at(1).get<uint64_t>(), to = r.at(2).get<uint64_t>();
        ranges[shard] = {from, to};
        bool done;
        for (uint64_t p = from; p < to;) {
          const auto before = recs.size();
          p = read(shard, p, to, recs, done);
          if (recs.size() == before) break;
        }
      }
      const std::string key = intent.at("key").get<std::string>();
      if (recs.empty()) {
        log_fault("writing again the interrupted object " + key + " of delivery stream " + name,
                  "its records are no longer in the source (retention)");
        std::error_code ec;
        fs::remove(intent_path, ec);
      }
      while (!recs.empty() && !w.stop && !deliver(ranges, recs, key, intent.value("error_key", ""))) {
        std::unique_lock lock(w.mu);
        w.cv.wait_for(lock, std::chrono::seconds(1), [&] { return w.stop.load(); });
      }
    } catch (const std::exception& ex) {
      log_fault("reading the intent record of delivery stream " + name,
                std::string(ex.what()) + "; " + keep_aside(intent_path, clock_.now_ms()) +
                    "; delivery goes on from the saved positions");
    }
  }

  std::vector<Rec> buffer;
  std::map<uint32_t, uint64_t> read_to = positions;  // read (into the buffer) up to
  std::map<uint32_t, std::pair<uint64_t, uint64_t>> ranges;
  size_t buffer_bytes = 0;
  TimestampMs buffer_started = 0;
  TimestampMs last_retention = 0;
  while (!w.stop) {
    // Source shards in lineage order (children after their parents are fully read).
    std::vector<uint32_t> shards;
    std::map<uint32_t, std::vector<uint32_t>> parents;
    if (journal) {
      shards.push_back(0);
    } else if (auto infos = store_.shards(source)) {
      for (const auto& s : *infos) {
        shards.push_back(s.index);
        for (auto p : {s.parent, s.adjacent_parent}) {
          if (p) parents[s.index].push_back(*p);
        }
      }
    }
    bool got = false;
    for (uint32_t s : shards) {
      if (finished.count(s)) continue;
      bool ready = true;
      for (uint32_t p : parents[s]) {
        if (std::find(shards.begin(), shards.end(), p) != shards.end() && !finished.count(p)) ready = false;
      }
      if (!ready) continue;
      std::vector<Rec> recs;
      bool done = false;
      const uint64_t from = read_to.count(s) ? read_to[s] : 0;
      if (buffer_bytes >= dest->size_bytes) break;  // full: deliver before reading more
      uint64_t next = read(s, from, 0, recs, done);
      if (!recs.empty()) {
        got = true;
        // The interval counts from the arrival of the oldest buffered record.
        if (buffer.empty()) buffer_started = recs.front().arrival;
        auto& range = ranges.try_emplace(s, recs.front().offset, recs.front().offset).first->second;
        size_t taken = 0;
        for (auto& r : recs) {
          buffer_bytes += r.data.size() + (dest->append_newline ? 1 : 0);
          range.second = r.offset + 1;
          buffer.push_back(std::move(r));
          ++taken;
          // An object holds one buffer's worth, like Firehose; the rest is read again for the next.
          if (buffer_bytes >= dest->size_bytes) break;
        }
        if (taken < recs.size()) {
          next = range.second;
          done = false;
          recs.resize(taken);
        }
      }
      read_to[s] = next;
      if (done && recs.empty()) {
        finished.insert(s);
        if (!positions.count(s) || positions[s] < next) positions[s] = next;
      }
    }
    const bool due =
        !buffer.empty() && (buffer_bytes >= dest->size_bytes || clock_.now_ms() - buffer_started >= dest->interval_ms);
    if (due) {
      if (deliver(ranges, std::move(buffer), "", "")) {
        buffer.clear();
        ranges.clear();
        buffer_bytes = 0;
      } else {
        // The destination refused: read the same records again next round, never drop them.
        read_to = positions;
        buffer.clear();
        ranges.clear();
        buffer_bytes = 0;
      }
    }
    w.buffered_bytes = buffer_bytes;
    w.buffered_records = buffer.size();
    if (journal && clock_.now_ms() - last_retention > 60'000) {
      (void)journal->drop_segments_before(clock_.now_ms() - kJournalRetentionMs);
      last_retention = clock_.now_ms();
    }
    if (!got) {
      std::unique_lock lock(w.mu);
      w.cv.wait_for(lock, kIdlePoll, [&] { return w.stop.load(); });
    }
  }
}

}  // namespace eddy::delivery
