// Hosts the server's applications (SQL, Flink SQL, C++ jobs): their configurations (as Kinesis
// Data Analytics holds them), persisted under <data-dir>/apps/, and a runner (application_runner.h)
// per RUNNING application that reads the source stream, runs the program and writes its rows.
//
// Files: application_host.cc (the registry: create, start, stop, update, remove, describe,
// metrics), application_config.cc (checking a configuration), application_launch.cc (from a
// configuration to a running runner, restoring its checkpoint), schema_discovery.cc.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/error.h"
#include "common/metadata_store.h"
#include "common/path_names.h"
#include "common/placement.h"
#include "host/application_metrics.h"
#include "host/application_runner.h"
#include "host/checkpoint.h"
#include "host/checkpoint_store.h"
#include "host/input_processor.h"
#include "host/output_writer.h"
#include "host/reference_data.h"
#include "host/shared_status.h"
#include "log/group_commit.h"
#include "runtime/application.h"
#include "stream/stream_store.h"

namespace eddy::host {

// One application as stored: its configuration in the shapes of the KinesisAnalytics API
// (ApplicationName, ApplicationDescription, ApplicationCode, Inputs[] with InputId, Outputs[]
// with OutputId, Tags) plus status, version, timestamps and per-shard read positions.
struct HostedApplication {
  nlohmann::json config;
  std::string status = "READY";
  int64_t version = 1;
  TimestampMs created_ms = 0;
  TimestampMs updated_ms = 0;
  std::string starting_position;           // of the last start
  std::map<uint32_t, uint64_t> positions;  // source shard -> next offset (LAST_STOPPED_POINT)
  std::vector<uint32_t> finished;          // closed source shards read to their end
  // Not stored: while RUNNING, why the application cannot make progress now (an output it cannot
  // write durably, a checkpoint it cannot save) and since when. It retries; this clears when a
  // round succeeds.
  std::optional<ApplicationRunner::Fault> fault;
  // Not stored: what its last launch loaded of its reference data (ReferenceLoad::to_json each).
  nlohmann::json reference = nlohmann::json::array();
};

class ApplicationHost {
 public:
  static constexpr int kMaxParallelism = 64;  // threads of one application on one machine
  ApplicationHost(std::filesystem::path dir, stream::StreamStore& store, log::GroupCommitter& committer,
                  const Clock& clock);
  ~ApplicationHost();

  // Reads the stored applications and resumes those that were RUNNING.
  Status load();

  // Where outputs to delivery streams (KinesisFirehoseOutput) go: a delivery stream's journal.
  using DeliveryOutput = host::DeliveryOutput;
  void set_delivery_output(DeliveryOutput out) { delivery_output_ = std::move(out); }
  // C++ jobs: the server's loader (job/job_program.h) turns a library and its property groups
  // (KDA's PropertyGroups: [{PropertyGroupId, PropertyMap}]) into a program with its source and sinks.
  using ProgramOutput = runtime::ProgramOutput;
  using LoadedProgram = runtime::LoadedProgram;
  using JobLoader = runtime::JobLoader;
  void set_job_loader(JobLoader loader) { job_loader_ = std::move(loader); }
  // Where reference data objects are read (a bucket directory or S3); none: reference data
  // sources load empty tables and say why.
  void set_object_reader(ObjectReader reader) { object_reader_ = std::move(reader); }
  // Makes an input's Lambda preprocessor from its function ARN (InputProcessingConfiguration);
  // none: such inputs are refused.
  void set_input_processor_factory(InputProcessorFactory factory) { processor_factory_ = std::move(factory); }
  // How a job library is deployed. `eddy jobs deploy` takes the defaults; KDA v2's
  // CreateApplication and UpdateApplication of a FLINK application set the rest.
  struct JobDeploy {
    std::optional<int> parallelism = 0;  // 0: the server's; nullopt: keep the application's
    bool start = true;                   // start a job that is not running (a running one always restarts)
    bool create = false;                 // a new application only: an existing name is ResourceInUse
    int64_t version = 0;                 // the version an update expects (0: any)
    nlohmann::json config = nlohmann::json::object();  // members set in the stored configuration (null: removed)
  };
  // Keeps the library under the application's directory, creates the application `name` that
  // runs it (or gives an existing job application the new library, keeping the state its steps
  // still have), and starts it.
  Result<HostedApplication> deploy_job(const std::string& name, std::string_view library,
                                       const nlohmann::json& property_groups, const JobDeploy& how);
  Result<HostedApplication> deploy_job(const std::string& name, std::string_view library,
                                       const nlohmann::json& property_groups, int parallelism = 0) {
    return deploy_job(name, library, property_groups, JobDeploy{.parallelism = parallelism});
  }

