#include "web/metrics_text.h"
#include "web/query.h"

#include <gtest/gtest.h>

namespace eddy::web {
namespace {

TEST(MetricsText, CloudWatchNamesWithLabelsAndTypes) {
  stream::StreamMetrics s;
  s.name = "sales";
  s.incoming_records = 1170;
  s.incoming_bytes = 98765;
  s.iterator_age_ms = 250;
  s.open_shards = 2;
  host::ApplicationMetrics a;
  a.name = "revenue";
  a.status = "RUNNING";
  a.input_records = 1170;
  a.output_rows = 5;
  a.error_rows = 1;
  delivery::DeliveryMetrics d;
  d.name = "to-bucket";
  d.delivered_records = 5;
  d.objects = 1;
  d.last_delivery_ms = 1763793600123;
  const std::string text = render_metrics({s}, {a}, {d});
  EXPECT_NE(text.find("# TYPE eddy_kinesis_incoming_records_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("eddy_kinesis_incoming_records_total{stream=\"sales\"} 1170\n"), std::string::npos);
  EXPECT_NE(text.find("eddy_kinesis_incoming_bytes_total{stream=\"sales\"} 98765\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE eddy_kinesis_get_records_iterator_age_seconds gauge\n"), std::string::npos);
  EXPECT_NE(text.find("eddy_kinesis_get_records_iterator_age_seconds{stream=\"sales\"} 0.25\n"), std::string::npos);
  EXPECT_NE(text.find("eddy_kinesis_open_shards{stream=\"sales\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("eddy_kinesisanalytics_running{application=\"revenue\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("eddy_kinesisanalytics_error_rows_total{application=\"revenue\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("eddy_firehose_delivery_records_total{delivery_stream=\"to-bucket\"} 5\n"), std::string::npos);
  EXPECT_NE(text.find("eddy_firehose_last_delivery_timestamp_seconds{delivery_stream=\"to-bucket\"} 1763793600.123\n"),
            std::string::npos);
  // No watermark yet: no sample, rather than a made-up figure; with one, the lag.
  EXPECT_EQ(text.find("eddy_kinesisanalytics_watermark_lag_seconds{"), std::string::npos);
  a.watermark_ms = 1763793600000;
  a.watermark_lag_ms = 1500;
  d.buffered_bytes = 4096;
  const std::string more = render_metrics({s}, {a}, {d});
  EXPECT_NE(more.find("eddy_kinesisanalytics_watermark_lag_seconds{application=\"revenue\"} 1.5\n"), std::string::npos);
  EXPECT_NE(more.find("eddy_firehose_buffered_bytes{delivery_stream=\"to-bucket\"} 4096\n"), std::string::npos);
  // Every line is a comment or `name{labels} value`.
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    ASSERT_NE(end, std::string::npos);
    const std::string line = text.substr(start, end - start);
    EXPECT_TRUE(line.starts_with("# HELP ") || line.starts_with("# TYPE ") ||
                (line.starts_with("eddy_") && line.find("} ") != std::string::npos))
        << line;
    start = end + 1;
  }
}

// Shard-level series appear for the metrics EnableEnhancedMonitoring turned on, and only those.
TEST(MetricsText, ShardLevelMetricsOnlyWhereEnabled) {
  stream::StreamMetrics on;
  on.name = "sa\"les";
  on.shard_level_metrics = {"IncomingRecords", "IteratorAgeMilliseconds"};
  on.shards = {{.index = 0, .incoming_records = 7, .incoming_bytes = 70, .iterator_age_ms = 12},
               {.index = 3, .incoming_records = 2}};
  stream::StreamMetrics off;
  off.name = "quiet";
  const std::string text = render_metrics({on, off}, {}, {});
  EXPECT_NE(text.find("# TYPE eddy_kinesis_shard_incoming_records_total counter\n"), std::string::npos);
  EXPECT_NE(
      text.find("eddy_kinesis_shard_incoming_records_total{stream=\"sa\\\"les\",shard=\"shardId-000000000000\"} 7\n"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find("eddy_kinesis_shard_incoming_records_total{stream=\"sa\\\"les\",shard=\"shardId-000000000003\"} 2\n"),
      std::string::npos);
  EXPECT_NE(
      text.find("eddy_kinesis_shard_iterator_age_seconds{stream=\"sa\\\"les\",shard=\"shardId-000000000000\"} 0.012\n"),
      std::string::npos);
  EXPECT_EQ(text.find("eddy_kinesis_shard_incoming_bytes_total{"), std::string::npos) << "IncomingBytes is off";
  EXPECT_EQ(text.find("stream=\"quiet\",shard="), std::string::npos);
}

TEST(MetricsText, LabelValuesAreEscaped) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

TEST(Query, DecodesPairsAndRejectsBadEscapes) {
  auto q = parse_query("limit=5&output=DEST%5FSQL&x=a+b&&flag");
  ASSERT_TRUE(q);
  EXPECT_EQ((*q)["limit"], "5");
  EXPECT_EQ((*q)["output"], "DEST_SQL");
  EXPECT_EQ((*q)["x"], "a b");
  EXPECT_EQ((*q)["flag"], "");
  EXPECT_FALSE(parse_query("a=%zz"));
  EXPECT_FALSE(parse_query("a=%4"));
  EXPECT_EQ(percent_decode("store%201"), "store 1");
}

}  // namespace
}  // namespace eddy::web
