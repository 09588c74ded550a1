#include "delivery/delivery_host.h"

#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <random>

#include "common/fault_log.h"
#include "common/file_util.h"
#include "common/logging.h"
#include "delivery/delivery_worker.h"
#include "delivery/destination.h"
#include "delivery/lambda_transform.h"
#include "delivery/prefix.h"
#include "log/shard_log.h"
#include "stream/sequence_number.h"

namespace eddy::delivery {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr auto kIdlePoll = std::chrono::milliseconds(20);
// Beside the delivery streams' folders, none of which starts with a dot (path_component).
constexpr const char* kLambdaRunner = ".lambda_runner.py";

tl::unexpected<Error> not_found(const std::string& name) {
  return make_error(Errc::kResourceNotFound, "Firehose " + name + " under account 000000000000 not found.");
}

tl::unexpected<Error> invalid(const std::string& m) {
  return make_error(Errc::kInvalidArgument, m);
}

uint64_t random_incarnation() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard lock(mu);
  uint64_t id = 0;
  while (id == 0) id = rng();
  return id;
}

std::string hex(uint64_t id) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, id);
  return buf;
}

}  // namespace

// A delivery stream's worker as the host runs it: on a thread of its own, or stepped (manual mode).
struct DeliveryHost::Worker {
  explicit Worker(WorkerSetup setup) {
    setup.cancelled = [this] { return stop.load(); };
    rounds = std::make_unique<DeliveryWorker>(std::move(setup));
  }
  DeliveryStep step() {
    std::lock_guard lock(stepping);
    if (stop) return DeliveryStep{.stopped = true};
    const DeliveryStep s = rounds->step();
    buffered_bytes = s.buffered_bytes;
    buffered_records = s.buffered;
    return s;
  }

