#include "web/dashboard.h"

#include <algorithm>
#include <charconv>
#include <tuple>

#include "common/json_limits.h"
#include "stream/kpl_aggregation.h"
#include "web/assets.h"
#include "web/metrics_text.h"
#include "web/query.h"

namespace eddy::web {
namespace {

using nlohmann::json;

constexpr size_t kDefaultLimit = 1000;
constexpr size_t kMaxLimit = 50000;
// Record data in one answer at most: a caller's limit=50000 over 1 MiB records must not build
// 50 GB. The newest records are kept.
constexpr size_t kMaxTailBytes = 8u << 20;
constexpr size_t kReadChunk = 5000;
constexpr std::string_view kApi = "/dashboard/api/";

api::HttpResponse json_response(int status, const json& body) {
  api::HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

api::HttpResponse error(int status, const std::string& message) {
  return json_response(status, {{"message", message}});
}

// A record's data as JSON: the parsed object if it is one (JSON outputs), else its text (CSV).
json record_value(std::string_view data) {
  if (!json_nesting_within(data)) return std::string(data);  // shown as text: nothing recursive touches it
  auto j = json::parse(data, nullptr, false);
  if (j.is_discarded()) return std::string(data);
  return j;
}

// Parses limit= and since_ms=; on failure returns the message for a 400.
std::optional<std::string> read_window(const std::map<std::string, std::string>& q, size_t& limit, TimestampMs& since) {
  limit = kDefaultLimit;
  since = 0;
  if (auto it = q.find("limit"); it != q.end()) {
    const auto& v = it->second;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), limit);
    if (ec != std::errc() || p != v.data() + v.size() || limit < 1 || limit > kMaxLimit) {
      return "limit must be a whole number from 1 to " + std::to_string(kMaxLimit) + ", got '" + v + "'";
    }
  }
  if (auto it = q.find("since_ms"); it != q.end()) {
    const auto& v = it->second;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), since);
    if (ec != std::errc() || p != v.data() + v.size() || since < 0) {
      return "since_ms must be a time in milliseconds since 1970 (UTC), got '" + v + "'";
    }
  }
  return std::nullopt;
}

// An application's outputs as configured (KinesisAnalytics Outputs[]), for one that is not running.
std::vector<host::ApplicationOutputInfo> configured_outputs(const json& config, const stream::StreamStore& store) {
  std::vector<host::ApplicationOutputInfo> out;
  for (const auto& o : config.value("Outputs", json::array())) {
    host::ApplicationOutputInfo info;
    info.in_app_stream = o.value("Name", "");
    if (o.contains("KinesisStreamsOutput")) {
      auto name = store.name_from_arn(o["KinesisStreamsOutput"].value("ResourceARN", ""));
      if (name) info.target = *name;
    } else if (o.contains("KinesisFirehoseOutput")) {
      const std::string arn = o["KinesisFirehoseOutput"].value("ResourceARN", "");
      info.target = arn.substr(arn.rfind('/') + 1);
      info.delivery = true;
    }
    out.push_back(std::move(info));
  }
  return out;
}

json outputs_json(const std::vector<host::ApplicationOutputInfo>& outputs) {
  json out = json::array();
  for (const auto& o : outputs) {
    out.push_back({{"in_app_stream", o.in_app_stream},
                   {"target", o.target},
                   {"kind", o.delivery ? "delivery_stream" : "stream"}});
  }
  return out;
}

json optional_ms(const std::optional<int64_t>& v) {
  return v ? json(*v) : json(nullptr);
}

// One application's figures, as the overview and the application's page show them.
json application_figures(const host::ApplicationMetrics& a) {
  return {{"input_records", a.input_records},
          {"output_rows", a.output_rows},
          {"error_rows", a.error_rows},
          {"last_arrival_ms", a.last_arrival_ms},
          {"millis_behind_latest", a.millis_behind_latest},
          {"last_checkpoint_ms", a.last_checkpoint_ms},
          {"watermark_ms", optional_ms(a.watermark_ms)},
          {"watermark_lag_ms", optional_ms(a.watermark_lag_ms)},
          {"fault", a.fault ? json(*a.fault) : json(nullptr)}};
}

json delivery_figures(const delivery::DeliveryMetrics& d) {
  return {{"source", d.source},
          {"destination", d.destination},
          {"incoming_records", d.incoming_records},
          {"delivered_records", d.delivered_records},
          {"objects", d.objects},
          {"backlog_records", d.backlog_records},
          {"buffered_bytes", d.buffered_bytes},
          {"buffered_records", d.buffered_records},
          {"failed_records", d.failed_records},
          {"last_delivery_ms", d.last_delivery_ms}};
}

