#include <CLI/CLI.hpp>

#include <malloc.h>
#include <sys/resource.h>

#include <condition_variable>
#include <csignal>

#include <future>

#include <iostream>
#include <mutex>
#include <thread>

#include "api/analytics_api.h"
#include "api/analytics_v2_api.h"
#include "api/aws_errors.h"
#include "api/client.h"
#include "api/firehose_api.h"
#include "api/http_server.h"
#include "api/json_codec.h"
#include "api/kinesis_api.h"
#include "api/router.h"
#include "api/service_model.h"
#include "api/tls_certificate.h"
#include "cli/app.h"
#include "cli/cluster_status.h"
#include "cli/common_options.h"
#include "cli/serve_config.h"
#include "cluster/cluster_node.h"
#include "cluster/jetstream_blob_store.h"
#include "cluster/lease_placement.h"
#include "common/build_info.h"
#include "common/file_util.h"
#include "common/logging.h"
#include "common/path_names.h"
#include "common/record_cipher.h"
#include "delivery/delivery_host.h"
#include "delivery/s3_sink.h"
#include "host/application_host.h"
#include "job/host_loader.h"
#include "log/group_commit.h"
#include "stream/stream_store.h"
#include "web/cluster_figures.h"
#include "web/dashboard.h"
#include "web/disk_usage.h"
#include "web/health.h"
#include "web/metrics_text.h"
#include "web/server_metrics.h"

namespace eddy::embedded {
std::string_view kinesis_model();
std::string_view kinesisanalytics_model();
std::string_view kinesisanalyticsv2_model();
std::string_view firehose_model();
}  // namespace eddy::embedded

namespace eddy::cli {
namespace {

struct ServeOptions {
  std::string config;  // --config eddy.yaml
  std::string log_level = "info";
  std::string log_format = "text";
  bool access_log = false;
  bool print_config = false;
  std::vector<std::string> apply;  // pipeline files and templates applied once ready
  std::string host = "127.0.0.1";
  int port = 4567;
  std::string data_dir = "./eddy-data";
  std::string fsync = "always";
  bool enforce_limits = false;
  size_t shard_limit = 500;
  std::string access_key, secret_key, credentials_file;
  std::string region = "us-east-1";
  int threads = 2;
  int64_t iterator_ttl_ms = 5 * 60 * 1000;
  int64_t status_delay_ms = 0;
  std::string tls_cert, tls_key;       // PEM files: serve HTTPS
  std::string encryption_key_file;     // StartStreamEncryption's key
  bool tls_self_signed = false;        // make (once) and use a certificate under the data directory
  int64_t fanout_look_ms = 0;          // 0: FanOutOptions' default (tests set it)
  int64_t fanout_subscription_ms = 0;  // 0: 5 minutes, as AWS
  double checkpoint_interval_s = 10;
  int parallelism = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  bool allow_native_jobs = false;
  size_t max_connections = 4096;
  int idle_timeout_s = 60, header_timeout_s = 30, write_timeout_s = 60;
  size_t body_budget_mb = 512;
  std::vector<std::string> lambdas;  // NAME=python:/path.py | NAME=exec:command
  std::string s3_endpoint, s3_access_key, s3_secret_key, s3_region = "us-east-1";
  int s3_multipart_mb = 8;
  std::string cluster;     // NATS URLs, comma-separated: cluster mode
  std::string bucket_dir;  // where bucket directories are (default <data-dir>/bucket)
  std::string node_id;
  int replicas = 1;
  int64_t lease_ttl_ms = 10'000;
};

// Connections beyond the open-file limit would make accept fail; the limit is raised to its hard
// maximum, and 256 descriptors stay for logs, segments and the clients eddy opens itself.
size_t connection_limit(size_t wanted) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return wanted;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &rl);  // best effort: the current limit still bounds below
    (void)::getrlimit(RLIMIT_NOFILE, &rl);
  }
  const size_t files = rl.rlim_cur == RLIM_INFINITY ? wanted + 256 : static_cast<size_t>(rl.rlim_cur);
  const size_t room = files > 512 ? files - 256 : files / 2;
  if (wanted > room) {
    log_warn("serve", "--max-connections " + std::to_string(wanted) + " is above what the open-file limit (" +
                          std::to_string(files) + ") allows; serving at most " + std::to_string(room) +
                          " connections (raise it with ulimit -n)");
    return room;
  }
  return wanted;
}

