// The registry of applications: their stored configurations, starting, stopping, updating and
// removing them, and what /metrics and the dashboard show of them.

#include "host/application_host.h"

#include "common/fault_log.h"
#include "common/file_util.h"
#include "common/logging.h"
#include "host/checkpoint.h"

namespace eddy::host {

namespace fs = std::filesystem;

namespace {

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
    : dir_(std::move(dir)),
      store_(store),
      committer_(committer),
      clock_(clock),
      metadata_(std::make_unique<FileMetadataStore>(
          dir_, "app.json",
          [](std::string_view text) -> Result<std::string> {
            try {
              return app_from_json(nlohmann::json::parse(text)).config.at("ApplicationName").get<std::string>();
            } catch (const std::exception& e) {
              return make_error(Errc::kCorruption, e.what());
            }
          })),
      checkpoints_(std::make_unique<LocalCheckpointStore>(dir_)) {}

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

Status ApplicationHost::persist(const std::string& name, Entry& entry) {
  auto revision = metadata_->put(name, app_to_json(entry.app).dump(1), entry.revision);
  if (!revision) return tl::unexpected(revision.error());
  entry.revision = *revision;
  entry.written_at = ++local_writes_;
  return {};
}

Status ApplicationHost::load() {
  std::unique_lock lock(mu_);
  auto names = metadata_->names();
  if (!names) return tl::unexpected(names.error());
  for (const auto& name : *names) {
    auto doc = metadata_->get(name);
    if (!doc) return tl::unexpected(doc.error());
    if (!*doc) continue;  // removed meanwhile
    try {
      auto entry = std::make_unique<Entry>();
      entry->app = app_from_json(nlohmann::json::parse((*doc)->value));
      entry->revision = (*doc)->revision;
      apps_[name] = std::move(entry);
    } catch (const std::exception& e) {
      return make_error(Errc::kCorruption, "cannot read application " + name + ": " + e.what());
    }
  }
  for (auto& [name, e] : apps_) {
    if (!placement_->runs_here(WorkKind::kApplication, name)) continue;  // another node runs it
    if (e->app.status == "RUNNING" || e->app.status == "STARTING") {
      // Resume where it stopped: a restart is a LAST_STOPPED_POINT start.
      if (auto st = launch(name, *e, "LAST_STOPPED_POINT"); !st) {
        log_fault("resuming application " + name, st.error().message + "; it is READY: start it again");
        e->app.status = "READY";
        if (auto saved = persist(name, *e); !saved) log_fault("saving application " + name, saved.error().message);
      }
    } else if (e->app.status != "READY") {
      e->app.status = "READY";
    }
  }
  return {};
}

Result<HostedApplication> ApplicationHost::describe(const std::string& name) const {
  HostedApplication app;
  {
    std::lock_guard lock(mu_);
    auto it = apps_.find(name);
    if (it == apps_.end()) return not_found(name);
    if (it->second->runner || !status_ || it->second->app.status != "RUNNING") return with_fault(*it->second);
    app = it->second->app;
  }
  // It runs on another node: its fault is what that node published.
  if (auto s = status_->read(name)) app.fault = s->fault;
  return app;
}

std::vector<std::string> ApplicationHost::running_here() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, e] : apps_) {
    if (e->runner) out.push_back(name);
  }
  return out;
}

void ApplicationHost::publish_status() {
  if (!status_) return;
  std::vector<std::pair<std::string, SharedStatus::Status>> running;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, e] : apps_) {
      if (e->runner) running.push_back({name, status_of(*e->runner)});
    }
  }
  for (const auto& [name, s] : running) status_->publish(name, s);
}

std::vector<HostedApplication> ApplicationHost::list() const {
  std::lock_guard lock(mu_);
  std::vector<HostedApplication> out;
  for (const auto& [_, e] : apps_) out.push_back(with_fault(*e));
  return out;
}

HostedApplication ApplicationHost::with_fault(const Entry& e) const {
  HostedApplication app = e.app;
  if (e.runner) app.fault = e.runner->fault();
  return app;
}