  std::thread thread;  // none in manual stepping mode
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable cv;
  std::mutex stepping;  // held through a round
  std::unique_ptr<DeliveryWorker> rounds;
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
      functions_(std::move(functions)),
      metadata_(
          std::make_unique<FileMetadataStore>(dir_, "stream.json", [](std::string_view text) -> Result<std::string> {
            try {
              return json::parse(text).at("config").at("DeliveryStreamName").get<std::string>();
            } catch (const std::exception& e) {
              return make_error(Errc::kCorruption, e.what());
            }
          })) {
  if (s3) s3_.emplace(std::move(*s3));
}

void DeliveryHost::set_shared(SharedDeliveries shared) {
  metadata_ = shared.metadata;
  bucket_.set_staging(".eddy-staging-" + path_component(shared.node_id));
  shared_ = std::move(shared);
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

Status DeliveryHost::persist(const std::string& name, Entry& e) {
  const DeliveryStream& s = e.stream;
  json j = {{"config", s.config},
            {"status", s.status},
            {"version", s.version},
            {"created_ms", s.created_ms},
            {"updated_ms", s.updated_ms}};
  if (e.incarnation) j["incarnation"] = e.incarnation;
  auto revision = metadata_->put(name, j.dump(1), e.revision);
  if (!revision) return tl::unexpected(revision.error());
  e.revision = *revision;
  return {};
}

Result<LambdaTransform> DeliveryHost::lambda(const std::string& arn) const {
  // KDA retries a failed preprocessing batch itself (the application runner does), so one retry here.
  return LambdaTransform::create(arn, functions_, (dir_ / kLambdaRunner).string(), 1, 60'000);
}

Status DeliveryHost::load() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return make_error(Errc::kIo, "cannot create " + dir_.string() + ": " + ec.message());
  // The runner of python: Lambdas, rewritten only when this build's differs: a server restarted on a
  // full disk must still start (its python: Lambdas then fail with the reason, and are retried).
  if (read_file(dir_ / kLambdaRunner).value_or("") != lambda_runner_source()) {
    if (auto st = write_file_atomic(dir_ / kLambdaRunner, lambda_runner_source()); !st)
      log_error("firehose", "cannot write " + (dir_ / kLambdaRunner).string() + ": " + st.error().message +
                                " (python: Lambda transforms fail until it can be written)");
  }
  fs::remove(dir_ / "lambda_runner.py", ec);  // where an eddy before 2026-12-06 kept it
  bucket_.discard_staged();
  std::unique_lock lock(mu_);
  auto names = metadata_->names();
  if (!names) return tl::unexpected(names.error());
  for (const auto& name : *names) {
    auto doc = metadata_->get(name);
    if (!doc) return tl::unexpected(doc.error());
    if (!*doc) continue;
    auto e = open_entry(name, (*doc)->value, (*doc)->revision);
    if (!e) return tl::unexpected(e.error());
    auto* entry = e->get();
    streams_[name] = std::move(*e);
    launch(name, *entry);
  }
  return {};
}

Result<std::unique_ptr<DeliveryHost::Entry>> DeliveryHost::open_entry(const std::string& name,
                                                                      const std::string& document, uint64_t revision) {
  auto e = std::make_unique<Entry>();
  e->revision = revision;
  try {
    const auto j = json::parse(document);
    e->stream.config = j.at("config");
    e->stream.status = j.at("status").get<std::string>();
    e->stream.version = j.at("version").get<int64_t>();
    e->stream.created_ms = j.at("created_ms").get<TimestampMs>();
    e->stream.updated_ms = j.at("updated_ms").get<TimestampMs>();
    e->incarnation = j.value("incarnation", uint64_t{0});
  } catch (const std::exception& ex) {
    const std::string where =
        shared_ ? "the document of delivery stream " + name : (entry_dir(name) / "stream.json").string();
    return make_error(Errc::kCorruption, "cannot read " + where + ": " + ex.what());
  }
  if (shared_ && e->incarnation == 0)
    return make_error(Errc::kCorruption, "the document of delivery stream " + name + " has no incarnation");
  if (auto st = open_parts(name, *e); !st) return tl::unexpected(st.error());
  return e;
}

Status DeliveryHost::open_parts(const std::string& name, Entry& e) {
  const bool direct_put = e.stream.config.value("DeliveryStreamType", "DirectPut") == "DirectPut";
  if (shared_) {
    e.files = std::make_shared<StateFiles>(shared_->state, name + "/" + hex(e.incarnation));
    if (direct_put) {
      auto journal = shared_->open_journal(name, e.incarnation);
      if (!journal) return tl::unexpected(journal.error());
      e.journal = std::move(*journal);
    }
  } else {
    e.files = std::make_shared<StateFiles>(entry_dir(name));
    if (direct_put) {
      auto journal = log::ShardLog::open(entry_dir(name) / "journal", log::LogOptions{});
      if (!journal) return tl::unexpected(journal.error());
      e.journal = std::shared_ptr<log::ShardLog>(std::move(*journal));
    }
  }
  if (e.journal) committer_.track(e.journal);
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
  const std::string state = json{{"positions", positions}, {"finished", finished}}.dump();
  if (shared_) {
    // The state first, under a new incarnation (no other node reads it before the document
    // exists); if another node created the name meanwhile, ours goes again.
    e->incarnation = random_incarnation();
    if (auto st = open_parts(name, *e); !st) return tl::unexpected(st.error());
    Status written = e->files->claim();
    if (written) written = e->files->write("state.json", state);
    if (written) written = persist(name, *e);
    if (!written) {
      (void)e->files->remove_all();
      if (e->journal) e->journal->destroy();
      return tl::unexpected(written.error());
    }
  } else {
    std::error_code ec;
    fs::remove_all(entry_dir(name), ec);  // leftovers of a deleted stream of the same name
    if (auto st = open_parts(name, *e); !st) return tl::unexpected(st.error());
    if (auto st = persist(name, *e); !st) return tl::unexpected(st.error());
    if (auto st = e->files->write("state.json", state); !st) return tl::unexpected(st.error());
  }
  auto result = e->stream;
  auto* entry = e.get();
  streams_[name] = std::move(e);
  launch(name, *entry);
  return result;
}

Result<DeliveryStream> DeliveryHost::describe(const std::string& name) const {
  DeliveryStream s;
  std::shared_ptr<const StateFiles> files;
  {
    std::lock_guard lock(mu_);
    auto it = streams_.find(name);
    if (it == streams_.end()) return not_found(name);
    s = it->second->stream;
    files = it->second->files;
  }
  if (auto state = files->read("state.json"); state && *state) {
    try {
      const auto j = json::parse(**state);
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

std::vector<std::string> DeliveryHost::running_here() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, e] : streams_) {
    if (e->worker) out.push_back(name);
  }
  return out;
}

Status DeliveryHost::remove(const std::string& name) {
  std::unique_lock lock(mu_);
  auto it = streams_.find(name);
  if (it == streams_.end()) return not_found(name);
  if (it->second->worker) halt(*it->second, lock);
  it = streams_.find(name);  // halting let go of the lock
  if (it == streams_.end()) return {};
  Entry& e = *it->second;
  if (shared_) {
    // The document first: a node that cannot remove it (another changed it) leaves all as it was.
    if (auto st = metadata_->remove(name, e.revision); !st) {
      launch(name, e);
      return st;
    }
    if (e.journal) e.journal->destroy();
    if (auto st = e.files->remove_all(); !st)
      log_fault("removing the state of delivery stream " + name, st.error().message);
  } else {
    if (e.journal) e.journal->destroy();
    if (auto st = metadata_->remove(name, e.revision); !st) return st;
  }
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
  it = streams_.find(name);  // halting let go of the lock
  if (it == streams_.end()) return not_found(name);
  Entry& current = *it->second;
  const DeliveryStream before = current.stream;
  current.stream.config = std::move(request);
  ++current.stream.version;
  current.stream.updated_ms = clock_.now_ms();
  auto st = persist(name, current);
  if (!st) current.stream = before;  // another node changed it first: as it was
  launch(name, current);
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
  std::shared_ptr<log::ShardStorage> journal;
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
  std::shared_ptr<log::ShardStorage> journal;
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
  if (!placement_->runs_here(WorkKind::kDeliveryStream, name)) return;  // its worker runs on another node
  WorkerSetup setup;
  setup.name = name;
  setup.config = e.stream.config;
  setup.journal = e.journal;
  setup.version = e.stream.version;
  setup.files = e.files;
  setup.owns = [placement = placement_, name] { return placement->runs_here(WorkKind::kDeliveryStream, name); };
  setup.delivery_arn = arn(name);
  setup.lambda = lambda_setup();
  setup.objects = [this](const std::string& bucket, const std::string& key, std::string_view bytes) {
    return write_object(bucket, key, bytes);
  };
  setup.store = &store_;
  setup.committer = &committer_;
  setup.clock = &clock_;
  e.worker = std::make_shared<Worker>(std::move(setup));
  if (!manual_) e.worker->thread = std::thread([this, w = e.worker.get()] { run(*w); });
}

void DeliveryHost::halt(Entry& e, std::unique_lock<std::mutex>& lock) {
  auto w = std::move(e.worker);
  w->stop = true;
  w->cv.notify_all();
  lock.unlock();
  if (w->thread.joinable()) {
    w->thread.join();
  } else {
    std::lock_guard wait(w->stepping);  // a step() in progress on another thread ends first
  }
  lock.lock();
}

// A worker's thread: rounds until stopped, waiting a little when a round found nothing to do and a
// second before retrying what failed.
void DeliveryHost::run(Worker& w) {
  while (!w.stop) {
    const DeliveryStep s = w.step();
    if (s.stopped) return;
    std::unique_lock lock(w.mu);
    if (s.retry) {
      w.cv.wait_for(lock, std::chrono::seconds(1), [&] { return w.stop.load(); });
    } else if (s.read == 0 && s.delivered == 0) {
      w.cv.wait_for(lock, kIdlePoll, [&] { return w.stop.load(); });
    }
  }
}

Status DeliveryHost::reload(const std::string& name) {
  auto doc = metadata_->get(name);
  if (!doc) return tl::unexpected(doc.error());
  std::unique_lock lock(mu_);
  auto it = streams_.find(name);
  if (!*doc) {
    // Removed by another node, which also removed its journal and state.
    if (it == streams_.end()) return {};
    if (it->second->worker) halt(*it->second, lock);
    streams_.erase(name);
    return {};
  }
  if (it != streams_.end() && it->second->revision >= (*doc)->revision) return {};
  auto fresh = open_entry(name, (*doc)->value, (*doc)->revision);
  if (!fresh) return tl::unexpected(fresh.error());
  if (it != streams_.end()) {
    if (it->second->worker) halt(*it->second, lock);  // its destination changed, or it is another incarnation
    streams_.erase(name);
  }
  auto* entry = fresh->get();
  streams_[name] = std::move(*fresh);
  launch(name, *entry);
  return {};
}

void DeliveryHost::learn(const std::string& name, bool changes) {
  if (!shared_) return;
  if (!changes) {
    std::lock_guard lock(mu_);
    if (streams_.count(name)) return;
  }
  if (auto st = reload(name); !st) log_fault("reading delivery stream " + name, st.error().message);
}

void DeliveryHost::placement_changed(const std::string& name) {
  std::unique_lock lock(mu_);
  auto it = streams_.find(name);
  if (it == streams_.end()) return;
  const bool here = placement_->runs_here(WorkKind::kDeliveryStream, name);
  if (it->second->worker && !here) {
    halt(*it->second, lock);
  } else if (!it->second->worker && here) {
    launch(name, *it->second);
  }
}

Result<DeliveryStep> DeliveryHost::step(const std::string& name) {
  std::shared_ptr<Worker> w;
  {
    std::lock_guard lock(mu_);
    auto it = streams_.find(name);
    if (it == streams_.end()) return not_found(name);
    if (!manual_) {
      return make_error(Errc::kUnsupportedOperation,
                        "delivery stream " + name + " is stepped by its worker thread (not in manual stepping mode)");
    }
    w = it->second->worker;
  }
  if (!w) return make_error(Errc::kResourceInUse, "delivery stream " + name + " runs on another node");
  return w->step();
}

}  // namespace eddy::delivery
