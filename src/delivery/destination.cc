// Reading a stored request's destination settings into a Destination, with Firehose's checks and
// eddy's own limits (what it does not support says so instead of being ignored).
#include "delivery/destination.h"

#include <algorithm>
#include <exception>

#include "delivery/bucket_sink.h"

namespace eddy::delivery {

using nlohmann::json;

namespace {

tl::unexpected<Error> invalid(const std::string& m) {
  return make_error(Errc::kInvalidArgument, m);
}

// An ExtendedS3 configuration (or an HTTP endpoint's backup bucket, shaped like one).
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

}  // namespace

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

}  // namespace eddy::delivery
