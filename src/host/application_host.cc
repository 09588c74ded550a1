// Over 800 lines because it still holds the registry, configuration checks, launch and restore,
// the runner loop, schema discovery and metrics; issue 22 splits it along those lines. Until then,
// new application-host logic goes in its own file.

#include "host/application_host.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <future>
#include <set>

#include <simdjson.h>

#include "common/fault_log.h"
#include "common/file_util.h"
#include "host/checkpoint.h"
#include "host/error_ring.h"
#include "runtime/application.h"
#include "runtime/row_format.h"
#include "sql/compile.h"

namespace eddy::host {

// The host runs the runtime's programs; these are the names it uses most.
using runtime::Application;
using runtime::ApplicationInput;
using runtime::BatchSource;
using runtime::FlinkTable;
using runtime::parse_input_schema;
using runtime::parse_timestamp_text;
using runtime::Program;
using runtime::SourceRecord;

namespace fs = std::filesystem;

namespace {

// A job library is native code run as the server's user: loading one is the server's decision.
constexpr const char* kNoNativeJobs =
    "this server does not run C++ job libraries (native code): start it with eddy serve --allow-native-jobs";

// A record read from the source stream, waiting to be merged into ROWTIME order.
struct PendingRecord {
  TimestampMs arrival;
  uint32_t shard;
  uint64_t offset;
  std::string data;
};

// One range of a shard, [from, from + read_batch), read for a round.
struct RangeRead {
  uint32_t shard;
  uint64_t from;
  bool ok = false;  // read (else: an error, read again next round)
  std::vector<PendingRecord> records;
  uint64_t next = 0;  // the offset after the last record read
  bool finished = false;
};

// Reads `reads` on the pool's threads, each range on one of them.
void read_in_parallel(const stream::StreamStore& store, const std::string& source, WorkerPool& pool,
                      std::vector<RangeRead>& reads, size_t read_batch) {
  auto read_one = [&](RangeRead& rd) {
    auto read = store.read_shard(source, rd.shard, rd.from, read_batch);
    if (!read) return;
    rd.records.reserve(read->read.records.size());
    for (const auto& rec : read->read.records) {
      rd.records.push_back({rec.arrival_ms, rd.shard, rec.offset, std::string(rec.data)});
    }
    rd.next = read->next;
    rd.finished = read->finished;
    rd.ok = true;
  };
  if (reads.size() <= 1 || pool.size() == 1) {
    for (auto& rd : reads) read_one(rd);
    return;
  }
  const size_t parts = std::min(pool.size(), reads.size());
  pool.run(parts, [&](size_t k) {
    for (size_t i = k; i < reads.size(); i += parts) read_one(reads[i]);
  });
}

}  // namespace

struct ApplicationHost::Runner {
  struct Destination {
    std::string stream;
    bool delivery = false;  // a delivery stream (KinesisFirehoseOutput), not a Kinesis stream
    bool csv = false;
    std::vector<std::string> pending;
    std::string output;      // the in-application stream (or Flink sink table, or job sink)
    std::string key;         // in the checkpoint: "<in-application stream> -> <destination>"
    std::string key_prefix;  // of the partition keys of its records: "<application>/<in-application stream>:"
    uint64_t ordinal = 0;    // of the next row written (its partition key)
    // After a restore: the rows the previous run wrote after its last checkpoint (how many of
    // each, and the last ordinal among them). The replay emits them again — not always in the
    // same order: a window's groups come in the order their first rows did, and rows of different
    // shards may interleave differently than they did live — so up to that ordinal a row is
    // passed over if the previous run wrote the same row. Until then, checkpoints keep the marks
    // they were found from.
    std::unordered_map<std::string, uint32_t> written;
    uint64_t written_through = 0;
    std::map<uint32_t, uint64_t> marks;  // destination shard ends of the checkpoint in effect
  };
  using Pending = PendingRecord;

  std::thread thread;
  int64_t checkpoint_interval_ms = 10'000;
  std::atomic<bool> stop{false};
  std::mutex mu;  // guards errors and the wake-up
  std::condition_variable cv;
  ErrorRing errors;
  std::unique_ptr<Program> app;
  std::string source;
  std::vector<std::unique_ptr<Destination>> destinations;
  std::map<uint32_t, uint64_t> positions;
  std::set<uint32_t> finished;
  std::vector<uint32_t> active_shards;  // as last told to the application
  bool restored = false;                // from a checkpoint (else a fresh start takes one at once)
  std::unique_ptr<WorkerPool> pool;     // --parallelism: the threads that parse its records
  ApplicationCounters counters;         // for metrics()
};

namespace {

constexpr size_t kReadBatch = 2000;
constexpr size_t kReadBatchesPerRound = 4;  // an application's reads of a shard per round
// Wall-clock progress closes windows this long after their end: enough for records appended just
// before the end to become readable (an fsync), short enough that a quiet store's row is prompt.
constexpr TimestampMs kProgressGraceMs = 250;
// An idle application looks for new records this often (the latency floor for results).
constexpr auto kIdlePoll = std::chrono::milliseconds(10);

tl::unexpected<Error> not_found(const std::string& name) {
  return make_error(Errc::kResourceNotFound, "Application " + name + " not found");
}

nlohmann::json app_to_json(const HostedApplication& a) {
  nlohmann::json j;
  j["config"] = a.config;
  j["status"] = a.status;
  j["version"] = a.version;
  j["created_ms"] = a.created_ms;
  j["updated_ms"] = a.updated_ms;
  j["starting_position"] = a.starting_position;
  nlohmann::json pos = nlohmann::json::object();
  for (const auto& [k, v] : a.positions) pos[std::to_string(k)] = v;
  j["positions"] = pos;
  j["finished"] = a.finished;
  return j;
}

HostedApplication app_from_json(const nlohmann::json& j) {
  HostedApplication a;
  a.config = j.at("config");
  a.status = j.at("status").get<std::string>();
  a.version = j.at("version").get<int64_t>();
  a.created_ms = j.at("created_ms").get<TimestampMs>();
  a.updated_ms = j.at("updated_ms").get<TimestampMs>();
  a.starting_position = j.value("starting_position", "");
  if (auto p = j.find("positions"); p != j.end() && p->is_object()) {
    for (auto it = p->begin(); it != p->end(); ++it)
      a.positions[static_cast<uint32_t>(std::stoul(it.key()))] = it->get<uint64_t>();
  }
  a.finished = j.value("finished", std::vector<uint32_t>{});
  return a;
}

}  // namespace

ApplicationHost::ApplicationHost(fs::path dir, stream::StreamStore& store, log::GroupCommitter& committer,
                                 const Clock& clock)
    : dir_(std::move(dir)), store_(store), committer_(committer), clock_(clock) {}

ApplicationHost::~ApplicationHost() {
  std::unique_lock lock(mu_);
  for (auto& [_, e] : apps_) {
    if (e->runner) halt(*e, lock);
  }
}

std::string ApplicationHost::arn(const std::string& name) const {
  return "arn:aws:kinesisanalytics:" + store_.options().region + ":" + store_.options().account + ":application/" +
         name;
}

Status ApplicationHost::persist(const std::string& name, const HostedApplication& app) const {
  std::error_code ec;
  fs::create_directories(entry_dir(name), ec);
  if (ec) return make_error(Errc::kIo, "create " + (entry_dir(name)).string() + ": " + ec.message());
  return write_file_atomic(entry_dir(name) / "app.json", app_to_json(app).dump(1));
}

Status ApplicationHost::load() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return make_error(Errc::kIo, "cannot create " + dir_.string() + ": " + ec.message());
  std::unique_lock lock(mu_);
  for (const auto& d : fs::directory_iterator(dir_, ec)) {
    auto text = read_file(d.path() / "app.json");
    if (!text) continue;
    try {
      auto entry = std::make_unique<Entry>();
      entry->app = app_from_json(nlohmann::json::parse(*text));
      const auto name = entry->app.config.at("ApplicationName").get<std::string>();
      if (auto st = move_to_entry(d.path(), entry_dir(name)); !st) return st;
      apps_[name] = std::move(entry);
    } catch (const std::exception& e) {
      return make_error(Errc::kCorruption, "cannot read " + (d.path() / "app.json").string() + ": " + e.what());
    }
  }
  for (auto& [name, e] : apps_) {
    if (e->app.status == "RUNNING" || e->app.status == "STARTING") {
      // Resume where it stopped: a restart is a LAST_STOPPED_POINT start.
      if (auto st = launch(name, *e, "LAST_STOPPED_POINT"); !st) {
        log_fault("resuming application " + name, st.error().message + "; it is READY: start it again");
        e->app.status = "READY";
        if (auto saved = persist(name, e->app); !saved) log_fault("saving application " + name, saved.error().message);
      }
    } else if (e->app.status != "READY") {
      e->app.status = "READY";
    }
  }
  return {};
}