// The path segment after `prefix`, percent-decoded, and what follows it ("" or "/rest").
bool split_name(std::string_view path, std::string_view prefix, std::string& name, std::string_view& rest) {
  if (!path.starts_with(prefix)) return false;
  std::string_view tail = path.substr(prefix.size());
  const size_t slash = tail.find('/');
  rest = slash == std::string_view::npos ? std::string_view{} : tail.substr(slash);
  auto decoded = percent_decode(tail.substr(0, slash));
  if (!decoded || decoded->empty()) return false;
  name = std::move(*decoded);
  return true;
}

}  // namespace

Dashboard::Figures Dashboard::figures() const {
  Figures f{store_.metrics(), deliveries_.metrics()};
  if (cluster_figures_) cluster_figures_->merge(f.streams, f.deliveries);
  return f;
}

json Dashboard::overview() const {
  const Figures figures = this->figures();
  json streams = json::array();
  for (const auto& s : figures.streams) {
    streams.push_back({{"name", s.name},
                       {"status", s.status},
                       {"open_shards", s.open_shards},
                       {"incoming_records", s.incoming_records},
                       {"incoming_bytes", s.incoming_bytes},
                       {"put_failed_records", s.put_failed_records},
                       {"outgoing_records", s.outgoing_records},
                       {"iterator_age_ms", s.iterator_age_ms},
                       {"millis_behind_latest", s.millis_behind_latest}});
  }
  json apps = json::array();
  for (const auto& a : apps_.metrics()) {
    std::vector<host::ApplicationOutputInfo> outputs = a.outputs;
    // Not running, or running on another node that has not published its figures yet: the
    // outputs its configuration names.
    if (a.status != "RUNNING" || outputs.empty()) {
      if (auto d = apps_.describe(a.name)) outputs = configured_outputs(d->config, store_);
    }
    json app = application_figures(a);
    app.update({{"name", a.name}, {"status", a.status}, {"source", a.source}, {"outputs", outputs_json(outputs)}});
    apps.push_back(std::move(app));
  }
  json deliveries = json::array();
  for (const auto& d : figures.deliveries) {
    json row = delivery_figures(d);
    row.update({{"name", d.name}, {"status", d.status}});
    deliveries.push_back(std::move(row));
  }
  json out = {
      {"now_ms", clock_.now_ms()}, {"streams", streams}, {"applications", apps}, {"delivery_streams", deliveries}};
  if (server_info_) out["server"] = server_info_();
  return out;
}

bool Dashboard::handle(const HttpRequest& request, std::string_view path, api::Respond& respond) const {
  const size_t question = request.target.find('?');
  const std::string_view query =
      question == std::string::npos ? std::string_view{} : std::string_view(request.target).substr(question + 1);
  if (path == "/metrics") {
    api::HttpResponse r;
    r.content_type = kMetricsContentType;
    const Figures f = figures();
    r.body = render_metrics(f.streams, apps_.metrics(), f.deliveries);
    if (extra_metrics_) r.body += extra_metrics_();
    respond(std::move(r));
    return true;
  }
  if (const Asset* asset = find_asset(path == "/index.html" ? "/" : path)) {
    api::HttpResponse r;
    r.content_type = std::string(asset->content_type);
    r.body = std::string(asset->body);
    respond(std::move(r));
    return true;
  }
  if (!path.starts_with(kApi)) return false;
  std::string name;
  std::string_view rest;
  if (path == "/dashboard/api/overview") {
    respond(json_response(200, overview()));
  } else if (path == "/dashboard/api/events") {
    respond(events(query));
  } else if (split_name(path, "/dashboard/api/applications/", name, rest) && (rest.empty() || rest == "/rows")) {
    respond(rest.empty() ? application(name) : application_rows(name, query));
  } else if (split_name(path, "/dashboard/api/streams/", name, rest) && rest == "/records") {
    respond(stream_records(name, query));
  } else if (split_name(path, "/dashboard/api/delivery-streams/", name, rest) && rest.empty()) {
    respond(delivery_stream(name));
  } else {
    respond(error(404, "no dashboard endpoint " + std::string(path) + " (see GET /dashboard/api/overview)"));
  }
  return true;
}