Result<HostedApplication> ApplicationHost::create(nlohmann::json config) {
  const std::string name = config.at("ApplicationName").get<std::string>();
  if (auto st = validate(config); !st) return tl::unexpected(st.error());
  std::lock_guard lock(mu_);
  if (apps_.count(name)) return make_error(Errc::kResourceInUse, "Application " + name + " already exists.");
  auto entry = std::make_unique<Entry>();
  entry->app.config = std::move(config);
  entry->app.created_ms = entry->app.updated_ms = clock_.now_ms();
  if (auto st = persist(name, *entry); !st) {
    // Another node created it first (a shared metadata store), or the write failed.
    if (st.error().code == Errc::kResourceInUse)
      return make_error(Errc::kResourceInUse, "Application " + name + " already exists.");
    return tl::unexpected(st.error());
  }
  auto result = entry->app;
  apps_[name] = std::move(entry);
  return result;
}

void ApplicationHost::halt(Entry& entry, std::unique_lock<std::mutex>& lock) {
  if (!entry.runner) return;  // placed on another node: nothing runs here
  auto runner = std::move(entry.runner);
  lock.unlock();  // the runner's last checkpoint takes mu_ to keep its positions
  runner->stop();
  lock.lock();
}

Status ApplicationHost::keep_positions(const std::string& name, const Checkpoint& c) {
  std::lock_guard lock(mu_);
  auto it = apps_.find(name);
  if (it == apps_.end()) return {};
  it->second->app.positions = c.positions;
  it->second->app.finished = c.finished;
  if (shared_) return {};  // the checkpoint holds them
  return persist(name, *it->second);
}

Status ApplicationHost::reload(const std::string& name) {
  const uint64_t seen = local_writes_.load();  // this node's writes the read below may not show
  auto doc = metadata_->get(name);
  if (!doc) return tl::unexpected(doc.error());
  std::unique_lock lock(mu_);
  auto it = apps_.find(name);
  if (!*doc) {
    // Removed by another node: which also removed its checkpoint. Not if this node wrote the
    // document after the read began (created it, say): the absence read is older than that.
    if (it == apps_.end() || it->second->revision == 0 || it->second->written_at > seen) return {};
    auto entry = std::move(it->second);
    apps_.erase(it);
    if (entry->runner) {
      halt(*entry, lock);
      (void)checkpoints_->remove(name);  // the one this node's stop may have written again
    }
    return {};
  }
  if (it != apps_.end() && it->second->revision >= (*doc)->revision) return {};
  HostedApplication app;
  try {
    app = app_from_json(nlohmann::json::parse((*doc)->value));
  } catch (const std::exception& e) {
    return make_error(Errc::kCorruption, "cannot read application " + name + ": " + e.what());
  }
  if (it == apps_.end()) it = apps_.emplace(name, std::make_unique<Entry>()).first;
  Entry& entry = *it->second;
  // Positions are this node's own while it runs the application.
  if (entry.runner) {
    app.positions = entry.app.positions;
    app.finished = entry.app.finished;
  }
  entry.app = std::move(app);
  entry.revision = (*doc)->revision;
  reconcile(name, entry, lock);
  return {};
}

void ApplicationHost::learn(const std::string& name) {
  if (!shared_) return;
  if (auto st = reload(name); !st) log_fault("reading application " + name, st.error().message);
}

void ApplicationHost::placement_changed(const std::string& name) {
  std::unique_lock lock(mu_);
  auto it = apps_.find(name);
  if (it == apps_.end()) return;
  reconcile(name, *it->second, lock);
}

void ApplicationHost::reconcile(const std::string& name, Entry& entry, std::unique_lock<std::mutex>& lock) {
  const bool wanted = entry.app.status == "RUNNING" && placement_->runs_here(WorkKind::kApplication, name);
  if (entry.runner && (!wanted || entry.runner_version != entry.app.version)) {
    halt(entry, lock);  // stopped, updated or placed elsewhere
  }
  if (wanted && !entry.runner) {
    // Continue from its last checkpoint, as after a restart.
    if (auto st = launch(name, entry, "LAST_STOPPED_POINT"); !st)
      log_fault("running application " + name + " on this node", st.error().message);
  }
}