Result<HostedApplication> ApplicationHost::describe(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = apps_.find(name);
  if (it == apps_.end()) return not_found(name);
  return it->second->app;
}

std::vector<HostedApplication> ApplicationHost::list() const {
  std::lock_guard lock(mu_);
  std::vector<HostedApplication> out;
  for (const auto& [_, e] : apps_) out.push_back(e->app);
  return out;
}

// Compiles the code against the inputs, and checks that every output names one of its streams.
Status ApplicationHost::validate(const nlohmann::json& config) const {
  if (config.contains("ParallelismConfiguration")) {
    const auto& pc = config["ParallelismConfiguration"];
    const std::string type = pc.is_object() ? pc.value("ConfigurationType", "") : "";
    const auto n = pc.is_object() ? pc.value("Parallelism", nlohmann::json()) : nlohmann::json();
    if (type != "DEFAULT" && type != "CUSTOM") {
      return make_error(Errc::kInvalidArgument, "ParallelismConfiguration.ConfigurationType must be DEFAULT or CUSTOM");
    }
    if (type == "CUSTOM" && (!n.is_number_integer() || n.get<int64_t>() < 1 || n.get<int64_t>() > kMaxParallelism)) {
      return make_error(Errc::kInvalidArgument, "ParallelismConfiguration.Parallelism must be 1 to " +
                                                    std::to_string(kMaxParallelism) + " with ConfigurationType CUSTOM");
    }
  }
  if (config.contains("CheckpointConfiguration")) {
    const auto& cc = config["CheckpointConfiguration"];
    const std::string type = cc.is_object() ? cc.value("ConfigurationType", "") : "";
    if (type != "DEFAULT" && type != "CUSTOM") {
      return make_error(Errc::kInvalidArgument, "CheckpointConfiguration.ConfigurationType must be DEFAULT or CUSTOM");
    }
    // Exactly-once outputs after a crash rest on checkpoints, so they cannot be turned off.
    if (type == "CUSTOM" && cc.value("CheckpointingEnabled", true) == false) {
      return make_error(Errc::kInvalidArgument,
                        "eddy applications always checkpoint (exactly-once outputs after a crash depend on it); "
                        "leave CheckpointingEnabled true");
    }
    const auto interval = cc.value("CheckpointInterval", nlohmann::json());
    if (type == "CUSTOM" && !interval.is_null() && (!interval.is_number_integer() || interval.get<int64_t>() < 1)) {
      return make_error(Errc::kInvalidArgument,
                        "CheckpointConfiguration.CheckpointInterval is in milliseconds, at least 1");
    }
  }
  const auto code = config.value("ApplicationCode", "");
  std::vector<ApplicationInput> inputs;
  for (const auto& in : config.value("Inputs", nlohmann::json::array())) {
    ApplicationInput input;
    input.name_prefix = in.at("NamePrefix").get<std::string>();
    input.parallelism = in.value("InputParallelism", nlohmann::json::object()).value("Count", 1);
    auto schema = parse_input_schema(in.at("InputSchema").dump());
    if (!schema)
      return make_error(Errc::kInvalidArgument, "Input " + input.name_prefix + ": " + schema.error().message);
    input.schema = std::move(*schema);
    inputs.push_back(std::move(input));
  }
  if (code.empty()) return {};
  auto app = sql::compile_application(code, inputs, clock_);
  if (!app) return make_error(Errc::kCodeValidation, app.error().message);
  if ((*app)->flink())
    return flink_endpoints(**app).has_value() ? Status{} : tl::unexpected(flink_endpoints(**app).error());
  for (const auto& out : config.value("Outputs", nlohmann::json::array())) {
    const auto name = out.at("Name").get<std::string>();
    if (!(*app)->stream(name)) {
      return make_error(Errc::kInvalidApplicationConfiguration,
                        "Output " + name + " is not an in-application stream of the application code");
    }
  }
  return {};
}

int ApplicationHost::parallelism_of(const nlohmann::json& config) const {
  const auto pc = config.value("ParallelismConfiguration", nlohmann::json::object());
  if (pc.value("ConfigurationType", "DEFAULT") == "CUSTOM" && pc.value("Parallelism", 0) > 0)
    return pc["Parallelism"].get<int>();
  return std::max(1, parallelism_);
}

int64_t ApplicationHost::checkpoint_interval_of(const nlohmann::json& config) const {
  const auto cc = config.value("CheckpointConfiguration", nlohmann::json::object());
  if (cc.value("ConfigurationType", "DEFAULT") == "CUSTOM" && cc.value("CheckpointInterval", 0) > 0) {
    return cc["CheckpointInterval"].get<int64_t>();
  }
  return checkpoint_interval_ms_;
}