api::HttpResponse Dashboard::events(std::string_view query) const {
  auto q = parse_query(query);
  if (!q) return error(400, "the query string has a malformed %-escape");
  // With ?application=: the output's rows that arrived at or after since_ms, then after the newest
  // sent (the boundary millisecond again: the page drops rows it has by shard and offset).
  std::optional<std::string> stream;
  bool delivery = false;
  TimestampMs since = clock_.now_ms();
  if (auto it = q->find("application"); it != q->end()) {
    int status = 0;
    const auto out = q->find("output");
    auto chosen = find_output(it->second, out == q->end() ? nullptr : &out->second, status);
    if (!chosen) return error(status, chosen.error().message);
    size_t limit;
    if (auto bad = read_window(*q, limit, since)) return error(400, *bad);
    if (!q->count("since_ms")) since = clock_.now_ms();
    stream = chosen->target;
    delivery = chosen->delivery;
  }
  api::HttpResponse r;
  r.content_type = "text/event-stream";
  r.events = std::make_shared<api::EventStream>();
  r.events->interval = std::chrono::milliseconds(1000);
  r.events->next = [this, stream, delivery, since]() mutable -> std::optional<std::string> {
    std::string text =
        "event: overview\ndata: " + overview().dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
    if (stream) {
      auto rows = tail(*stream, delivery, since, kMaxLimit);
      if (!rows) return std::nullopt;  // the output stream is gone: end, the page reconnects
      for (const auto& row : *rows) since = std::max<TimestampMs>(since, row["arrival_ms"].get<TimestampMs>());
      text += "event: rows\ndata: " +
              json{{"rows", std::move(*rows)}}.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
    }
    return text;
  };
  return r;
}

Result<host::ApplicationOutputInfo> Dashboard::find_output(const std::string& name, const std::string* output,
                                                           int& status) const {
  auto app = apps_.describe(name);
  status = 404;
  if (!app) return make_error(Errc::kResourceNotFound, "no application named " + name);
  std::vector<host::ApplicationOutputInfo> outputs = configured_outputs(app->config, store_);
  for (const auto& m : apps_.metrics()) {
    if (m.name == name && m.status == "RUNNING" && !m.outputs.empty()) outputs = m.outputs;
  }
  if (outputs.empty()) return make_error(Errc::kResourceNotFound, "application " + name + " has no outputs");
  const host::ApplicationOutputInfo* chosen = &outputs.front();
  if (output) {
    chosen = nullptr;
    for (const auto& o : outputs) {
      if (o.in_app_stream == *output) chosen = &o;
    }
    if (!chosen) return make_error(Errc::kResourceNotFound, "application " + name + " has no output " + *output);
  }
  if (chosen->target.empty()) {
    status = 400;
    return make_error(Errc::kInvalidArgument,
                      "output " + chosen->in_app_stream + " names no stream or delivery stream");
  }
  return *chosen;
}

api::HttpResponse Dashboard::application(const std::string& name) const {
  auto app = apps_.describe(name);
  if (!app) return error(404, "no application named " + name);
  std::vector<host::ApplicationOutputInfo> outputs;
  json metrics = json::object();
  for (const auto& m : apps_.metrics()) {
    if (m.name != name) continue;
    outputs = m.outputs;
    metrics = application_figures(m);
  }
  if (app->status != "RUNNING") outputs = configured_outputs(app->config, store_);
  json errors = json::array();
  for (const auto& line : apps_.recent_errors(name)) errors.push_back(record_value(line));
  return json_response(200, {{"name", name},
                             {"status", app->status},
                             {"version", app->version},
                             {"code", app->config.value("ApplicationCode", "")},
                             {"inputs", app->config.value("Inputs", json::array())},
                             {"outputs", outputs_json(outputs)},
                             {"metrics", metrics},
                             {"errors", errors}});
}

api::HttpResponse Dashboard::application_rows(const std::string& name, std::string_view query) const {
  auto q = parse_query(query);
  if (!q) return error(400, "the query string has a malformed %-escape");
  int status = 0;
  const auto out = q->find("output");
  auto chosen = find_output(name, out == q->end() ? nullptr : &out->second, status);
  if (!chosen) return error(status, chosen.error().message);
  size_t limit;
  TimestampMs since;
  if (auto bad = read_window(*q, limit, since)) return error(400, *bad);
  auto rows = tail(chosen->target, chosen->delivery, since, limit);
  if (!rows) return error(404, rows.error().message);
  return json_response(200, {{"application", name},
                             {"output", chosen->in_app_stream},
                             {"stream", chosen->target},
                             {"rows", std::move(*rows)}});
}

api::HttpResponse Dashboard::stream_records(const std::string& name, std::string_view query) const {
  auto q = parse_query(query);
  if (!q) return error(400, "the query string has a malformed %-escape");
  size_t limit;
  TimestampMs since;
  if (auto bad = read_window(*q, limit, since)) return error(400, *bad);
  auto rows = tail(name, false, since, limit);
  if (!rows) return error(404, rows.error().message);
  return json_response(200, {{"stream", name}, {"records", std::move(*rows)}});
}