  // How often a running application checkpoints (also when it stops or its code is updated).
  void set_checkpoint_interval_ms(int64_t ms) { checkpoint_interval_ms_ = ms; }
  // `config`'s interval: its CheckpointConfiguration (KDA v2's shape: ConfigurationType CUSTOM
  // with CheckpointInterval in ms) or the server's.
  int64_t checkpoint_interval_of(const nlohmann::json& config) const;
  // Threads per running application (--parallelism): they parse and map its records and run its
  // keyed state's key groups. An application's own ParallelismConfiguration (KDA v2's shape:
  // ConfigurationType CUSTOM with Parallelism) overrides it.
  void set_parallelism(int n) { parallelism_ = n; }
  // Records an application reads from a shard at a time (default 2,000; up to four reads per
  // shard per round). Results do not depend on it: tests vary it.
  void set_read_batch(size_t n) { read_batch_ = n > 0 ? n : 1; }
  // The threads `config`'s application runs on.
  int parallelism_of(const nlohmann::json& config) const;

  std::string arn(const std::string& name) const;
  Result<HostedApplication> describe(const std::string& name) const;
  std::vector<HostedApplication> list() const;

  Result<HostedApplication> create(nlohmann::json config);
  // `position`: NOW, TRIM_HORIZON, LAST_STOPPED_POINT (the checkpoint), or kInitialPosition.
  Status start(const std::string& name, const std::string& position);
  // Without state, from where the application's source says: a C++ job's own start, else the
  // trim horizon (KDA v2's SKIP_RESTORE_FROM_SNAPSHOT).
  static constexpr const char* kInitialPosition = "INITIAL";
  Status stop(const std::string& name);
  // `change` edits the configuration; the code is validated again. The version must match.
  Status update(const std::string& name, int64_t version, const std::function<Status(nlohmann::json&)>& change);
  Status remove(const std::string& name, TimestampMs created_ms);

  // DiscoverInputSchema: infers an InputSchema from up to 100 records of `stream`...
  // `processing`: an InputProcessingConfiguration whose function runs over the sample first (its
  // answers are the ProcessedInputRecords the schema is inferred from).
  Result<nlohmann::json> discover_schema(const std::string& stream, const std::string& position,
                                         const nlohmann::json& processing = nullptr) const;
  // ...or from given records (one per line, e.g. a file in a bucket directory).
  // `raw`: the records as read, when `records` are what a preprocessor made of them.
  Result<nlohmann::json> infer_schema(const std::vector<std::string>& records, const std::string& source,
                                      const std::vector<std::string>* raw = nullptr) const;
  // The latest error_stream rows of a running application, as JSON lines (newest last).
  std::vector<std::string> recent_errors(const std::string& name) const;
  // Every application's counters, source and outputs (/metrics, the dashboard).
  std::vector<ApplicationMetrics> metrics() const;

  // The seams cluster mode fills (common/metadata_store.h, host/checkpoint_store.h,
  // common/placement.h); by default the application's folder under `dir` holds its app.json and
  // checkpoint, and every application runs here. Set before load().
  void set_metadata_store(std::unique_ptr<MetadataStore> m) { metadata_ = std::move(m); }
  void set_checkpoint_store(std::unique_ptr<CheckpointStore> c) { checkpoints_ = std::move(c); }
  void set_placement(std::shared_ptr<const Placement> p) { placement_ = std::move(p); }
  // Cluster mode: C++ job libraries kept where every node can fetch them (a node keeps them on
  // its disk only as a copy to load).
  void set_library_store(std::unique_ptr<BlobStore> b) { libraries_ = std::move(b); }
  // Cluster mode: the metadata is shared by nodes, and the running node keeps positions in its
  // checkpoints only (writing the document at every checkpoint would race other nodes' changes).
  void set_shared(bool shared) { shared_ = shared; }
  // Cluster mode: where the node running an application publishes its fault and error rows, and
  // the others read them (shared_status.h).
  void set_shared_status(std::shared_ptr<SharedStatus> status) { status_ = std::move(status); }
  // Publishes the status of the applications running on this node (call about every second).
  void publish_status();
  // The applications whose runner runs on this node now.
  std::vector<std::string> running_here() const;
  // Another node created, changed or removed application `name` (the metadata store reports
  // it): this node applies the document, and starts or stops its runner to match.
  Status reload(const std::string& name);
  // This node gained or lost the lease of application `name` (common/placement.h).
  void placement_changed(const std::string& name);
  // Before a request about `name`: in cluster mode its document is read now, so that a change
  // another node made a moment ago (before the watch told this node) is seen: a client going
  // from node to node reads its own writes. One machine: nothing to do.
  void learn(const std::string& name);

