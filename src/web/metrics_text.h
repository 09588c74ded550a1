// /metrics: eddy's figures in the Prometheus text exposition format (version 0.0.4), named after
// their CloudWatch counterparts in Prometheus' base units: Kinesis IncomingRecords ->
// eddy_kinesis_incoming_records_total, GetRecords.IteratorAgeMilliseconds ->
// eddy_kinesis_get_records_iterator_age_seconds, and so on (the table is in
// docs/dashboard-and-metrics.md). Counters count since the server started.
#pragma once

#include <string>
#include <vector>

#include "delivery/delivery_metrics.h"
#include "host/application_metrics.h"
#include "stream/stream_metrics.h"

namespace eddy::web {

std::string render_metrics(const std::vector<stream::StreamMetrics>& streams,
                           const std::vector<host::ApplicationMetrics>& applications,
                           const std::vector<delivery::DeliveryMetrics>& deliveries);

// A label value with \, " and newlines escaped as the format requires.
std::string escape_label_value(std::string_view v);

inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace eddy::web