api::HttpResponse Dashboard::delivery_stream(const std::string& name) const {
  auto d = deliveries_.describe(name);
  if (!d) return error(404, "no delivery stream named " + name);
  json figures = json::object();
  std::vector<delivery::DeliveryMetrics> all = deliveries_.metrics();
  if (cluster_figures_) {
    std::vector<stream::StreamMetrics> no_streams;
    cluster_figures_->merge(no_streams, all);
  }
  for (const auto& m : all) {
    if (m.name != name) continue;
    figures = delivery_figures(m);
  }
  json config = d->config;
  for (const char* dest : {"HttpEndpointDestinationConfiguration", "HttpEndpointDestinationUpdate"}) {
    if (config.contains(dest) && config[dest].contains("EndpointConfiguration"))
      config[dest]["EndpointConfiguration"].erase("AccessKey");  // a secret: never shown, as DescribeDeliveryStream
  }
  return json_response(200, {{"name", name}, {"status", d->status}, {"config", config}, {"metrics", figures}});
}

Result<json> Dashboard::tail(const std::string& stream_name, bool delivery, TimestampMs since_ms, size_t limit) const {
  if (delivery) {
    auto records = deliveries_.tail(stream_name, since_ms, limit);
    if (!records) return tl::unexpected(records.error());
    size_t first = records->size(), bytes = 0;
    while (first > 0 && (bytes += (*records)[first - 1].data.size()) <= kMaxTailBytes) --first;
    if (first == records->size() && first > 0) --first;  // the newest record, whatever its size
    json out = json::array();
    for (size_t i = first; i < records->size(); ++i) {
      const auto& r = (*records)[i];
      out.push_back({{"arrival_ms", r.arrival_ms}, {"shard", 0}, {"offset", r.offset}, {"data", record_value(r.data)}});
    }
    return out;
  }
  auto shards = store_.shards(stream_name);
  if (!shards) return tl::unexpected(shards.error());
  struct Item {
    TimestampMs arrival;
    uint32_t shard;
    uint64_t offset;
    std::string data;
    std::optional<uint32_t> subsequence;  // a user record of a KPL aggregate
  };
  std::vector<Item> items;
  for (const auto& s : *shards) {
    auto end = store_.shard_position(stream_name, s.index, stream::IteratorType::kLatest);
    auto from = since_ms > 0 ? store_.shard_position_at(stream_name, s.index, since_ms)
                             : store_.shard_position(stream_name, s.index, stream::IteratorType::kTrimHorizon);
    if (!end || !from) continue;
    // Only the newest `limit` records of each shard, and no more than kMaxTailBytes of them, can
    // be in the answer: chunks are read from the newest back, so large records cost no more.
    size_t count = 0, bytes = 0;
    for (uint64_t hi = *end; hi > *from && count < limit && bytes < kMaxTailBytes;) {
      const uint64_t lo = std::max<uint64_t>(*from, hi > kReadChunk ? hi - kReadChunk : 0);
      std::vector<Item> chunk;
      for (uint64_t at = lo; at < hi;) {
        auto read = store_.read_shard(stream_name, s.index, at, static_cast<size_t>(hi - at));
        if (!read || read->read.records.empty()) break;
        for (const auto& r : read->read.records) {
          if (r.offset >= hi) continue;
          // A KPL aggregate shows as its user records (a corrupt one as it is).
          auto users = stream::kpl::is_aggregated(r.data) ? stream::kpl::deaggregate(r.data)
                                                          : Result<std::vector<stream::kpl::UserRecord>>();
          if (!users || users->empty()) {
            chunk.push_back({r.arrival_ms, s.index, r.offset, std::string(r.data), std::nullopt});
            continue;
          }
          for (uint32_t i = 0; i < users->size(); ++i) {
            chunk.push_back({r.arrival_ms, s.index, r.offset, std::string((*users)[i].data), i});
          }
        }
        if (read->next <= at) break;
        at = read->next;
      }
      for (auto it = chunk.rbegin(); it != chunk.rend() && count < limit && bytes < kMaxTailBytes; ++it, ++count) {
        bytes += it->data.size();
        items.push_back(std::move(*it));
      }
      hi = lo;
    }
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return std::tie(a.arrival, a.shard, a.offset, a.subsequence) <
           std::tie(b.arrival, b.shard, b.offset, b.subsequence);
  });
  size_t skip = items.size() > limit ? items.size() - limit : 0;
  // The newest records that fit kMaxTailBytes over all shards.
  size_t bytes = 0;
  for (size_t i = items.size(); i > skip; --i) {
    bytes += items[i - 1].data.size();
    if (bytes > kMaxTailBytes && i < items.size()) {
      skip = i;
      break;
    }
  }
  json out = json::array();
  for (size_t i = skip; i < items.size(); ++i) {
    json row = {{"arrival_ms", items[i].arrival},
                {"shard", items[i].shard},
                {"offset", items[i].offset},
                {"data", record_value(items[i].data)}};
    if (items[i].subsequence) row["subsequence"] = *items[i].subsequence;
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace eddy::web
