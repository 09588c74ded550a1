#include "web/metrics_text.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>

namespace eddy::web {
namespace {

void family_header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

// One metric family: HELP and TYPE once, then a sample per labelled object.
template <typename T>
void family(std::string& out, const char* name, const char* type, const char* help, const std::vector<T>& items,
            const char* label, const std::function<std::string(const T&)>& key,
            const std::function<double(const T&)>& value) {
  family_header(out, name, type, help);
  for (const auto& item : items) {
    const double v = value(item);
    if (std::isnan(v)) continue;  // no figure yet (e.g. no watermark before the first record)
    out += name;
    out += '{';
    out += label;
    out += "=\"";
    out += escape_label_value(key(item));
    out += "\"} ";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.15g", v);
    out += buf;
    out += '\n';
  }
}

// One shard-level family (EnableEnhancedMonitoring's `metric`): a sample per open shard of each
// stream that has the metric enabled, labelled by stream and shard.
void shard_family(std::string& out, const char* name, const char* type, const char* help, const char* metric,
                  const std::vector<stream::StreamMetrics>& streams,
                  const std::function<double(const stream::ShardFigures&)>& value) {
  family_header(out, name, type, help);
  for (const auto& s : streams) {
    if (std::find(s.shard_level_metrics.begin(), s.shard_level_metrics.end(), metric) == s.shard_level_metrics.end())
      continue;
    for (const auto& shard : s.shards) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "\",shard=\"shardId-%012u\"} %.15g\n", shard.index, value(shard));
      out += name;
      out += "{stream=\"";
      out += escape_label_value(s.name);
      out += buf;
    }
  }
}

}  // namespace

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string render_metrics(const std::vector<stream::StreamMetrics>& streams,
                           const std::vector<host::ApplicationMetrics>& applications,
                           const std::vector<delivery::DeliveryMetrics>& deliveries) {
  using S = stream::StreamMetrics;
  using A = host::ApplicationMetrics;
  using D = delivery::DeliveryMetrics;
  std::string out;
  const std::function<std::string(const S&)> sname = [](const S& s) { return s.name; };
  const std::function<std::string(const A&)> aname = [](const A& a) { return a.name; };
  const std::function<std::string(const D&)> dname = [](const D& d) { return d.name; };
  auto num = [](auto field) { return [field](const auto& x) { return static_cast<double>(x.*field); }; };
  // Prometheus' base unit of time is the second; eddy keeps milliseconds, as CloudWatch names them.
  auto seconds = [](auto field) { return [field](const auto& x) { return static_cast<double>(x.*field) / 1000.0; }; };

  family<S>(out, "eddy_kinesis_incoming_records_total", "counter",
            "Records accepted by PutRecord/PutRecords (CloudWatch IncomingRecords).", streams, "stream", sname,
            num(&S::incoming_records));
  family<S>(out, "eddy_kinesis_incoming_bytes_total", "counter",
            "Data bytes accepted by PutRecord/PutRecords (CloudWatch IncomingBytes).", streams, "stream", sname,
            num(&S::incoming_bytes));
  family<S>(out, "eddy_kinesis_put_records_failed_records_total", "counter",
            "PutRecords entries refused (CloudWatch PutRecords.FailedRecords and .ThrottledRecords).", streams,
            "stream", sname, num(&S::put_failed_records));
  family<S>(out, "eddy_kinesis_get_records_success_total", "counter",
            "Successful GetRecords calls (CloudWatch GetRecords.Success).", streams, "stream", sname,
            num(&S::get_records_calls));
  family<S>(out, "eddy_kinesis_get_records_records_total", "counter",
            "Records returned by GetRecords (CloudWatch GetRecords.Records).", streams, "stream", sname,
            num(&S::outgoing_records));
  family<S>(out, "eddy_kinesis_get_records_bytes_total", "counter",
            "Data bytes returned by GetRecords (CloudWatch GetRecords.Bytes).", streams, "stream", sname,
            num(&S::outgoing_bytes));
  family<S>(out, "eddy_kinesis_get_records_iterator_age_seconds", "gauge",
            "Age of the last record of the latest GetRecords call, 0 if it returned none "
            "(CloudWatch GetRecords.IteratorAgeMilliseconds, in seconds).",
            streams, "stream", sname, seconds(&S::iterator_age_ms));
  family<S>(out, "eddy_kinesis_behind_latest_seconds", "gauge",
            "MillisBehindLatest of the latest GetRecords call, in seconds.", streams, "stream", sname,
            seconds(&S::millis_behind_latest));
  family<S>(out, "eddy_kinesis_open_shards", "gauge", "Open shards (CloudWatch OpenShardCount).", streams, "stream",
            sname, num(&S::open_shards));

  using F = stream::ShardFigures;
  auto shard_num = [](auto field) { return [field](const F& f) { return static_cast<double>(f.*field); }; };
  shard_family(out, "eddy_kinesis_shard_incoming_records_total", "counter",
               "Records put to the shard (shard-level IncomingRecords, with enhanced monitoring).", "IncomingRecords",
               streams, shard_num(&F::incoming_records));
  shard_family(out, "eddy_kinesis_shard_incoming_bytes_total", "counter",
               "Data bytes put to the shard (shard-level IncomingBytes, with enhanced monitoring).", "IncomingBytes",
               streams, shard_num(&F::incoming_bytes));
  shard_family(out, "eddy_kinesis_shard_outgoing_records_total", "counter",
               "Records read from the shard by GetRecords (shard-level OutgoingRecords, with enhanced monitoring).",
               "OutgoingRecords", streams, shard_num(&F::outgoing_records));
  shard_family(out, "eddy_kinesis_shard_outgoing_bytes_total", "counter",
               "Data bytes read from the shard by GetRecords (shard-level OutgoingBytes, with enhanced monitoring).",
               "OutgoingBytes", streams, shard_num(&F::outgoing_bytes));
  shard_family(out, "eddy_kinesis_shard_write_provisioned_throughput_exceeded_total", "counter",
               "Records refused by the shard's write limits (WriteProvisionedThroughputExceeded).",
               "WriteProvisionedThroughputExceeded", streams, shard_num(&F::write_throttled));
  shard_family(out, "eddy_kinesis_shard_read_provisioned_throughput_exceeded_total", "counter",
               "GetRecords calls refused by the shard's read limits (ReadProvisionedThroughputExceeded).",
               "ReadProvisionedThroughputExceeded", streams, shard_num(&F::read_throttled));
  shard_family(out, "eddy_kinesis_shard_iterator_age_seconds", "gauge",
               "Age of the last record of the shard's latest GetRecords call (shard-level IteratorAgeMilliseconds, "
               "in seconds).",
               "IteratorAgeMilliseconds", streams,
               [](const F& f) { return static_cast<double>(f.iterator_age_ms) / 1000.0; });

  family<A>(out, "eddy_kinesisanalytics_running", "gauge", "1 if the application is RUNNING.", applications,
            "application", aname, [](const A& a) { return a.status == "RUNNING" ? 1.0 : 0.0; });
  family<A>(out, "eddy_kinesisanalytics_failing", "gauge",
            "1 while the application cannot make progress: an output it cannot write durably or a checkpoint it "
            "cannot save (it retries; the reason is in DescribeApplication's EddyFault and on the dashboard).",
            applications, "application", aname, [](const A& a) { return a.fault ? 1.0 : 0.0; });
  family<A>(out, "eddy_kinesisanalytics_input_records_total", "counter",
            "Source records read by the application since it started (KDA InputRecords).", applications, "application",
            aname, num(&A::input_records));
  family<A>(out, "eddy_kinesisanalytics_output_records_total", "counter",
            "Rows written to the application's outputs since it started (KDA OutputRecords).", applications,
            "application", aname, num(&A::output_rows));
  family<A>(out, "eddy_kinesisanalytics_error_rows_total", "counter",
            "Rows of the application's error_stream since it started.", applications, "application", aname,
            num(&A::error_rows));
  family<A>(out, "eddy_kinesisanalytics_preprocessing_invocations_total", "counter",
            "Invocations of the input's Lambda preprocessor (KDA InputProcessing.Duration's count).", applications,
            "application", aname, num(&A::preprocess_invocations));
  family<A>(out, "eddy_kinesisanalytics_preprocessing_failed_invocations_total", "counter",
            "Preprocessor invocations that failed (their records are retried).", applications, "application", aname,
            num(&A::preprocess_failed_invocations));
  family<A>(out, "eddy_kinesisanalytics_preprocessing_ok_records_total", "counter",
            "Records the preprocessor answered Ok (KDA InputProcessing.OkRecords).", applications, "application", aname,
            num(&A::preprocess_ok));
  family<A>(out, "eddy_kinesisanalytics_preprocessing_dropped_records_total", "counter",
            "Records the preprocessor answered Dropped (KDA InputProcessing.DroppedRecords).", applications,
            "application", aname, num(&A::preprocess_dropped));
  family<A>(out, "eddy_kinesisanalytics_preprocessing_failed_records_total", "counter",
            "Records the preprocessor answered ProcessingFailed (KDA InputProcessing.ProcessingFailedRecords).",
            applications, "application", aname, num(&A::preprocess_failed));
  family<A>(out, "eddy_kinesisanalytics_reference_rows", "gauge",
            "Rows of the application's reference tables as its last launch loaded them.", applications, "application",
            aname, num(&A::reference_rows));
  family<A>(out, "eddy_kinesisanalytics_behind_latest_seconds", "gauge",
            "How far the application's reading is behind its source, 0 when caught up (KDA MillisBehindLatest, in "
            "seconds).",
            applications, "application", aname, seconds(&A::millis_behind_latest));
  family<A>(out, "eddy_kinesisanalytics_last_checkpoint_timestamp_seconds", "gauge",
            "Unix time of the application's latest checkpoint since it started, 0 if none.", applications,
            "application", aname, [](const A& a) { return static_cast<double>(a.last_checkpoint_ms) / 1000.0; });

  family<A>(out, "eddy_kinesisanalytics_watermark_lag_seconds", "gauge",
            "The wall clock minus the application's watermark: how far behind its windows are complete "
            "(its event-time watermark, or the ROWTIME reached). Absent before its first record.",
            applications, "application", aname, [](const A& a) {
              return a.watermark_lag_ms ? static_cast<double>(*a.watermark_lag_ms) / 1000.0 : std::nan("");
            });
  family<D>(out, "eddy_firehose_incoming_records_total", "counter",
            "Records put to a direct-put delivery stream since it was created (Firehose IncomingRecords).", deliveries,
            "delivery_stream", dname, num(&D::incoming_records));
  family<D>(out, "eddy_firehose_delivery_records_total", "counter",
            "Records delivered since the delivery stream was created (Firehose DeliveryToS3.Records).", deliveries,
            "delivery_stream", dname, num(&D::delivered_records));
  family<D>(out, "eddy_firehose_delivery_success_total", "counter",
            "Objects (or requests) delivered successfully (Firehose DeliveryToS3.Success).", deliveries,
            "delivery_stream", dname, num(&D::objects));
  family<D>(out, "eddy_firehose_failed_records_total", "counter",
            "Records written to the error prefix instead (failed transform, endpoint or stream delivery).", deliveries,
            "delivery_stream", dname, num(&D::failed_records));
  family<D>(out, "eddy_firehose_backlog_records", "gauge", "Records accepted but not yet delivered (buffered).",
            deliveries, "delivery_stream", dname, num(&D::backlog_records));
  family<D>(out, "eddy_firehose_buffered_bytes", "gauge",
            "Bytes held in memory for the next object, waiting for the buffering hints (size or interval).", deliveries,
            "delivery_stream", dname, num(&D::buffered_bytes));
  family<D>(out, "eddy_firehose_last_delivery_timestamp_seconds", "gauge",
            "Unix time of the latest delivery, 0 if none yet.", deliveries, "delivery_stream", dname,
            [](const D& d) { return static_cast<double>(d.last_delivery_ms) / 1000.0; });
  return out;
}

}  // namespace eddy::web