Result<size_t> ApplicationHost::step(const std::string& name) {
  ApplicationRunner* runner = nullptr;
  {
    std::lock_guard lock(mu_);
    auto it = apps_.find(name);
    if (it == apps_.end()) return not_found(name);
    runner = it->second->runner.get();
  }
  if (!runner) return make_error(Errc::kResourceInUse, "Application " + name + " is not running");
  // Stepped mode: the caller's thread is the only one that starts, stops or steps.
  return runner->step();
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
  log_info("application", "stopped", {{"application", name}});
  return persist(name, e);
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
      if (auto saved = persist(name, e); !saved) log_fault("saving application " + name, saved.error().message);
      return st;
    }
  }
  return persist(name, e);
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
  if (auto st = checkpoints_->remove(name); !st) return st;
  if (libraries_ && e.app.config.contains("Job")) {
    const std::filesystem::path lib = e.app.config["Job"].value("Library", "");
    (void)libraries_->remove(name + "/" + lib.filename().string());  // best effort: nothing runs it now
  }
  if (auto st = metadata_->remove(name, e.revision); !st) return st;
  if (status_) status_->remove(name);
  apps_.erase(name);
  return {};
}

std::vector<std::string> ApplicationHost::recent_errors(const std::string& name) const {
  {
    std::lock_guard lock(mu_);
    auto it = apps_.find(name);
    if (it == apps_.end()) return {};
    if (it->second->runner) return it->second->runner->errors();
    if (!status_) return {};
  }
  auto s = status_->read(name);  // it runs on another node
  return s ? s->errors : std::vector<std::string>{};
}

// ---- metrics (/metrics, the dashboard) ---------------------------------------------------------

std::vector<ApplicationMetrics> ApplicationHost::metrics() const {
  std::vector<ApplicationMetrics> out;
  std::vector<size_t> elsewhere;  // RUNNING on another node (cluster mode)
  {
    std::lock_guard lock(mu_);
    collect_metrics(out, elsewhere);
  }
  // Any node shows an application as the node running it does, from what that node published:
  // scrape one node for the whole picture (per application, not per node).
  for (size_t i : elsewhere) {
    if (auto s = status_->read(out[i].name)) {
      s->figures.name = std::move(out[i].name);
      s->figures.status = std::move(out[i].status);
      out[i] = std::move(s->figures);
    }
  }
  return out;
}

ApplicationMetrics ApplicationHost::figures_of(const ApplicationRunner& r) const {
  ApplicationMetrics m;
  m.source = r.source();
  for (const auto& d : r.destinations()) m.outputs.push_back({d->output, d->stream, d->delivery});
  const auto& c = r.counters();
  m.input_records = c.input_records;
  m.output_rows = c.output_rows;
  m.error_rows = c.error_rows;
  m.last_arrival_ms = c.last_arrival_ms;
  m.millis_behind_latest = c.millis_behind_latest;
  m.last_checkpoint_ms = c.last_checkpoint_ms;
  m.preprocess_invocations = c.preprocess_invocations;
  m.preprocess_failed_invocations = c.preprocess_failed_invocations;
  m.preprocess_ok = c.preprocess_ok;
  m.preprocess_dropped = c.preprocess_dropped;
  m.preprocess_failed = c.preprocess_failed;
  if (auto fault = r.fault()) m.fault = fault->reason;
  if (const TimestampMs w = c.watermark_ms; w != INT64_MIN) {
    m.watermark_ms = w;
    m.watermark_lag_ms = std::max<int64_t>(0, clock_.now_ms() - w);
  }
  return m;
}

SharedStatus::Status ApplicationHost::status_of(const ApplicationRunner& r) const {
  return {r.fault(), r.errors(), figures_of(r)};
}

void ApplicationHost::collect_metrics(std::vector<ApplicationMetrics>& out, std::vector<size_t>& elsewhere) const {
  for (const auto& [name, entry] : apps_) {
    ApplicationMetrics m;
    m.name = name;
    m.status = entry->app.status;
    if (const ApplicationRunner* r = entry->runner.get()) {
      m = figures_of(*r);
      m.name = name;
      m.status = entry->app.status;
      for (const auto& t : entry->app.reference) m.reference_rows += t.value("Rows", uint64_t{0});
    } else if (status_ && entry->app.status == "RUNNING") {
      elsewhere.push_back(out.size());
    }
    out.push_back(std::move(m));
  }
}

}  // namespace eddy::host