int serve(const ServeOptions& o) {
  LogLevel level = LogLevel::kInfo;
  (void)parse_log_level(o.log_level, level);  // checked by the option
  set_log_level(level);
  set_log_json(o.log_format == "json");
  if (o.tls_cert.empty() != o.tls_key.empty()) return fail("--tls-cert and --tls-key go together: give both");
  if (o.tls_self_signed && !o.tls_cert.empty()) {
    return fail("--tls-self-signed makes its own certificate: drop it, or drop --tls-cert/--tls-key");
  }
  // A write to a pipe or socket whose reader is gone (a Lambda transform command that exited
  // before reading its event) must be an EPIPE error for that call, not the end of the server.
  std::signal(SIGPIPE, SIG_IGN);
  // GetRecords answers and read buffers are megabytes each: keep them on the heap for reuse
  // instead of a fresh mmap (and its page faults) per call.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  auto policy = log::parse_fsync_policy(o.fsync);
  if (!policy) return fail(policy.error().message);
  std::unique_ptr<aws::SigV4Verifier> auth;
  if (!o.access_key.empty() || !o.secret_key.empty()) {
    if (o.access_key.empty() || o.secret_key.empty())
      return fail("--access-key and --secret-key go together; give both");
    auth = std::make_unique<aws::SigV4Verifier>(std::vector<aws::AwsCredentials>{{o.access_key, o.secret_key, ""}});
  } else if (!o.credentials_file.empty()) {
    auto keys = aws::load_credentials_file(o.credentials_file);
    if (!keys) return fail(keys.error().message);
    auth = std::make_unique<aws::SigV4Verifier>(std::move(*keys));
  }
  auto model = api::ServiceModel::load(embedded::kinesis_model());
  if (!model) return fail(model.error().message);
  auto analytics_model = api::ServiceModel::load(embedded::kinesisanalytics_model());
  if (!analytics_model) return fail(analytics_model.error().message);
  auto analytics_v2_model = api::ServiceModel::load(embedded::kinesisanalyticsv2_model());
  if (!analytics_v2_model) return fail(analytics_v2_model.error().message);
  auto firehose_model = api::ServiceModel::load(embedded::firehose_model());
  if (!firehose_model) return fail(firehose_model.error().message);
  // Deviation from AWS (which requires https://): a self-hosted receiver often listens on plain
  // HTTP next to eddy, so http:// endpoint URLs are accepted too; and an eddy stream's ARN, eddy's
  // stream destination (delivery_host.cc).
  (void)(*firehose_model)->relax_pattern("HttpEndpointUrl", "(https?://|arn:aws:kinesis:).*");

  const Clock& clock = SystemClock::instance();
  log::GroupCommitter committer(*policy);
  stream::StoreOptions store_options;
  store_options.dir = std::filesystem::path(o.data_dir) / "streams";
  store_options.enforce_limits = o.enforce_limits;
  store_options.shard_limit = o.shard_limit;
  store_options.iterator_ttl_ms = o.iterator_ttl_ms;
  store_options.status_delay_ms = o.status_delay_ms;
  if (!o.encryption_key_file.empty()) {
    auto cipher = RecordCipher::from_key_file(o.encryption_key_file);
    if (!cipher) return fail(cipher.error().message);
    store_options.cipher = std::make_shared<const RecordCipher>(std::move(*cipher));
  }
  store_options.region = o.region;
  // Cluster mode: shards in JetStream streams, stream documents in the shared bucket
  // (docs/design/cluster-jetstream.md).
  std::unique_ptr<cluster::ClusterNode> node;
  if (!o.cluster.empty()) {
    auto started = cluster::ClusterNode::start({split_list(o.cluster), o.node_id, o.replicas});
    if (!started) return fail(started.error().message);
    node = std::move(*started);
    log_warn("cluster", node->durability_note());
    auto streams_meta = node->metadata("streams");
    if (!streams_meta) return fail(streams_meta.error().message);
    store_options.metadata = std::move(*streams_meta);
    store_options.open_storage = [&node](const std::string& name, uint64_t id, uint32_t shard,
                                         const std::filesystem::path&) { return node->open_shard(name, id, shard); };
  } else if (!o.node_id.empty() || o.replicas != 1) {
    return fail("--node-id and --replicas belong to cluster mode: give --cluster with the NATS servers' URLs");
  }
  auto store = stream::StreamStore::open(store_options, clock, committer);
  if (!store) return fail(store.error().message);

  std::map<std::string, std::string> functions;
  for (const auto& l : o.lambdas) {
    const size_t eq = l.find('=');
    if (eq == std::string::npos || eq == 0)
      return fail("--lambda takes NAME=python:/path/handler.py or NAME=exec:<command>, got '" + l + "'");
    functions[l.substr(0, eq)] = l.substr(eq + 1);
  }
  std::optional<delivery::S3Options> s3;
  if (!o.s3_endpoint.empty()) {
    if (auto e = api::parse_endpoint(o.s3_endpoint); !e) return fail("--s3-endpoint: " + e.error().message);
    s3.emplace();
    s3->endpoint = o.s3_endpoint;
    s3->region = o.s3_region;
    s3->credentials = api::credentials_from_environment();
    s3->multipart_threshold = static_cast<size_t>(o.s3_multipart_mb) << 20;
    s3->part_size = std::max<size_t>(s3->multipart_threshold, 5u << 20);
    if (!o.s3_access_key.empty()) s3->credentials = {o.s3_access_key, o.s3_secret_key, ""};
  }
  const std::filesystem::path bucket_dir =
      o.bucket_dir.empty() ? std::filesystem::path(o.data_dir) / "bucket" : std::filesystem::path(o.bucket_dir);
  delivery::DeliveryHost deliveries(std::filesystem::path(o.data_dir) / "deliveries", bucket_dir, **store, committer,
                                    clock, functions, s3);
  host::ApplicationHost host(std::filesystem::path(o.data_dir) / "apps", **store, committer, clock);
  // Application outputs may be delivery streams (KinesisFirehoseOutput).
  host::ApplicationHost::DeliveryOutput to_delivery;
  to_delivery.put = [&deliveries, &committer](const std::string& name, const std::vector<std::string_view>& rows,
                                              const std::vector<std::string_view>& keys) -> Status {
    auto put = deliveries.put(name, rows, keys);
    if (!put) return tl::unexpected(put.error());
    std::promise<Status> done;
    committer.commit({put->journal}, [&done](Status st) { done.set_value(st); });
    return done.get_future().get();
  };
  to_delivery.end = [&deliveries](const std::string& name) { return deliveries.journal_end(name); };
  to_delivery.scan = [&deliveries](const std::string& name, uint64_t from,
                                   const std::function<void(std::string_view, std::string_view)>& each) {
    return deliveries.scan_journal(name, from, each);
  };
  host.set_delivery_output(std::move(to_delivery));
  if (o.allow_native_jobs) host.set_job_loader(job::host_job_loader());
  // Input preprocessing: the delivery streams' Lambda functions (--lambda) with KDA's contract.
  host.set_input_processor_factory([&deliveries](const std::string& function, const std::string& app_arn,
                                                 const std::string& stream_arn) -> Result<host::InputProcessor> {
    auto lambda = deliveries.lambda(function);
    if (!lambda) return tl::unexpected(lambda.error());
    return host::InputProcessor([lambda = std::move(*lambda), app_arn, stream_arn](
                                    const std::vector<host::PreprocessRecord>& records,
                                    const std::atomic<bool>& stop) -> Result<std::vector<host::PreprocessOutcome>> {
      std::vector<delivery::TransformInput> in;
      in.reserve(records.size());
      for (const auto& r : records)
        in.push_back({r.record_id, r.arrival_ms, r.data, r.shard_id, r.partition_key, r.sequence_number, 0});
      auto out = lambda.invoke_analytics(app_arn, stream_arn, in, &stop);
      if (!out) return tl::unexpected(out.error());
      std::vector<host::PreprocessOutcome> outcomes;
      outcomes.reserve(out->size());
      for (auto& o : *out) {
        using R = delivery::TransformOutcome::Result;
        outcomes.push_back({o.result == R::kOk        ? host::PreprocessOutcome::Result::kOk
                            : o.result == R::kDropped ? host::PreprocessOutcome::Result::kDropped
                                                      : host::PreprocessOutcome::Result::kFailed,
                            std::move(o.data)});
      }
      return outcomes;
    });
  });
  // Reference data objects: from S3 with --s3-endpoint, else the bucket directories.
  host.set_object_reader([bucket_dir, s3](const std::string& bucket, const std::string& key) -> Result<std::string> {
    if (s3) return delivery::S3Sink(*s3).get(bucket, key);
    auto path = bucket_object_path(bucket_dir, "arn:aws:s3:::" + bucket, key);
    if (!path) return tl::unexpected(path.error());
    // The caller sees the bucket and key, never the server's paths.
    std::error_code ec;
    if (!std::filesystem::is_regular_file(*path, ec)) return make_error(Errc::kResourceNotFound, "no such object");
    auto bytes = read_file(*path);
    if (!bytes) return make_error(Errc::kIo, "the object cannot be read");
    return bytes;
  });
  host.set_parallelism(o.parallelism);
  host.set_checkpoint_interval_ms(static_cast<int64_t>(o.checkpoint_interval_s * 1000));
  std::shared_ptr<cluster::LeasePlacement> leases;
  std::shared_ptr<web::ClusterFigures> cluster_figures;  // each node's stream figures, summed
  if (node) {
    // Applications: documents in the shared bucket, checkpoints in JetStream, each run by the
    // node holding its lease.
    auto apps_meta = cluster::JetStreamMetadataStore::open(node->nats(), cluster::kMetadataBucket, "apps", o.replicas);
    if (!apps_meta) return fail(apps_meta.error().message);
    host.set_metadata_store(std::move(*apps_meta));
    auto blobs = cluster::JetStreamBlobStore::open(node->nats(), "app", o.replicas);
    if (!blobs) return fail(blobs.error().message);
    host.set_checkpoint_store(std::make_unique<host::BlobCheckpointStore>(std::move(*blobs)));
    auto libraries = cluster::JetStreamBlobStore::open(node->nats(), "job", o.replicas);
    if (!libraries) return fail(libraries.error().message);
    host.set_library_store(std::move(*libraries));
    auto placement = cluster::LeasePlacement::start(node->nats(), {.node_id = o.node_id,
                                                                   .endpoint = o.host + ":" + std::to_string(o.port),
                                                                   .replicas = o.replicas,
                                                                   .ttl_ms = o.lease_ttl_ms,
                                                                   .margin_ms = o.lease_ttl_ms * 3 / 10});
    if (!placement) return fail(placement.error().message);
    leases = std::move(*placement);
    host.set_placement(leases);
    host.set_shared(true);
    auto status_board = cluster::JetStreamMetadataStore::open(node->nats(), "eddy_status", "apps", o.replicas);
    if (!status_board) return fail(status_board.error().message);
    host.set_shared_status(std::make_shared<host::SharedStatus>(std::move(*status_board), o.node_id, clock));
    auto figures_board = cluster::JetStreamMetadataStore::open(node->nats(), "eddy_status", "nodes", o.replicas);
    if (!figures_board) return fail(figures_board.error().message);
    cluster_figures = std::make_shared<web::ClusterFigures>(std::move(*figures_board), o.node_id, clock);
    // Delivery streams: documents in the shared bucket, state in JetStream, journals as shards;
    // each worker runs on the node holding the delivery stream's lease.
    auto deliveries_meta = node->metadata("deliveries");
    if (!deliveries_meta) return fail(deliveries_meta.error().message);
    auto delivery_state = cluster::JetStreamBlobStore::open(node->nats(), "dlv", o.replicas);
    if (!delivery_state) return fail(delivery_state.error().message);
    deliveries.set_shared(
        {.metadata = std::move(*deliveries_meta),
         .state = std::shared_ptr<BlobStore>(std::move(*delivery_state)),
         .open_journal = [&node](const std::string& name,
                                 uint64_t incarnation) { return node->open_journal(name, incarnation); },
         .node_id = o.node_id});
    deliveries.set_placement(leases);
  }
  if (auto st = deliveries.load(); !st) return fail(st.error().message);
  if (auto st = host.load(); !st) return fail(st.error().message);
  // Whether JetStream answers (for /ready): checked at start, kept fresh by the publisher below,
  // so declared before what stops it.
  std::atomic<bool> jetstream_answers{true};
  // The cluster's threads call into the store and the host: they stop first, whichever way this
  // function returns.
  struct StopCluster {
    cluster::ClusterNode* node;
    cluster::LeasePlacement* leases;
    web::ClusterFigures* figures;
    std::thread publisher;  // of the applications' status and the node's figures
    std::mutex mu;
    std::condition_variable cv;
    bool stopping = false;
    ~StopCluster() {
      {
        std::lock_guard lock(mu);
        stopping = true;
      }
      cv.notify_all();
      if (publisher.joinable()) publisher.join();
      if (figures) figures->withdraw();
      if (leases) leases->stop();
      // Unreachable servers: fail what is left at once (the watch's unsubscribe, the runners' last
      // checkpoints) instead of waiting out a timeout each; nothing acknowledged depends on them.
      if (node && !node->nats().connected()) node->nats().close();
      if (node) node->stop_watch();
    }
  } stop_cluster{node.get(), leases.get(), cluster_figures.get()};
  if (node) {
    // Other nodes' changes: each document written or removed is applied here.
    node->watch([&store, &host, &deliveries](const std::string& kind, const std::string& name) {
      Status applied = kind == "streams"      ? (*store)->reload(name)
                       : kind == "apps"       ? host.reload(name)
                       : kind == "deliveries" ? deliveries.reload(name)
                                              : Status{};
      if (!applied) {
        log_error("cluster", "cannot apply another node's change: " + applied.error().message,
                  {{"kind", kind}, {"name", name}});
      }
    });
    stop_cluster.publisher =
        std::thread([&stop_cluster, &host, &store, &deliveries, &cluster_figures, &node, &jetstream_answers] {
          std::unique_lock lock(stop_cluster.mu);
          while (!stop_cluster.cv.wait_for(lock, std::chrono::seconds(1), [&] { return stop_cluster.stopping; })) {
            lock.unlock();
            jetstream_answers = node->nats().jetstream_answers();  // for /ready, which must not wait
            host.publish_status();
            cluster_figures->publish((*store)->metrics(), deliveries.buffers());
            lock.lock();
          }
        });
    leases->run(
        [&host, &deliveries] {
          std::vector<cluster::LeasePlacement::Work> work;
          for (const auto& app : host.list())
            work.push_back({WorkKind::kApplication, app.config.value("ApplicationName", "")});
          for (const auto& d : deliveries.list())
            work.push_back({WorkKind::kDeliveryStream, d.config.value("DeliveryStreamName", "")});
          return work;
        },
        [&host, &deliveries](WorkKind kind, const std::string& name, bool) {
          if (kind == WorkKind::kApplication) host.placement_changed(name);
          if (kind == WorkKind::kDeliveryStream) deliveries.placement_changed(name);
        });
  }

  api::FanOutOptions fan_out;
  // Another node's appends do not wake this node's subscriptions: they look this often (the
  // JetStream shard's tail is refreshed every 100 ms).
  if (node) {
    fan_out.look_interval = std::chrono::milliseconds(200);
    auto holders = node->metadata("subscriptions");
    if (!holders) return fail(holders.error().message);
    fan_out.holders = std::move(*holders);
  }
  if (o.fanout_look_ms > 0) fan_out.look_interval = std::chrono::milliseconds(o.fanout_look_ms);
  if (o.fanout_subscription_ms > 0) fan_out.subscription_length = std::chrono::milliseconds(o.fanout_subscription_ms);
  // The account's settings: one document, shared by the nodes of a cluster.
  std::shared_ptr<MetadataStore> account_meta;
  if (node) {
    auto meta = node->metadata("account");
    if (!meta) return fail(meta.error().message);
    account_meta = std::move(*meta);
  } else {
    account_meta =
        std::make_shared<FileMetadataStore>(std::filesystem::path(o.data_dir) / "account", "settings.json",
                                            [](std::string_view) -> Result<std::string> { return "account"; });
  }
  stream::AccountSettings account(account_meta, clock);
  api::KinesisApi kinesis(**store, committer, clock, fan_out, &account);
  api::AnalyticsApi analytics(host, **store, bucket_dir);
  api::AnalyticsV2Api analytics_v2(host, analytics, bucket_dir);
  api::FirehoseApi firehose(deliveries, committer);
  std::vector<api::Service> services = {
      {model->get(), [&kinesis](std::string_view op, const api::Value& in, api::Protocol p,
                                api::Respond r) { kinesis.handle(op, in, p, std::move(r)); }},
      {analytics_model->get(), [&analytics](std::string_view op, const api::Value& in, api::Protocol p,
                                            api::Respond r) { analytics.handle(op, in, p, std::move(r)); }},
      {analytics_v2_model->get(), [&analytics_v2](std::string_view op, const api::Value& in, api::Protocol p,
                                                  api::Respond r) { analytics_v2.handle(op, in, p, std::move(r)); }},
      {firehose_model->get(), [&firehose](std::string_view op, const api::Value& in, api::Protocol p, api::Respond r) {
         firehose.handle(op, in, p, std::move(r));
       }}};
  // GET /eddy/v1/applications/<name>/errors: the latest error_stream rows (eddy apps logs); the
  // dashboard, its endpoints and /metrics (web/dashboard.h).
  web::Dashboard dashboard(**store, host, deliveries, clock);
  if (cluster_figures) dashboard.set_cluster_figures(cluster_figures);
  // /metrics beyond the dashboard's figures: the build, the process, the data directory's disk,
  // each API operation, and in cluster mode the node's.
  api::RequestMetrics request_metrics;
  request_metrics.add_service("kinesis", *model->get());
  request_metrics.add_service("kinesisanalytics", *analytics_model->get());
  request_metrics.add_service("kinesisanalyticsv2", *analytics_v2_model->get());
  request_metrics.add_service("firehose", *firehose_model->get());
  std::function<std::string()> cluster_metrics;
  web::DiskUsage disk(o.data_dir, clock);
  dashboard.set_extra_metrics(
      [&request_metrics, &cluster_metrics, &disk, started_s = static_cast<double>(clock.now_ms()) / 1000.0] {
        return web::render_server_metrics(disk.get(), started_s) + request_metrics.render() +
               (cluster_metrics ? cluster_metrics() : std::string());
      });
  if (node) {
    const std::string version = node->server_version();
    cluster_metrics = [&node, &leases, &host, &deliveries, &jetstream_answers, version] {
      const auto c = node->counters();
      size_t running_here = 0, delivering_here = 0;
      for (const auto& app : host.list())
        running_here += leases->runs_here(WorkKind::kApplication, app.config.value("ApplicationName", ""));
      for (const auto& d : deliveries.list())
        delivering_here += leases->runs_here(WorkKind::kDeliveryStream, d.config.value("DeliveryStreamName", ""));
      std::string out;
      auto family = [&out](const char* name, const char* type, const char* help, const std::string& sample) {
        out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + sample + "\n";
      };
      family("eddy_cluster_node_info", "gauge", "This cluster node and its NATS server",
             "eddy_cluster_node_info{node=\"" + web::escape_label_value(node->options().node_id) +
                 "\",nats_server_version=\"" + web::escape_label_value(version) + "\"} 1");
      family("eddy_cluster_nats_connected", "gauge", "1 while this node is connected to a NATS server",
             std::string("eddy_cluster_nats_connected ") + (node->nats().connected() ? "1" : "0"));
      family("eddy_cluster_jetstream_available", "gauge",
             "1 while JetStream answers this node (it has a quorum); /ready is false without it",
             std::string("eddy_cluster_jetstream_available ") + (jetstream_answers.load() ? "1" : "0"));
      family("eddy_cluster_append_conflicts_total", "counter",
             "Appends numbered again because another node appended to the shard first",
             "eddy_cluster_append_conflicts_total " + std::to_string(c.append_conflicts));
      family("eddy_cluster_grouped_appends_total", "counter", "Appends that went out in another append's message",
             "eddy_cluster_grouped_appends_total " + std::to_string(c.grouped_appends));
      family("eddy_cluster_nats_reconnects_total", "counter", "Reconnections to the NATS servers",
             "eddy_cluster_nats_reconnects_total " + std::to_string(c.reconnects));
      family("eddy_cluster_applications_running_here", "gauge", "Applications whose lease this node holds",
             "eddy_cluster_applications_running_here " + std::to_string(running_here));
      family("eddy_cluster_delivery_streams_running_here", "gauge", "Delivery streams whose lease this node holds",
             "eddy_cluster_delivery_streams_running_here " + std::to_string(delivering_here));
      return out;
    };
  }
  auto get = [&host, &deliveries, &dashboard, &node, &leases, &store](const HttpRequest& request, std::string_view path,
                                                                      api::Respond& respond) {
    if (path == "/eddy/v1/cluster") {  // eddy cluster status
      api::HttpResponse r;
      r.content_type = "application/json";
      if (!node) {
        r.status = 404;
        r.body = R"j({"message":"this server is not in cluster mode (eddy serve --cluster)"})j";
      } else {
        auto status = cluster_status(*node, *leases, **store);
        // What runs on this node now (a lease is held a little before and after).
        status["running_here"] = {{"applications", host.running_here()},
                                  {"delivery_streams", deliveries.running_here()}};
        r.body = status.dump();
      }
      respond(std::move(r));
      return true;
    }
    constexpr std::string_view kPrefix = "/eddy/v1/applications/";
    if (!path.starts_with(kPrefix) || !path.ends_with("/errors")) return dashboard.handle(request, path, respond);
    const std::string name(path.substr(kPrefix.size(), path.size() - kPrefix.size() - 7));
    api::HttpResponse r;
    r.content_type = "application/json";
    if (!host.describe(name)) {
      r.status = 404;
      r.body = R"({"message":"no such application"})";
    } else {
      r.body = "[";
      const auto rows = host.recent_errors(name);
      for (size_t i = 0; i < rows.size(); ++i) r.body += (i ? "," : "") + rows[i];
      r.body += "]";
    }
    respond(std::move(r));
    return true;
  };
  api::AccessPolicy access;
  access.auth = auth.get();
  access.region = o.region;
  const bool loopback = o.host == "::1" || api::names_loopback(o.host);
  access.loopback_only = !auth && loopback;
  if (!auth && !loopback) {
    log_warn("serve", "listening on " + o.host +
                          " without keys: anyone who can reach this port can read, write and delete every stream, "
                          "application and delivery stream. Start with --access-key/--secret-key or "
                          "--credentials-file (see docs/security.md).");
  }
  api::Router router(std::move(services), std::move(access), clock, get);
  router.set_metrics(&request_metrics);
  router.set_access_log(o.access_log);
  web::Health health(host, deliveries, clock);
  std::atomic<const char*> applying{""};  // --apply: "", running, done or failed
  health.set_init([&applying] { return std::string(applying.load()); });
  if (node) {
    health.set_cluster([&node, &jetstream_answers] {
      return web::ClusterHealth{node->nats().connected(), jetstream_answers.load()};
    });
  }
  router.set_probes([&health](std::string_view path) { return path == "/ready" ? health.ready() : health.health(); });
  // The dashboard's server panel: the probes' state, and the data directory's size and disk.
  dashboard.set_server_info([&health, &disk, &o] {
    nlohmann::json info = health.state();
    const auto d = disk.get();
    info["data_dir"] = {{"path", o.data_dir},
                        {"used_bytes", d.used_bytes},
                        {"files", d.files},
                        {"partial", d.partial},
                        {"filesystem_size_bytes", d.filesystem_size_bytes},
                        {"filesystem_avail_bytes", d.filesystem_avail_bytes}};
    info["cluster_node"] = o.cluster.empty() ? nlohmann::json() : nlohmann::json(o.node_id);
    return info;
  });
  api::HttpLimits limits;
  limits.max_connections = connection_limit(o.max_connections);
  limits.body_budget_bytes = static_cast<size_t>(o.body_budget_mb) << 20;
  limits.idle_timeout = std::chrono::seconds(o.idle_timeout_s);
  limits.header_timeout = std::chrono::seconds(o.header_timeout_s);
  limits.write_timeout = std::chrono::seconds(o.write_timeout_s);
  api::HttpServer server([&router](HttpRequest& req, api::Respond respond) { router.handle(req, std::move(respond)); },
                         o.threads, limits);
  const bool tls = o.tls_self_signed || !o.tls_cert.empty();
  if (o.tls_self_signed) {
    auto files = api::self_signed_certificate(std::filesystem::path(o.data_dir) / "tls", o.host);
    if (!files) return fail(files.error().message);
    if (auto st = server.enable_tls(files->cert.string(), files->key.string()); !st) return fail(st.error().message);
    log_info("serve", "TLS with the self-signed certificate " + files->cert.string() +
                          " (clients trust it with --ca-bundle or AWS_CA_BUNDLE=" + files->cert.string() + ")");
  } else if (tls) {
    if (auto st = server.enable_tls(o.tls_cert, o.tls_key); !st) return fail(st.error().message);
  }
  auto port = server.listen(o.host, static_cast<uint16_t>(o.port));
  if (!port) return fail(port.error().message);
  // Tests and scripts wait for "listening on http(s)://HOST:PORT" in this line, in either format.
  log_info("serve",
           std::string("eddy listening on ") + (tls ? "https://" : "http://") + o.host + ":" + std::to_string(*port) +
               " (dashboard at /, metrics at /metrics, health at /health and /ready; data in " + o.data_dir +
               (node ? "" : ", fsync " + o.fsync) + (auth ? ", SigV4 required" : "") +
               (o.enforce_limits ? ", shard limits on" : "") +
               (node ? ", cluster node " + o.node_id + " with " + std::to_string(o.replicas) + " replica(s)" : "") +
               ")",
           {{"version", build_version()}, {"commit", build_commit()}});
  // --apply: the files go through the API like `eddy apply`, once the server answers; /ready
  // says false until they are done.
  std::thread applier;
  if (!o.apply.empty()) {
    std::optional<aws::AwsCredentials> key;
    if (!o.access_key.empty()) key = aws::AwsCredentials{o.access_key, o.secret_key, ""};
    if (!o.credentials_file.empty()) {
      if (auto keys = aws::load_credentials_file(o.credentials_file); keys && !keys->empty()) key = keys->front();
    }
    const std::string host = o.host == "0.0.0.0" || o.host.empty()   ? "127.0.0.1"
                             : o.host == "::"                        ? "[::1]"
                             : o.host.find(':') != std::string::npos ? "[" + o.host + "]"
                                                                     : o.host;
    const std::string endpoint = (tls ? "https://" : "http://") + host + ":" + std::to_string(*port);
    applying = "running";
    applier = std::thread([&o, key, endpoint, &applying] {
      bool ok = true;
      for (const auto& file : o.apply) {
        log_info("serve", "applying " + file, {{"file", file}});
        if (apply_pipeline_file(file, endpoint, o.region, key) != 0) {
          log_error("serve", "--apply " + file + " failed (above); the server keeps running without it",
                    {{"file", file}});
          ok = false;
        }
      }
      applying = ok ? "done" : "failed";
    });
  }
  server.run();
  // Appends waiting for their fsync answer through the server's connections: they complete
  // before the server (its io_context) is destroyed, not on a committer thread racing that.
  committer.stop();
  if (applier.joinable()) applier.join();
  log_info("serve", "eddy stopped");
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand("serve", "Run the server: Kinesis API on --host:--port, data under --data-dir");
  cmd->add_option("--host", o->host, "Address to bind")->capture_default_str();
  cmd->add_option("--port", o->port, "Port (0 picks a free one and prints it)")->capture_default_str();
  cmd->add_option("--data-dir", o->data_dir, "Where streams are stored")->capture_default_str();
  cmd->add_option("--fsync", o->fsync,
                  "always: acknowledge after an fsync (group commit); interval=<ms>: fsync periodically")
      ->capture_default_str();
  cmd->add_flag("--enforce-limits", o->enforce_limits, "Enforce Kinesis per-shard throughput limits");
  cmd->add_option("--shard-limit", o->shard_limit,
                  "Open shards the account may hold in all (DescribeLimits' ShardLimit; AWS's default quota is 500)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--access-key", o->access_key, "Require SigV4 signatures by this access key");
  cmd->add_option("--secret-key", o->secret_key, "Secret key for --access-key");
  cmd->add_option("--credentials-file", o->credentials_file, "Require SigV4 by any key in this AWS credentials file");
  cmd->add_option("--region", o->region, "Region used in ARNs")->capture_default_str();
  cmd->add_option("--parallelism", o->parallelism,
                  "Threads per application that parse and map its records (default: cores)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--checkpoint-interval", o->checkpoint_interval_s,
                  "Seconds between application checkpoints (source positions, window state, output ordinals)")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 3600.0));
  cmd->add_option("--threads", o->threads, "HTTP worker threads")->capture_default_str()->check(CLI::Range(1, 64));
  cmd->add_option("--max-connections", o->max_connections,
                  "Open connections at most; more are answered 503 (capped by the open-file limit)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--body-budget-mb", o->body_budget_mb,
                  "MiB of request bodies buffered at once over all connections; more wait for a 503 and retry")
      ->capture_default_str()
      ->check(CLI::Range(33, 1 << 20));
  cmd->add_flag("--allow-native-jobs", o->allow_native_jobs,
                "Run C++ job libraries (native code, as this server's user) that callers deploy; with keys, any "
                "configured key may deploy them");
  cmd->add_option(
      "--lambda", o->lambdas,
      "Where a Lambda function used as a Firehose transform runs: NAME=python:/path/handler.py or NAME=exec:<command>");
  cmd->add_option("--bucket-dir", o->bucket_dir,
                  "Where bucket directories are (default <data-dir>/bucket); cluster nodes that deliver to "
                  "bucket directories share one (a shared mount)");
  cmd->add_option("--s3-endpoint", o->s3_endpoint,
                  "Deliver to this S3-compatible store (http://host:port, path-style) instead of bucket directories");
  cmd->add_option("--s3-access-key", o->s3_access_key, "Access key for --s3-endpoint (default: AWS_ACCESS_KEY_ID)");
  cmd->add_option("--s3-secret-key", o->s3_secret_key, "Secret key for --s3-endpoint (default: AWS_SECRET_ACCESS_KEY)");
  cmd->add_option("--s3-region", o->s3_region, "Region the S3 requests are signed for")->capture_default_str();
  cmd->add_option("--s3-multipart-mb", o->s3_multipart_mb, "Objects above this many MiB are uploaded in parts")
      ->capture_default_str()
      ->check(CLI::Range(1, 5120));
  cmd->add_option("--cluster", o->cluster,
                  "Cluster mode: the NATS servers (JetStream) that hold the streams, as nats://host:port,...");
  cmd->add_option("--node-id", o->node_id, "This node's name in the cluster (with --cluster)");
  cmd->add_option("--replicas", o->replicas, "Copies JetStream keeps of every shard and document (with --cluster)")
      ->capture_default_str()
      ->check(CLI::Range(1, 5));
  cmd->add_option("--lease-ttl-ms", o->lease_ttl_ms, "Lifetime of a node's leases (cluster mode; tests)")
      ->group("")
      ->check(CLI::Range(1000, 600000));
  cmd->add_option("--iterator-ttl-ms", o->iterator_ttl_ms, "Shard iterator lifetime (tests)")->group("");
  cmd->add_option("--idle-timeout-s", o->idle_timeout_s, "Seconds a kept-alive connection may wait (tests)")
      ->group("")
      ->check(CLI::Range(1, 3600));
  cmd->add_option("--header-timeout-s", o->header_timeout_s, "Seconds to send a request's headers (tests)")
      ->group("")
      ->check(CLI::Range(1, 3600));
  cmd->add_option("--write-timeout-s", o->write_timeout_s,
                  "Seconds a response, or one event of a stream, may take to be read (tests)")
      ->group("")
      ->check(CLI::Range(1, 3600));
  cmd->add_option("--status-delay-ms", o->status_delay_ms, "Minimum time in CREATING/UPDATING (tests)")->group("");
  cmd->add_option("--encryption-key-file", o->encryption_key_file,
                  "Key for StartStreamEncryption: 64 hex digits (openssl rand -hex 32); streams with encryption on "
                  "keep their records sealed with it")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tls-cert", o->tls_cert, "Serve HTTPS with this PEM certificate chain (with --tls-key)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tls-key", o->tls_key, "The PEM private key of --tls-cert")->check(CLI::ExistingFile);
  cmd->add_flag("--tls-self-signed", o->tls_self_signed,
                "Serve HTTPS with a self-signed certificate made once under <data-dir>/tls (printed at start)");
  cmd->add_option("--fanout-look-ms", o->fanout_look_ms, "How often an unwoken subscription looks (tests)")->group("");
  cmd->add_option("--fanout-subscription-ms", o->fanout_subscription_ms, "SubscribeToShard's length (tests)")
      ->group("");
  cmd->add_option("--log-level", o->log_level, "Log events at or above: error, warn, info or debug")
      ->capture_default_str()
      ->check(CLI::IsMember({"error", "warn", "info", "debug"}));
  cmd->add_option("--log-format", o->log_format,
                  "text (a line per event) or json (one object per line: time, level, component, message, fields)")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  cmd->add_flag("--access-log", o->access_log,
                "Log every API request: service, operation, status, error, latency, the caller's access key id and "
                "the request id (never a secret or signature)");
  cmd->add_option("--config", o->config,
                  "A YAML file of settings, keyed by these flags' names without the dashes (flags and EDDY_* "
                  "environment variables win over it)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--print-config", o->print_config,
                "Print the effective settings and where each came from (secrets masked), then exit");
  cmd->add_option("--apply", o->apply,
                  "A pipeline file or CloudFormation template to apply once the server is ready (repeatable; "
                  "idempotent, as eddy apply)");
  add_environment_names(*cmd);
  cmd->callback([o, cmd, &exit_code] {
    ServeConfig config;
    if (!o->config.empty()) {
      if (auto st = config.apply_file(*cmd, o->config); !st) {
        exit_code = fail(st.error().message);
        return;
      }
    }
    if (o->print_config) {
      std::cout << config.describe(*cmd);
      exit_code = 0;
      return;
    }
    exit_code = serve(*o);
  });
}

}  // namespace eddy::cli