Result<HostedApplication> ApplicationHost::create(nlohmann::json config) {
  const std::string name = config.at("ApplicationName").get<std::string>();
  if (auto st = validate(config); !st) return tl::unexpected(st.error());
  std::lock_guard lock(mu_);
  if (apps_.count(name)) return make_error(Errc::kResourceInUse, "Application " + name + " already exists.");
  auto entry = std::make_unique<Entry>();
  entry->app.config = std::move(config);
  entry->app.created_ms = entry->app.updated_ms = clock_.now_ms();
  if (auto st = persist(name, entry->app); !st) return tl::unexpected(st.error());
  auto result = entry->app;
  apps_[name] = std::move(entry);
  return result;
}

Status ApplicationHost::launch(const std::string& name, Entry& entry, const std::string& position) {
  const auto& cfg = entry.app.config;
  if (cfg.contains("Job")) return launch_job(name, entry, position);
  const auto inputs = cfg.value("Inputs", nlohmann::json::array());
  const auto parallelism = static_cast<size_t>(parallelism_of(cfg));
  if (auto probe = sql::compile_application(cfg.value("ApplicationCode", ""), {}, clock_, parallelism, true);
      probe && (*probe)->flink()) {
    return launch_flink(name, entry, position, std::move(*probe));
  }
  if (inputs.empty()) {
    return make_error(Errc::kInvalidApplicationConfiguration,
                      "Application " + name + " has no input; add one with AddApplicationInput");
  }
  if (inputs.size() > 1)
    return make_error(Errc::kInvalidApplicationConfiguration, "only one streaming input is supported");
  const auto& in = inputs[0];
  if (!in.contains("KinesisStreamsInput")) {
    return make_error(Errc::kInvalidApplicationConfiguration, "the input must be a KinesisStreamsInput (eddy stream)");
  }
  auto source = store_.name_from_arn(in["KinesisStreamsInput"].at("ResourceARN").get<std::string>());
  if (!source) return tl::unexpected(source.error());
  ApplicationInput input;
  input.name_prefix = in.at("NamePrefix").get<std::string>();
  input.parallelism = in.value("InputParallelism", nlohmann::json::object()).value("Count", 1);
  auto schema = parse_input_schema(in.at("InputSchema").dump());
  if (!schema) return make_error(Errc::kInvalidArgument, schema.error().message);
  input.schema = std::move(*schema);
  auto app = sql::compile_application(cfg.value("ApplicationCode", ""), {input}, clock_, parallelism, true);
  if (!app) return make_error(Errc::kCodeValidation, app.error().message);

  std::vector<OutputSpec> outputs;
  for (const auto& out : cfg.value("Outputs", nlohmann::json::array())) {
    OutputSpec o;
    o.in_app_stream = out.at("Name").get<std::string>();
    if (out.contains("KinesisFirehoseOutput")) {
      const auto target = out["KinesisFirehoseOutput"].at("ResourceARN").get<std::string>();
      const size_t slash = target.rfind("deliverystream/");
      if (slash == std::string::npos) {
        return make_error(Errc::kInvalidApplicationConfiguration,
                          "Output " + o.in_app_stream + ": " + target + " is not a delivery stream ARN");
      }
      o.target = target.substr(slash + 15);
      o.delivery = true;
    } else if (out.contains("KinesisStreamsOutput")) {
      auto dest = store_.name_from_arn(out["KinesisStreamsOutput"].at("ResourceARN").get<std::string>());
      if (!dest) return tl::unexpected(dest.error());
      o.target = *dest;
    } else {
      return make_error(
          Errc::kInvalidApplicationConfiguration,
          "Output " + o.in_app_stream + ": only KinesisStreamsOutput and KinesisFirehoseOutput are supported");
    }
    o.csv = out.value("DestinationSchema", nlohmann::json::object()).value("RecordFormatType", "JSON") == "CSV";
    outputs.push_back(std::move(o));
  }
  return start_runner(name, entry, position, *source, std::move(*app), outputs);
}

// Flink SQL: the source table's stream and the sink tables' streams or delivery streams, from
// their WITH options ('connector' = 'kinesis' with 'stream' or 'stream.arn'; 'firehose' with
// 'delivery-stream'; 'blackhole' discards).
Result<ApplicationHost::FlinkEndpoints> ApplicationHost::flink_endpoints(const Application& app) const {
  FlinkEndpoints out;
  auto stream_of = [&](const FlinkTable& t) -> Result<std::string> {
    auto get = [&](const char* k) {
      auto it = t.options.find(k);
      return it == t.options.end() ? std::string() : it->second;
    };
    const std::string connector = get("connector");
    if (const auto format = get("format"); !format.empty() && format != "json") {
      return make_error(Errc::kInvalidApplicationConfiguration,
                        "table " + t.name + ": 'format' = '" + format + "' is not supported (json is)");
    }
    if (connector == "kinesis" || connector == "kinesis-legacy") {
      if (!get("stream.arn").empty()) return store_.name_from_arn(get("stream.arn"));
      if (!get("stream").empty()) return get("stream");
      return make_error(Errc::kInvalidApplicationConfiguration,
                        "table " + t.name + ": give 'stream' = '<name>' or 'stream.arn' in WITH (...)");
    }
    if (connector == "firehose" && t.sink && !get("delivery-stream").empty())
      return "firehose:" + get("delivery-stream");
    if (connector == "blackhole" && t.sink) return std::string("blackhole:");
    return make_error(Errc::kInvalidApplicationConfiguration,
                      "table " + t.name + ": 'connector' = '" + connector +
                          "' is not supported (kinesis; firehose and blackhole for sinks)");
  };
  for (const auto& t : app.flink_tables()) {
    auto target = stream_of(t);
    if (!target) return tl::unexpected(target.error());
    if (!t.sink) {
      if (!out.source.empty())
        return make_error(Errc::kInvalidApplicationConfiguration, "one source table per application is supported");
      out.source = *target;
      continue;
    }
    if (*target == "blackhole:") continue;
    OutputSpec o;
    o.in_app_stream = t.name;
    o.delivery = target->starts_with("firehose:");
    o.target = o.delivery ? target->substr(9) : *target;
    out.outputs.push_back(std::move(o));
  }
  if (out.source.empty())
    return make_error(Errc::kInvalidApplicationConfiguration,
                      "the application has no source table (one no INSERT writes)");
  return out;
}

Status ApplicationHost::launch_job(const std::string& name, Entry& entry, const std::string& position) {
  if (!job_loader_) return make_error(Errc::kInvalidApplicationConfiguration, kNoNativeJobs);
  const auto& job = entry.app.config["Job"];
  auto loaded = job_loader_(job.value("Library", ""), job.value("PropertyGroups", nlohmann::json::array()));
  if (!loaded) return make_error(Errc::kInvalidApplicationConfiguration, loaded.error().message);
  std::vector<OutputSpec> outputs;
  for (const auto& o : loaded->outputs) outputs.push_back({o.name, o.target, o.delivery, false});
  // A first start of a job reads from where its source says; StartApplication may say otherwise.
  const bool first =
      position == kInitialPosition || (!fs::exists(entry_dir(name) / "checkpoint") && position == "LAST_STOPPED_POINT");
  return start_runner(name, entry, first ? loaded->start : position, loaded->source, std::move(loaded->program),
                      outputs);
}