  // Stepped mode, for tests with a ManualClock: running applications get no thread of their own;
  // the caller runs their rounds with step(). Set before load() and the first start; start, stop,
  // update and step are then called from one thread.
  void set_stepped(bool stepped) { stepped_ = stepped; }
  // One round of running application `name`: the source records it processed (0: none new).
  Result<size_t> step(const std::string& name);

 private:
  struct Entry {
    HostedApplication app;
    uint64_t revision = 0;    // of its document in metadata_
    uint64_t written_at = 0;  // local_writes_ when this node last wrote that document
    std::unique_ptr<ApplicationRunner> runner;
    int64_t runner_version = 0;  // the version the runner runs
  };
  // Starts or stops the runner of `name` as its document and the placement say. Needs mu_.
  void reconcile(const std::string& name, Entry& entry, std::unique_lock<std::mutex>& lock);

  // An application output: an in-application stream (or Flink sink table) to a stream or a
  // delivery stream.
  struct OutputSpec {
    std::string in_app_stream;
    std::string target;
    bool delivery = false;
    bool csv = false;
  };
  struct FlinkEndpoints {
    std::string source;
    std::vector<OutputSpec> outputs;
  };
  Result<FlinkEndpoints> flink_endpoints(const runtime::Application& app) const;
  Status launch_flink(const std::string& name, Entry& entry, const std::string& position,
                      std::unique_ptr<runtime::Application> app);
  Status start_runner(const std::string& name, Entry& entry, const std::string& position, const std::string& source,
                      std::unique_ptr<runtime::Program> app, const std::vector<OutputSpec>& outputs,
                      InputProcessor preprocess = {});  // needs mu_
  // The preprocessor of `input` (a stored Inputs[] member) of application `name`; none if it has
  // no InputProcessingConfiguration; InvalidArgument for a function this server cannot run.
  Result<InputProcessor> processor_for(const std::string& name, const nlohmann::json& input) const;
  // Writes the entry's document (compare-and-set on its revision).
  Status persist(const std::string& name, Entry& entry);
  // After each checkpoint of a running application: its positions kept with it.
  Status keep_positions(const std::string& name, const Checkpoint& c);
  HostedApplication with_fault(const Entry& e) const;
  ApplicationMetrics figures_of(const ApplicationRunner& r) const;
  SharedStatus::Status status_of(const ApplicationRunner& r) const;
  // The figures of every application (needs mu_); `elsewhere`: those running on another node.
  void collect_metrics(std::vector<ApplicationMetrics>& out, std::vector<size_t>& elsewhere) const;
  Status validate(const nlohmann::json& config) const;
  Status launch(const std::string& name, Entry& entry, const std::string& position);      // needs mu_
  Status launch_job(const std::string& name, Entry& entry, const std::string& position);  // needs mu_
  // The job library of `entry` on this node's disk: fetched from libraries_ if another node took it.
  Result<std::filesystem::path> local_library(const std::string& name, const Entry& entry) const;
  void halt(Entry& entry, std::unique_lock<std::mutex>& lock);  // needs mu_

  // The folder of the application `name` under dir_ (common/path_names.h: never a path of the caller's).
  std::filesystem::path entry_dir(const std::string& name) const { return dir_ / path_component(name); }

  std::filesystem::path dir_;
  stream::StreamStore& store_;
  log::GroupCommitter& committer_;
  const Clock& clock_;
  DeliveryOutput delivery_output_;
  JobLoader job_loader_;
  ObjectReader object_reader_;
  InputProcessorFactory processor_factory_;
  int64_t checkpoint_interval_ms_ = 10'000;
  int parallelism_ = 1;
  std::atomic<size_t> read_batch_{2000};
  bool stepped_ = false;
  bool shared_ = false;
  std::unique_ptr<MetadataStore> metadata_;
  std::unique_ptr<CheckpointStore> checkpoints_;
  std::unique_ptr<BlobStore> libraries_;
  std::shared_ptr<SharedStatus> status_;
  std::shared_ptr<const Placement> placement_ = std::make_shared<LocalPlacement>();
  mutable std::mutex mu_;
  // Documents this node has written: a reload that read the store before one of them must not
  // undo it (an absence read just before this node created the application is not a removal).
  std::atomic<uint64_t> local_writes_{0};
  std::map<std::string, std::unique_ptr<Entry>> apps_;
};

}  // namespace eddy::host