Result<HostedApplication> ApplicationHost::deploy_job(const std::string& name, std::string_view library,
                                                      const nlohmann::json& property_groups, const JobDeploy& how) {
  if (!job_loader_) return make_error(Errc::kInvalidArgument, kNoNativeJobs);
  if (how.parallelism && (*how.parallelism < 0 || *how.parallelism > kMaxParallelism)) {
    return make_error(Errc::kInvalidArgument, "parallelism must be 1 to " + std::to_string(kMaxParallelism) +
                                                  " (0: the server's --parallelism)");
  }
  std::unique_lock lock(mu_);
  auto it = apps_.find(name);
  if (it != apps_.end() && how.create)
    return make_error(Errc::kResourceInUse, "Application " + name + " already exists.");
  if (it != apps_.end() && !it->second->app.config.contains("Job")) {
    return make_error(Errc::kResourceInUse,
                      "Application " + name + " is a SQL application; deploy the job under another name");
  }
  if (it != apps_.end() && how.version != 0 && how.version != it->second->app.version) {
    return make_error(Errc::kConcurrentModification, "Provided application version id (" + std::to_string(how.version) +
                                                         ") does not match current version (" +
                                                         std::to_string(it->second->app.version) + ").");
  }
  if (it != apps_.end() && it->second->app.status != "READY" && it->second->app.status != "RUNNING") {
    return make_error(Errc::kResourceInUse, "Application " + name + " is in " + it->second->app.status + " state");
  }
  {
    nlohmann::json next = it == apps_.end() ? nlohmann::json::object() : it->second->app.config;
    next.update(how.config);
    if (auto st = validate(next); !st) return tl::unexpected(st.error());
  }
  const int64_t version = it == apps_.end() ? 1 : it->second->app.version + 1;
  std::error_code ec;
  fs::create_directories(entry_dir(name), ec);
  // A new file per version: the running version's library stays loaded while the new one is checked.
  const fs::path path = entry_dir(name) / ("job-" + std::to_string(version) + ".so");
  if (auto st = write_file_atomic(path, library); !st) return tl::unexpected(st.error());
  if (auto probe = job_loader_(path, property_groups); !probe) {
    fs::remove(path, ec);
    if (it == apps_.end()) fs::remove_all(entry_dir(name), ec);
    return make_error(Errc::kInvalidArgument, probe.error().message);
  }
  if (it == apps_.end()) {
    auto entry = std::make_unique<Entry>();
    entry->app.config = {{"ApplicationName", name},
                         {"ApplicationDescription", "C++ job"},
                         {"Inputs", nlohmann::json::array()},
                         {"Outputs", nlohmann::json::array()}};
    entry->app.created_ms = entry->app.updated_ms = clock_.now_ms();
    it = apps_.emplace(name, std::move(entry)).first;
  }
  const bool was_running = it->second->runner != nullptr;
  if (was_running) {
    it->second->app.status = "UPDATING";
    halt(*it->second, lock);
  }
  if (it->second->app.version != version) {  // an update of an existing job application
    const std::string old = it->second->app.config["Job"].value("Library", "");
    if (!old.empty() && old != path.string()) fs::remove(old, ec);  // dlopen'ed libraries stay mapped
    it->second->app.version = version;
    it->second->app.updated_ms = clock_.now_ms();
  }
  Entry& e = *it->second;
  for (const auto& [key, value] : how.config.items()) {
    if (value.is_null())
      e.app.config.erase(key);
    else
      e.app.config[key] = value;
  }
  e.app.config["Job"] = {{"Library", path.string()}, {"PropertyGroups", property_groups}};
  if (how.parallelism && *how.parallelism > 0)
    e.app.config["ParallelismConfiguration"] = {{"ConfigurationType", "CUSTOM"}, {"Parallelism", *how.parallelism}};
  else if (how.parallelism)
    e.app.config.erase("ParallelismConfiguration");
  e.app.status = "READY";
  if (!how.start && !was_running) {
    if (auto st = persist(name, e.app); !st) return tl::unexpected(st.error());
    return e.app;
  }
  if (auto st = launch(name, e, "LAST_STOPPED_POINT"); !st) {
    if (auto saved = persist(name, e.app); !saved) log_fault("saving application " + name, saved.error().message);
    return tl::unexpected(st.error());
  }
  if (auto st = persist(name, e.app); !st) return tl::unexpected(st.error());
  return e.app;
}

Status ApplicationHost::launch_flink(const std::string& name, Entry& entry, const std::string& position,
                                     std::unique_ptr<Application> app) {
  auto endpoints = flink_endpoints(*app);
  if (!endpoints) return tl::unexpected(endpoints.error());
  return start_runner(name, entry, position, endpoints->source, std::move(app), endpoints->outputs);
}

Status ApplicationHost::start_runner(const std::string& name, Entry& entry, const std::string& position,
                                     const std::string& source, std::unique_ptr<Program> app,
                                     const std::vector<OutputSpec>& outputs) {
  auto shards = store_.shards(source);
  if (!shards) return tl::unexpected(shards.error());
  auto runner = std::make_unique<Runner>();
  runner->source = source;
  runner->pool = std::make_unique<WorkerPool>(static_cast<size_t>(parallelism_of(entry.app.config)));
  runner->checkpoint_interval_ms = checkpoint_interval_of(entry.app.config);
  runner->app = std::move(app);
  Runner* r = runner.get();
  for (const auto& out : outputs) {
    auto d = std::make_unique<Runner::Destination>();
    if (out.delivery) {
      if (!delivery_output_.put)
        return make_error(Errc::kInvalidApplicationConfiguration,
                          "Output " + out.in_app_stream + ": no delivery streams here");
    } else if (!store_.describe(out.target)) {
      return make_error(Errc::kResourceNotFound, "Output stream " + out.target + " does not exist");
    }
    d->stream = out.target;
    d->delivery = out.delivery;
    d->csv = out.csv;
    d->output = out.in_app_stream;
    d->key = out.in_app_stream + " -> " + (out.delivery ? "firehose:" : "") + out.target;
    d->key_prefix = name + "/" + out.in_app_stream + ":";
    Runner::Destination* dp = d.get();
    if (auto st = r->app->subscribe_records(out.in_app_stream, out.csv,
                                            [dp, r](std::string row) {
                                              r->counters.output_rows.fetch_add(1, std::memory_order_relaxed);
                                              dp->pending.push_back(std::move(row));
                                            });
        !st) {
      return st;
    }
    r->destinations.push_back(std::move(d));
  }
  r->app->subscribe_errors([r](std::string row) {
    r->counters.error_rows.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(r->mu);
    r->errors.push(std::move(row));
  });

  // Where reading starts in each shard, and with what state.
  if (position == "LAST_STOPPED_POINT") {
    auto checkpoint = read_checkpoint(entry_dir(name));
    if (!checkpoint) {
      return make_error(
          Errc::kInvalidApplicationConfiguration,
          checkpoint.error().message + "; start the application with NOW or TRIM_HORIZON to start over without it");
    }
    if (*checkpoint) {
      if (auto st = restore(name, *r, **checkpoint); !st) return st;
    } else {  // stopped before checkpoints existed: positions only
      r->positions = entry.app.positions;
      r->finished.insert(entry.app.finished.begin(), entry.app.finished.end());
    }
  } else if (position == "NOW") {
    for (const auto& s : *shards) {
      if (!s.open()) {
        r->finished.insert(s.index);
        continue;
      }
      auto p = store_.shard_position(source, s.index, stream::IteratorType::kLatest);
      if (p) r->positions[s.index] = *p;
    }
  }  // TRIM_HORIZON: no positions; reads start at each shard's trim horizon
  entry.app.status = "RUNNING";
  entry.app.starting_position = position;
  entry.runner = std::move(runner);
  entry.runner->thread = std::thread([this, name, r] { run(name, *r); });
  return persist(name, entry.app);
}

Status ApplicationHost::restore(const std::string& name, Runner& r, const Checkpoint& c) {
  r.positions = c.positions;
  r.finished.insert(c.finished.begin(), c.finished.end());
  auto notes = r.app->load_state(c.state);
  if (!notes) {
    return make_error(Errc::kInvalidApplicationConfiguration, "the state in the checkpoint of " + name +
                                                                  " cannot be loaded (" + notes.error().message +
                                                                  "); start it with NOW or TRIM_HORIZON to start over");
  }
  // Code changed by UpdateApplication: the state it could not keep is reported, not silently lost.
  for (const auto& note : *notes) {
    std::fprintf(stderr, "eddy: application %s: %s\n", name.c_str(), note.c_str());
    nlohmann::json row = {{"ERROR_LEVEL", "WARNING"}, {"ERROR_NAME", "State_Not_Restored"}, {"MESSAGE", note}};
    r.errors.push(row.dump());
  }
  for (auto& d : r.destinations) {
    auto it =
        std::find_if(c.outputs.begin(), c.outputs.end(), [&](const OutputCheckpoint& o) { return o.key == d->key; });
    if (it == c.outputs.end()) continue;  // an output added since
    d->ordinal = it->next_ordinal;
    d->pending = it->pending;
    d->marks = it->ends;
    // The rows written since the checkpoint: after its marks, with this output's keys.
    auto collect = [&d](std::string_view key, std::string_view row) {
      if (!key.starts_with(d->key_prefix)) return;
      uint64_t ordinal = 0;
      const auto digits = key.substr(d->key_prefix.size());
      if (std::from_chars(digits.data(), digits.data() + digits.size(), ordinal).ec != std::errc{}) return;
      if (ordinal < d->ordinal) return;
      ++d->written[std::string(row)];
      d->written_through = std::max(d->written_through, ordinal);
    };
    if (d->delivery) {
      const auto m = d->marks.find(0);
      if (auto st = delivery_output_.scan(d->stream, m == d->marks.end() ? 0 : m->second, collect); !st) {
        return make_error(Errc::kInvalidApplicationConfiguration, "output " + d->key + ": " + st.error().message);
      }
      continue;
    }
    auto shards = store_.shards(d->stream);
    if (!shards)
      return make_error(Errc::kInvalidApplicationConfiguration, "output " + d->key + ": " + shards.error().message);
    for (const auto& s : *shards) {
      auto m = d->marks.find(s.index);
      uint64_t from = m == d->marks.end() ? 0 : m->second;  // a shard made since: all of it
      for (;;) {
        auto read = store_.read_shard(d->stream, s.index, from, kReadBatch);
        if (!read || read->read.records.empty()) break;
        for (const auto& rec : read->read.records) collect(rec.partition_key, rec.data);
        from = read->next;
      }
    }
  }
  r.restored = true;
  return {};
}

void ApplicationHost::halt(Entry& entry, std::unique_lock<std::mutex>& lock) {
  auto runner = std::move(entry.runner);
  runner->stop = true;
  runner->cv.notify_all();
  lock.unlock();  // the runner takes mu_ to save its positions
  runner->thread.join();
  lock.lock();
}

Status ApplicationHost::start(const std::string& name, const std::string& position) {
  std::unique_lock lock(mu_);
  auto it = apps_.find(name);
  if (it == apps_.end()) return not_found(name);
  Entry& e = *it->second;
  if (e.app.status != "READY") {
    return make_error(Errc::kResourceInUse,
                      "Application " + name + " is in " + e.app.status + " state; it must be READY to start");
  }
  if (position != "NOW" && position != "TRIM_HORIZON" && position != "LAST_STOPPED_POINT" &&
      position != kInitialPosition) {
    return make_error(Errc::kInvalidArgument, "InputStartingPosition must be NOW, TRIM_HORIZON or LAST_STOPPED_POINT");
  }
  if (position == kInitialPosition && !e.app.config.contains("Job")) return launch(name, e, "TRIM_HORIZON");
  return launch(name, e, position);
}

Status ApplicationHost::stop(const std::string& name) {
  std::unique_lock lock(mu_);
  auto it = apps_.find(name);
  if (it == apps_.end()) return not_found(name);
  Entry& e = *it->second;
  if (e.app.status != "RUNNING") return {};  // stopping a stopped application is a no-op, as in KDA
  e.app.status = "STOPPING";
  halt(e, lock);
  e.app.status = "READY";
  return persist(name, e.app);
}

Status ApplicationHost::update(const std::string& name, int64_t version,
                               const std::function<Status(nlohmann::json&)>& change) {
  std::unique_lock lock(mu_);
  auto it = apps_.find(name);
  if (it == apps_.end()) return not_found(name);
  Entry& e = *it->second;
  if (version != e.app.version) {
    return make_error(Errc::kConcurrentModification, "Provided application version id (" + std::to_string(version) +
                                                         ") does not match current version (" +
                                                         std::to_string(e.app.version) + ").");
  }
  if (e.app.status != "READY" && e.app.status != "RUNNING") {
    return make_error(Errc::kResourceInUse, "Application " + name + " is in " + e.app.status + " state");
  }
  nlohmann::json next = e.app.config;
  if (auto st = change(next); !st) return st;
  if (auto st = validate(next); !st) return st;
  const bool running = e.app.status == "RUNNING";
  if (running) {
    e.app.status = "UPDATING";
    halt(e, lock);
  }
  e.app.config = std::move(next);
  ++e.app.version;
  e.app.updated_ms = clock_.now_ms();
  e.app.status = "READY";
  if (running) {
    // The new code continues from where the old one stopped reading.
    if (auto st = launch(name, e, "LAST_STOPPED_POINT"); !st) {
      if (auto saved = persist(name, e.app); !saved) log_fault("saving application " + name, saved.error().message);
      return st;
    }
  }
  return persist(name, e.app);
}

Status ApplicationHost::remove(const std::string& name, TimestampMs created_ms) {
  std::unique_lock lock(mu_);
  auto it = apps_.find(name);
  if (it == apps_.end()) return not_found(name);
  Entry& e = *it->second;
  // SDKs send timestamps in whole seconds (botocore truncates), so the second must match.
  if (e.app.created_ms / 1000 != created_ms / 1000) {
    return make_error(
        Errc::kInvalidArgument,
        "CreateTimestamp does not match the application's creation time; use the value DescribeApplication returns");
  }
  if (e.runner) halt(e, lock);
  std::error_code ec;
  fs::remove_all(entry_dir(name), ec);
  apps_.erase(name);
  return {};
}

std::vector<std::string> ApplicationHost::recent_errors(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = apps_.find(name);
  if (it == apps_.end() || !it->second->runner) return {};
  auto& r = *it->second->runner;
  std::lock_guard rlock(r.mu);
  return r.errors.rows();
}

void ApplicationHost::run(const std::string& name, Runner& r) {
  std::map<uint32_t, std::deque<Runner::Pending>> buffered;
  std::map<uint32_t, bool> more;

  auto report = [&r](const char* level, const char* error_name, const std::string& message) {
    nlohmann::json row = {{"ERROR_LEVEL", level}, {"ERROR_NAME", error_name}, {"MESSAGE", message}};
    std::lock_guard lock(r.mu);
    r.errors.push(row.dump());
  };

  auto write_outputs = [&]() {
    for (auto& d : r.destinations) {
      size_t done = 0;
      while (done < d->pending.size() && !r.stop) {
        // A replay after a crash: rows written before it are passed over (their ordinals too).
        size_t n = std::min<size_t>(500, d->pending.size() - done);
        if (!d->written.empty() && d->ordinal > d->written_through) {
          size_t left = 0;
          for (const auto& [_, count] : d->written) left += count;
          report(
              "WARNING", "Replay_Mismatch",
              std::to_string(left) + " row(s) of " + d->key +
                  " written before the restart were not produced again by the replay " +
                  "(they depended on more than the records: a window closed by the wall clock before a late record)");
          d->written.clear();
        }
        if (!d->written.empty()) {
          auto w = d->written.find(d->pending[done]);
          if (w != d->written.end()) {
            if (--w->second == 0) d->written.erase(w);
            ++d->ordinal;
            ++done;
            continue;
          }
          n = 1;  // not written before the restart: written now, one at a time until the replay is past
        }
        std::vector<std::string> keys(n);
        for (size_t i = 0; i < n; ++i) keys[i] = d->key_prefix + std::to_string(d->ordinal + i);
        if (d->delivery) {
          // The delivery stream journals the rows durably; on refusal they are kept and retried.
          const std::vector<std::string_view> rows(d->pending.begin() + static_cast<long>(done),
                                                   d->pending.begin() + static_cast<long>(done + n));
          if (auto st = delivery_output_.put(d->stream, rows, {keys.begin(), keys.end()}); !st) {
            report("ERROR", "Output_Error", st.error().message);
            break;
          }
          d->ordinal += n;
          done += n;
          continue;
        }
        std::vector<stream::PutEntry> entries(n);
        for (size_t i = 0; i < n; ++i) entries[i] = {keys[i], "", d->pending[done + i]};
        auto put = store_.put(d->stream, entries);
        if (!put) {
          // The destination is gone or refuses: report, and keep the rows for a later attempt.
          report("ERROR", "Output_Error", put.error().message);
          break;
        }
        // Durable before the ordinals move on. A failed fsync is reported and tried again; no row
        // after these is written meanwhile. A stop in that state leaves the ordinals where they
        // were: the restart's replay finds whichever of these rows did reach the stream.
        auto durable = [&] {
          std::promise<Status> committed;
          committer_.commit(put->touched, [&committed](Status st) { committed.set_value(st); });
          return committed.get_future().get();
        };
        Status synced = durable();
        while (!synced && !r.stop) {
          report("ERROR", "Output_Error",
                 "rows written to stream " + d->stream + " are not durable (" + synced.error().message +
                     "); retrying, and nothing after them is written until they are");
          std::unique_lock lock(r.mu);
          r.cv.wait_for(lock, std::chrono::seconds(1), [&] { return r.stop.load(); });
          lock.unlock();
          synced = durable();
        }
        if (!synced) break;
        d->ordinal += n;
        // Throttled entries (with --enforce-limits) are sent again after a pause, under new
        // ordinals: never dropped.
        std::vector<std::string> retry;
        for (size_t i = 0; i < n; ++i) {
          if (!put->outcomes[i].ok) retry.push_back(std::move(d->pending[done + i]));
        }
        if (!retry.empty()) {
          d->pending.erase(d->pending.begin(), d->pending.begin() + static_cast<long>(done + n));
          d->pending.insert(d->pending.begin(), retry.begin(), retry.end());
          done = 0;
          std::unique_lock lock(r.mu);
          r.cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return r.stop.load(); });
          continue;
        }
        done += n;
      }
      d->pending.erase(d->pending.begin(), d->pending.begin() + static_cast<long>(std::min(done, d->pending.size())));
    }
  };

  // A checkpoint: where reading continues (the first unprocessed record of each shard), the
  // state after the records before it, and the outputs' ordinals, unwritten rows and ends.
  auto checkpoint = [&]() {
    Checkpoint c;
    c.taken_ms = clock_.now_ms();
    c.positions = r.positions;
    for (const auto& [shard, q] : buffered) {
      if (!q.empty()) c.positions[shard] = q.front().offset;
    }
    for (uint32_t s : r.finished) {
      if (buffered[s].empty()) c.finished.push_back(s);
    }
    c.state = r.app->save_state();
    for (auto& d : r.destinations) {
      if (d->delivery && d->written.empty()) {
        if (auto end = delivery_output_.end(d->stream)) d->marks = {{0, *end}};
      } else if (d->written.empty()) {
        std::map<uint32_t, uint64_t> ends;
        if (auto shards = store_.shards(d->stream)) {
          for (const auto& s : *shards) {
            if (auto p = store_.shard_position(d->stream, s.index, stream::IteratorType::kLatest)) ends[s.index] = *p;
          }
        }
        d->marks = std::move(ends);
      }
      c.outputs.push_back({d->key, d->ordinal, d->marks, d->pending});
    }
    if (auto st = write_checkpoint(entry_dir(name), c); !st) {
      report("ERROR", "Checkpoint_Error", st.error().message);
    } else {
      r.counters.last_checkpoint_ms.store(c.taken_ms, std::memory_order_relaxed);
    }
    std::lock_guard lock(mu_);
    auto it = apps_.find(name);
    if (it == apps_.end()) return;
    it->second->app.positions = c.positions;
    it->second->app.finished = c.finished;
    // The checkpoint holds the positions a restart uses; app.json's copy is for a stopped
    // application's LAST_STOPPED_POINT, so a failure here is reported and the next one retries.
    if (auto saved = persist(name, it->second->app); !saved)
      report("ERROR", "Checkpoint_Error", "saving the application's positions: " + saved.error().message);
  };
  // A fresh start replaces the checkpoint of an earlier run at once: a crash must not go back to it.
  if (!r.restored) checkpoint();
  TimestampMs last_checkpoint = clock_.now_ms();

  while (!r.stop) {
    auto shards = store_.shards(r.source);
    size_t processed = 0;
    if (shards) {
      std::set<uint32_t> present;
      for (const auto& s : *shards) present.insert(s.index);
      // The shards being read (not read to their end, parents done): event-time watermarks wait
      // for each of them.
      std::vector<uint32_t> active;
      for (const auto& s : *shards) {
        if (r.finished.count(s.index) && buffered[s.index].empty()) continue;
        bool ready = true;
        for (auto p : {s.parent, s.adjacent_parent}) {
          if (p && present.count(*p) && !(r.finished.count(*p) && buffered[*p].empty())) ready = false;
        }
        if (ready) active.push_back(s.index);
      }
      if (active != r.active_shards) {
        r.active_shards = active;
        r.app->set_source_shards(0, active);
      }
      const size_t read_batch = read_batch_;
      const size_t want = read_batch * kReadBatchesPerRound;
      // Several batches from each shard: a round with several batches gives each thread of the
      // application's pool one, from parsing to operators (push_batches). The reads themselves
      // (checksums, first touch of the log's pages, copies) run on the pool too: a shard's offsets
      // are consecutive, so its next batches are the ranges from + i * read_batch.
      std::set<uint32_t> reading;  // the shards read on in this round
      for (const auto& s : *shards) {
        if (r.finished.count(s.index)) continue;
        // Children wait until every parent has been read to its end (order per key).
        bool ready = true;
        for (auto p : {s.parent, s.adjacent_parent}) {
          if (p && present.count(*p) && !(r.finished.count(*p) && buffered[*p].empty())) ready = false;
        }
        if (ready) reading.insert(s.index);
      }
      // Each shard is read until it holds `want` records or a read comes back short, as if its
      // ranges were read one after the other. A shard caught up last round is read one range at
      // a time (its next ranges are likely empty), any other several at once.
      while (!reading.empty()) {
        std::vector<RangeRead> reads;
        for (uint32_t s : reading) {
          const size_t have = buffered[s].size();
          if (have >= want) continue;
          const uint64_t from = r.positions.count(s) ? r.positions[s] : 0;
          const size_t ranges = more[s] ? (want - have + read_batch - 1) / read_batch : 1;
          for (size_t i = 0; i < ranges; ++i) reads.push_back({s, from + i * read_batch});
        }
        read_in_parallel(store_, r.source, *r.pool, reads, read_batch);
        // Taken in order, each range only if the one before it ended where it starts (full, not
        // moved by the trim horizon): what reading them one after the other would have taken.
        reading.clear();
        for (size_t i = 0; i < reads.size(); ++i) {
          auto& rd = reads[i];
          const bool first = i == 0 || reads[i - 1].shard != rd.shard;
          const bool last = i + 1 == reads.size() || reads[i + 1].shard != rd.shard;
          const bool follows =
              first || (r.positions[rd.shard] == rd.from && more[rd.shard] && !r.finished.count(rd.shard));
          if (!rd.ok || !follows) {
            reading.erase(rd.shard);
            while (i + 1 < reads.size() && reads[i + 1].shard == rd.shard) ++i;  // read again next round
            continue;
          }
          auto& q = buffered[rd.shard];
          for (auto& p : rd.records) q.push_back(std::move(p));
          r.positions[rd.shard] = rd.next;
          more[rd.shard] = rd.records.size() == read_batch;
          if (rd.finished) r.finished.insert(rd.shard);
          if (last && more[rd.shard] && !rd.finished) reading.insert(rd.shard);
        }
      }
      // Merge shards by arrival time (ties: by shard, then offset), but only below what every
      // shard with more to read has reached. Records of the horizon's own millisecond wait for
      // the next round, as the rest of that millisecond may still be unread in some shard: so
      // the order is the same wherever reads ended — at any parallelism or read size, and when
      // a restart reads on from a checkpoint's positions. (Unless the shard holding the horizon
      // has a full buffer of that millisecond alone: then it goes as far as it was read.)
      TimestampMs horizon = INT64_MAX;
      for (const auto& [shard, q] : buffered) {
        if (more[shard] && !q.empty()) horizon = std::min(horizon, q.back().arrival);
      }
      if (horizon != INT64_MAX) {
        bool below = false, full = false;
        for (const auto& [shard, q] : buffered) {
          if (q.empty()) continue;
          below = below || q.front().arrival < horizon;
          full = full || (more[shard] && q.back().arrival == horizon && q.size() >= want);
        }
        if (below || !full) --horizon;  // no record of that millisecond yet
      }
      // The records in ROWTIME order, in batches: the program parses and maps them on the
      // runner's pool of threads (--parallelism) and runs them through its operators in order.
      std::vector<std::vector<Runner::Pending>> batches(1);
      auto push_batches = [&] {
        if (batches.back().empty()) batches.pop_back();
        if (batches.empty()) return;
        // With InputParallelism n, shard i feeds in-application stream (i mod n) + 1.
        auto sources = [](const std::vector<Runner::Pending>& batch, std::vector<SourceRecord>& out) {
          for (const auto& p : batch) out.push_back({p.data, p.arrival, static_cast<int64_t>(p.offset), p.shard});
        };
        auto count = [&](const std::vector<Runner::Pending>& batch) {
          r.counters.input_records.fetch_add(batch.size(), std::memory_order_relaxed);
          r.counters.last_arrival_ms.store(batch.back().arrival, std::memory_order_relaxed);
          processed += batch.size();
        };
        if (batches.size() == 1 || r.pool->size() == 1) {
          // One batch: its records parsed on every thread, then run through.
          std::vector<SourceRecord> records;
          for (const auto& batch : batches) {
            records.clear();
            sources(batch, records);
            r.app->push_records(0, records, *r.pool);
            count(batch);
          }
        } else {
          // Several: each on one thread from parsing to operators, taking turns for those.
          size_t next = 0;
          std::vector<size_t> taken_by(r.pool->size());
          BatchSource source;
          source.claim = [&](size_t k) {
            if (next == batches.size()) return false;
            taken_by[k] = next++;
            return true;
          };
          source.fill = [&](size_t k, std::vector<SourceRecord>& out) { sources(batches[taken_by[k]], out); };
          source.done = [&](size_t k, const std::vector<SourceRecord>&, size_t) {
            count(batches[taken_by[k]]);
            return true;
          };
          r.app->push_batches(0, *r.pool, source);
        }
        batches.assign(1, {});
      };
      while (!r.stop) {
        Runner::Pending* best = nullptr;
        uint32_t best_shard = 0;
        for (auto& [shard, q] : buffered) {
          if (q.empty() || q.front().arrival > horizon) continue;
          if (!best || q.front().arrival < best->arrival) {
            best = &q.front();
            best_shard = shard;
          }
        }
        if (!best) break;
        batches.back().push_back(std::move(*best));
        buffered[best_shard].pop_front();
        if (batches.back().size() >= read_batch) batches.emplace_back();
      }
      push_batches();
    }
    if (processed == 0) r.app->advance_time(clock_.now_ms() - kProgressGraceMs);
    r.counters.millis_behind_latest =
        processed == 0 ? 0 : std::max<int64_t>(0, clock_.now_ms() - r.counters.last_arrival_ms);
    r.counters.watermark_ms.store(r.app->watermark().value_or(INT64_MIN), std::memory_order_relaxed);
    write_outputs();
    if (clock_.now_ms() - last_checkpoint >= r.checkpoint_interval_ms) {
      checkpoint();
      last_checkpoint = clock_.now_ms();
    }
    if (processed == 0) {
      std::unique_lock lock(r.mu);
      r.cv.wait_for(lock, kIdlePoll, [&] { return r.stop.load(); });
    }
  }
  write_outputs();
  checkpoint();
}

Result<nlohmann::json> ApplicationHost::discover_schema(const std::string& stream_name,
                                                        const std::string& position) const {
  auto shards = store_.shards(stream_name);
  if (!shards) return tl::unexpected(shards.error());
  std::vector<std::string> raw;
  for (const auto& s : *shards) {
    if (raw.size() >= 100) break;
    uint64_t from = 0;
    if (position == "NOW") {
      auto p = store_.shard_position(stream_name, s.index, stream::IteratorType::kLatest);
      if (p) from = *p;
    }
    auto read = store_.read_shard(stream_name, s.index, from, 100 - raw.size());
    if (!read) continue;
    for (const auto& rec : read->read.records) raw.emplace_back(rec.data);
  }
  return infer_schema(raw, "stream " + stream_name);
}

Result<nlohmann::json> ApplicationHost::infer_schema(const std::vector<std::string>& raw,
                                                     const std::string& source) const {
  if (raw.empty()) {
    return make_error(Errc::kUnableToDetectSchema,
                      "No records could be read from " + source + " to infer a schema; add sample records first");
  }
  // Column types from every record's top-level fields, in order of first appearance.
  struct Col {
    std::string name;
    bool any = false, is_bool = true, is_int = true, is_number = true, is_timestamp = true;
    bool big = false;
    size_t max_len = 1;
  };
  std::vector<Col> cols;
  simdjson::dom::parser parser;
  size_t parsed = 0;
  std::vector<std::vector<std::string>> rows;
  for (const auto& rec : raw) {
    simdjson::dom::object obj;
    if (parser.parse(rec).get(obj)) continue;
    ++parsed;
    for (auto field : obj) {
      const std::string key(field.key);
      auto it = std::find_if(cols.begin(), cols.end(), [&](const Col& c) { return c.name == key; });
      if (it == cols.end()) {
        cols.push_back({key});
        it = std::prev(cols.end());
      }
      const auto v = field.value;
      if (v.is_null()) continue;
      it->any = true;
      const std::string text = v.is_string() ? std::string(std::string_view(v)) : simdjson::minify(v);
      it->max_len = std::max(it->max_len, text.size());
      it->is_bool &= v.is_bool();
      it->is_int &= v.is_int64() || v.is_uint64();
      it->is_number &= v.is_number();
      if (v.is_int64() && (int64_t(v) > INT32_MAX || int64_t(v) < INT32_MIN)) it->big = true;
      TimestampMs ts;
      it->is_timestamp &= v.is_string() && text.size() >= 10 && parse_timestamp_text(text, ts);
    }
  }
  if (parsed == 0) {
    return make_error(Errc::kUnableToDetectSchema, "The records of " + source + " are not JSON objects");
  }
  nlohmann::json columns = nlohmann::json::array();
  for (const auto& c : cols) {
    std::string type;
    if (!c.any)
      type = "VARCHAR(8)";
    else if (c.is_bool)
      type = "BOOLEAN";
    else if (c.is_int)
      type = c.big ? "BIGINT" : "INTEGER";
    else if (c.is_number)
      type = "DOUBLE";
    else if (c.is_timestamp)
      type = "TIMESTAMP";
    else {
      size_t n = 4;
      while (n < c.max_len) n *= 2;
      type = "VARCHAR(" + std::to_string(n) + ")";
    }
    columns.push_back({{"Name", c.name}, {"Mapping", "$." + c.name}, {"SqlType", type}});
  }
  for (const auto& rec : raw) {
    simdjson::dom::object obj;
    if (parser.parse(rec).get(obj)) continue;
    std::vector<std::string> row;
    for (const auto& c : cols) {
      simdjson::dom::element v;
      if (obj.at_key(c.name).get(v) || v.is_null())
        row.emplace_back("");
      else
        row.push_back(v.is_string() ? std::string(std::string_view(v)) : simdjson::minify(v));
    }
    rows.push_back(std::move(row));
  }
  nlohmann::json out;
  out["InputSchema"] = {
      {"RecordFormat",
       {{"RecordFormatType", "JSON"}, {"MappingParameters", {{"JSONMappingParameters", {{"RecordRowPath", "$"}}}}}}},
      {"RecordEncoding", "UTF-8"},
      {"RecordColumns", columns}};
  out["ParsedInputRecords"] = rows;
  out["ProcessedInputRecords"] = raw;
  out["RawInputRecords"] = raw;
  return out;
}

// ---- metrics (/metrics, the dashboard) ---------------------------------------------------------

std::vector<ApplicationMetrics> ApplicationHost::metrics() const {
  std::lock_guard lock(mu_);
  std::vector<ApplicationMetrics> out;
  for (const auto& [name, entry] : apps_) {
    ApplicationMetrics m;
    m.name = name;
    m.status = entry->app.status;
    if (const Runner* r = entry->runner.get()) {
      m.source = r->source;
      for (const auto& d : r->destinations) m.outputs.push_back({d->output, d->stream, d->delivery});
      m.input_records = r->counters.input_records;
      m.output_rows = r->counters.output_rows;
      m.error_rows = r->counters.error_rows;
      m.last_arrival_ms = r->counters.last_arrival_ms;
      m.millis_behind_latest = r->counters.millis_behind_latest;
      m.last_checkpoint_ms = r->counters.last_checkpoint_ms;
      if (const TimestampMs w = r->counters.watermark_ms; w != INT64_MIN) {
        m.watermark_ms = w;
        m.watermark_lag_ms = std::max<int64_t>(0, clock_.now_ms() - w);
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace eddy::host
