#include "pipeline/pipeline_file.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <string_view>

#include "pipeline/yaml_util.h"

namespace eddy::pipeline {
namespace {

using nlohmann::json;

class Reader {
 public:
  Reader(const YamlFile& y, std::filesystem::path base) : y_(y), base_(std::move(base)) {}

  DesiredState read() {
    const YAML::Node& root = y_.root();
    if (!root.IsDefined() || root.IsNull())
      y_.fail(root, "the pipeline file is empty; declare streams, applications or delivery_streams");
    y_.check_map(root, "the pipeline file", {"name", "description", "streams", "applications", "delivery_streams"});
    DesiredState s;
    if (root["name"]) {
      s.pipeline_name = y_.string(root["name"], "name");
      // The name becomes the value of the eddy:pipeline tag on what the file creates: it takes
      // the characters a Kinesis tag value takes (ASCII here).
      const bool valid =
          s.pipeline_name.size() <= 256 && std::all_of(s.pipeline_name.begin(), s.pipeline_name.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) ||
                   std::string_view(" _.:/=+-@").find(c) != std::string_view::npos;
          });
      if (!valid)
        y_.fail(root["name"],
                "name: use at most 256 letters, digits, spaces and _ . : / = + - @ (it becomes a tag value)");
    }
    for_each(root["streams"], "streams",
             [&](const std::string& name, const YAML::Node& n) { s.streams.push_back(stream(name, n)); });
    for_each(root["delivery_streams"], "delivery_streams",
             [&](const std::string& name, const YAML::Node& n) { s.deliveries.push_back(delivery(name, n)); });
    for_each(root["applications"], "applications",
             [&](const std::string& name, const YAML::Node& n) { s.applications.push_back(application(name, n)); });
    return s;
  }

 private:
  template <class F>
  void for_each(const YAML::Node& section, const char* what, F f) {
    if (!section.IsDefined() || section.IsNull()) return;
    if (!section.IsMap()) y_.fail(section, std::string(what) + " must be a mapping of names to settings");
    for (auto it = section.begin(); it != section.end(); ++it) {
      const std::string name = y_.string(it->first, std::string(what) + " name");
      if (name.empty()) y_.fail(it->first, std::string(what) + ": a name must not be empty");
      YAML::Node body = it->second;
      if (body.IsNull()) body = YAML::Node(YAML::NodeType::Map);
      f(name, body.IsMap() ? body : it->second);
    }
  }

  StreamSpec stream(const std::string& name, const YAML::Node& n) {
    const std::string what = "stream '" + name + "'";
    StreamSpec s;
    s.name = name;
    s.where = y_.at(n);
    if (n.IsNull() || (n.IsMap() && n.size() == 0)) return s;
    y_.check_map(n, what, {"shards", "on_demand", "retention_hours"});
    if (n["shards"]) s.shards = y_.integer(n["shards"], what + ": shards", 1, 500);
    if (n["on_demand"]) s.on_demand = y_.boolean(n["on_demand"], what + ": on_demand");
    if (s.on_demand && n["shards"])
      y_.fail(n["shards"], what + ": an on_demand stream has no shard count; remove 'shards' or 'on_demand'");
    if (s.on_demand) s.shards = 4;
    if (n["retention_hours"])
      s.retention_hours = y_.integer(n["retention_hours"], what + ": retention_hours", 24, 8760);
    return s;
  }

  json schema(const YAML::Node& n, const std::string& what) {
    y_.check_map(n, what, {"format", "row_path", "encoding", "record_delimiter", "column_delimiter", "columns"});
    const std::string format = n["format"] ? y_.string(n["format"], what + ": format") : "JSON";
    if (format != "JSON" && format != "CSV") y_.fail(n["format"], what + ": format must be JSON or CSV");
    json s;
    if (format == "JSON") {
      const std::string row_path = n["row_path"] ? y_.string(n["row_path"], what + ": row_path") : "$";
      s["RecordFormat"] = {{"RecordFormatType", "JSON"},
                           {"MappingParameters", {{"JSONMappingParameters", {{"RecordRowPath", row_path}}}}}};
    } else {
      if (n["row_path"]) y_.fail(n["row_path"], what + ": row_path applies to JSON records only");
      s["RecordFormat"] = {
          {"RecordFormatType", "CSV"},
          {"MappingParameters",
           {{"CSVMappingParameters",
             {{"RecordRowDelimiter", n["record_delimiter"] ? y_.string(n["record_delimiter"], what) : "\n"},
              {"RecordColumnDelimiter", n["column_delimiter"] ? y_.string(n["column_delimiter"], what) : ","}}}}}};
    }
    s["RecordEncoding"] = n["encoding"] ? y_.string(n["encoding"], what + ": encoding") : "UTF-8";
    const YAML::Node cols = y_.required(n, "columns", what);
    if (!cols.IsSequence() || cols.size() == 0)
      y_.fail(cols, what + ": columns must be a list of {name, type[, mapping]}");
    json columns = json::array();
    for (const auto& c : cols) {
      const std::string cw = what + ": column";
      y_.check_map(c, cw, {"name", "type", "mapping"});
      json col = {{"Name", y_.string(y_.required(c, "name", cw), cw + " name")},
                  {"SqlType", y_.string(y_.required(c, "type", cw), cw + " type")}};
      if (c["mapping"]) {
        col["Mapping"] = y_.string(c["mapping"], cw + " mapping");
      } else if (format == "JSON") {
        col["Mapping"] = "$." + col["Name"].get<std::string>();
      }
      columns.push_back(std::move(col));
    }
    s["RecordColumns"] = columns;
    return s;
  }

  ApplicationSpec application(const std::string& name, const YAML::Node& n) {
    const std::string what = "application '" + name + "'";
    ApplicationSpec a;
    a.name = name;
    a.where = y_.at(n);
    y_.check_map(n, what,
                 {"description", "sql", "sql_file", "input", "outputs", "start_from", "job", "property_groups",
                  "parallelism", "reference_data"});
    if (n["description"]) a.description = y_.string(n["description"], what + ": description");
    if (n["parallelism"]) a.parallelism = y_.integer(n["parallelism"], what + ": parallelism", 1, 64);
    if (n["property_groups"] && !n["job"])
      y_.fail(n["property_groups"], what + ": property_groups belong to a C++ job ('job:')");
    if (n["job"]) {
      for (const char* k : {"sql", "sql_file", "input", "outputs", "start_from"}) {
        if (n[k]) y_.fail(n[k], what + ": a C++ job ('job:') names its streams itself; remove '" + k + "'");
      }
      const std::string rel = y_.string(n["job"], what + ": job");
      const std::filesystem::path p =
          std::filesystem::path(rel).is_absolute() ? std::filesystem::path(rel) : base_ / rel;
      json groups = json::array();
      if (auto g = n["property_groups"]) {
        if (!g.IsMap()) y_.fail(g, what + ": property_groups is a mapping of group names to {key: value}");
        for (auto it = g.begin(); it != g.end(); ++it) {
          const std::string group = y_.string(it->first, what + ": property group name");
          if (!it->second.IsMap())
            y_.fail(it->second, what + ": property group " + group + " is a mapping of keys to values");
          json map = json::object();
          for (auto kv = it->second.begin(); kv != it->second.end(); ++kv) {
            map[kv->first.Scalar()] = y_.string(kv->second, what + ": property " + kv->first.Scalar());
          }
          groups.push_back({{"PropertyGroupId", group}, {"PropertyMap", map}});
        }
      }
      auto job = make_job(p.string(), std::move(groups));
      if (!job) y_.fail(n["job"], what + ": " + job.error() + " (build it first; the path is relative to this file)");
      a.job = std::move(*job);
      a.code_where = y_.at(n["job"]);
      return a;
    }
    if (n["sql"] && n["sql_file"]) y_.fail(n["sql_file"], what + ": give either 'sql' or 'sql_file', not both");
    if (n["sql"]) {
      a.code = y_.string(n["sql"], what + ": sql");
      a.code_where = y_.content_start(n["sql"]);
    } else if (n["sql_file"]) {
      const std::string rel = y_.string(n["sql_file"], what + ": sql_file");
      const std::filesystem::path p =
          std::filesystem::path(rel).is_absolute() ? std::filesystem::path(rel) : base_ / rel;
      std::ifstream in(p);
      if (!in) y_.fail(n["sql_file"], what + ": cannot read sql_file " + p.string());
      std::stringstream ss;
      ss << in.rdbuf();
      a.code = ss.str();
      a.code_where = {p.string(), 1, 1};
    } else {
      y_.fail(n, what + " needs its code: 'sql' (inline) or 'sql_file' (a path relative to this file)");
    }
    if (n["start_from"]) {
      a.starting_position = y_.string(n["start_from"], what + ": start_from");
      if (a.starting_position != "NOW" && a.starting_position != "TRIM_HORIZON") {
        y_.fail(n["start_from"], what + ": start_from must be NOW or TRIM_HORIZON");
      }
    }
    if (auto in = n["input"]; in.IsDefined() && !in.IsNull()) {
      const std::string iw = what + ": input";
      y_.check_map(in, iw, {"stream", "name_prefix", "parallelism", "schema", "preprocessor"});
      InputSpec i;
      i.stream = y_.string(y_.required(in, "stream", iw), iw + " stream");
      if (auto pre = in["preprocessor"]; pre.IsDefined() && !pre.IsNull()) {
        y_.check_map(pre, iw + " preprocessor", {"lambda"});
        i.preprocessor = y_.string(y_.required(pre, "lambda", iw + " preprocessor"), iw + " preprocessor lambda");
      }
      if (in["name_prefix"]) i.name_prefix = y_.string(in["name_prefix"], iw + " name_prefix");
      if (in["parallelism"]) i.parallelism = y_.integer(in["parallelism"], iw + " parallelism", 1, 64);
      i.schema = schema(y_.required(in, "schema", iw), iw + " schema");
      a.input = std::move(i);
    }
    // reference_data: {TABLE: {bucket, key, schema}}: a table loaded from an object.
    if (auto refs = n["reference_data"]; refs.IsDefined() && !refs.IsNull()) {
      if (!refs.IsMap()) y_.fail(refs, what + ": reference_data maps a table name to {bucket, key, schema}");
      for (const auto& kv : refs) {
        const std::string table = y_.string(kv.first, what + ": reference_data table name");
        const std::string rw = what + ": reference_data " + table;
        y_.check_map(kv.second, rw, {"bucket", "key", "schema"});
        ReferenceSpec r;
        r.where = y_.at(kv.second);
        r.table = table;
        r.bucket = y_.string(y_.required(kv.second, "bucket", rw), rw + " bucket");
        r.key = y_.string(y_.required(kv.second, "key", rw), rw + " key");
        r.schema = schema(y_.required(kv.second, "schema", rw), rw + " schema");
        a.references.push_back(std::move(r));
      }
      if (a.references.size() > 1) y_.fail(refs, what + ": an application has at most one reference_data table");
    }
    if (auto outs = n["outputs"]; outs.IsDefined() && !outs.IsNull()) {
      if (!outs.IsSequence())
        y_.fail(outs, what + ": outputs must be a list of {name, stream | delivery_stream[, format]}");
      for (const auto& o : outs) {
        const std::string ow = what + ": output";
        y_.check_map(o, ow, {"name", "stream", "delivery_stream", "format"});
        OutputSpec out;
        out.where = y_.at(o);
        out.name = y_.string(y_.required(o, "name", ow), ow + " name");
        if (o["stream"]) out.stream = y_.string(o["stream"], ow + " stream");
        if (o["delivery_stream"]) out.delivery_stream = y_.string(o["delivery_stream"], ow + " delivery_stream");
        if (out.stream.empty() == out.delivery_stream.empty()) {
          y_.fail(o, ow + " '" + out.name + "' needs exactly one destination: 'stream' or 'delivery_stream'");
        }
        if (o["format"]) out.format = y_.string(o["format"], ow + " format");
        if (out.format != "JSON" && out.format != "CSV") y_.fail(o["format"], ow + " format must be JSON or CSV");
        a.outputs.push_back(std::move(out));
      }
    }
    return a;
  }

  json processors(const YAML::Node& n, const std::string& what) {
    if (!n.IsSequence())
      y_.fail(n, what + " must be a list: append_newline, or {lambda: ARN | python:FILE | exec:COMMAND}");
    json list = json::array();
    for (const auto& p : n) {
      if (p.IsScalar() && p.Scalar() == "append_newline") {
        list.push_back({{"Type", "AppendDelimiterToRecord"}});
        continue;
      }
      if (p.IsMap() && p["lambda"]) {
        y_.check_map(p, what + ": processor", {"lambda", "buffer_size_mb", "retries"});
        json params = json::array(
            {{{"ParameterName", "LambdaArn"}, {"ParameterValue", y_.string(p["lambda"], what + ": lambda")}}});
        if (p["buffer_size_mb"])
          params.push_back(
              {{"ParameterName", "BufferSizeInMBs"}, {"ParameterValue", y_.string(p["buffer_size_mb"], what)}});
        if (p["retries"])
          params.push_back({{"ParameterName", "NumberOfRetries"}, {"ParameterValue", y_.string(p["retries"], what)}});
        list.push_back({{"Type", "Lambda"}, {"Parameters", params}});
        continue;
      }
      y_.fail(p, what + ": a processor is append_newline or {lambda: ARN | python:FILE | exec:COMMAND}");
    }
    return {{"Enabled", true}, {"Processors", list}};
  }

  DeliverySpec delivery(const std::string& name, const YAML::Node& n) {
    const std::string what = "delivery stream '" + name + "'";
    DeliverySpec d;
    d.name = name;
    d.where = y_.at(n);
    y_.check_map(n, what, {"source", "destination"});
    if (auto src = n["source"]; src.IsDefined() && !src.IsNull()) {
      y_.check_map(src, what + ": source", {"stream"});
      d.source_stream = y_.string(y_.required(src, "stream", what + ": source"), what + ": source stream");
    }
    const YAML::Node dest = y_.required(n, "destination", what);
    const std::string dw = what + ": destination";
    y_.check_map(dest, dw,
                 {"bucket", "prefix", "error_prefix", "compression", "buffering", "processors", "http_endpoint",
                  "stream", "backup_bucket"});
    const int kinds = (dest["bucket"] ? 1 : 0) + (dest["http_endpoint"] ? 1 : 0) + (dest["stream"] ? 1 : 0);
    if (kinds != 1) y_.fail(dest, dw + " needs exactly one of 'bucket', 'http_endpoint' or 'stream'");
    json c = json::object();
    int size_mb = 5, interval_s = dest["bucket"] ? 300 : 60;
    if (auto b = dest["buffering"]) {
      y_.check_map(b, dw + ": buffering", {"size_mb", "interval_seconds"});
      if (b["size_mb"]) size_mb = y_.integer(b["size_mb"], dw + ": buffering size_mb", 1, 128);
      if (b["interval_seconds"])
        interval_s = y_.integer(b["interval_seconds"], dw + ": buffering interval_seconds", 0, 900);
    }
    c["BufferingHints"] = {{"SizeInMBs", size_mb}, {"IntervalInSeconds", interval_s}};
    if (dest["processors"]) c["ProcessingConfiguration"] = processors(dest["processors"], dw + ": processors");
    c["RoleARN"] = "arn:aws:iam::000000000000:role/eddy";
    if (dest["bucket"]) {
      if (dest["backup_bucket"])
        y_.fail(dest["backup_bucket"], dw + ": backup_bucket applies to http_endpoint and stream destinations");
      d.destination_kind = "ExtendedS3";
      c["BucketARN"] = "arn:aws:s3:::" + y_.string(dest["bucket"], dw + ": bucket");
      if (dest["prefix"]) c["Prefix"] = y_.string(dest["prefix"], dw + ": prefix");
      if (dest["error_prefix"]) c["ErrorOutputPrefix"] = y_.string(dest["error_prefix"], dw + ": error_prefix");
      c["CompressionFormat"] =
          dest["compression"] ? y_.string(dest["compression"], dw + ": compression") : "UNCOMPRESSED";
      if (c["CompressionFormat"] != "UNCOMPRESSED" && c["CompressionFormat"] != "GZIP") {
        y_.fail(dest["compression"], dw + ": compression must be UNCOMPRESSED or GZIP");
      }
    } else {
      for (const char* k : {"prefix", "error_prefix", "compression"}) {
        if (dest[k]) y_.fail(dest[k], dw + ": '" + k + "' applies to bucket destinations");
      }
      d.destination_kind = "HttpEndpoint";
      json endpoint;
      if (dest["stream"]) {
        endpoint["Url"] = "stream:" + y_.string(dest["stream"], dw + ": stream");  // resolved to the ARN when applied
      } else {
        const YAML::Node h = dest["http_endpoint"];
        y_.check_map(h, dw + ": http_endpoint", {"url", "name", "access_key", "retry_seconds"});
        endpoint["Url"] = y_.string(y_.required(h, "url", dw + ": http_endpoint"), dw + ": http_endpoint url");
        if (h["name"]) endpoint["Name"] = y_.string(h["name"], dw + ": http_endpoint name");
        if (h["access_key"]) endpoint["AccessKey"] = y_.string(h["access_key"], dw + ": http_endpoint access_key");
        if (h["retry_seconds"])
          c["RetryOptions"] = {{"DurationInSeconds", y_.integer(h["retry_seconds"], dw, 0, 7200)}};
      }
      c["EndpointConfiguration"] = endpoint;
      const std::string backup =
          dest["backup_bucket"] ? y_.string(dest["backup_bucket"], dw + ": backup_bucket") : name + "-failed";
      c["S3Configuration"] = {{"RoleARN", "arn:aws:iam::000000000000:role/eddy"},
                              {"BucketARN", "arn:aws:s3:::" + backup}};
    }
    d.destination = std::move(c);
    return d;
  }

  const YamlFile& y_;
  std::filesystem::path base_;
};

}  // namespace

tl::expected<DesiredState, FileError> read_pipeline(const YamlFile& yaml, const std::filesystem::path& base_dir) {
  try {
    Reader r(yaml, base_dir);
    return r.read();
  } catch (const FileErrorException& e) {
    return tl::unexpected(e.error);
  }
}

}  // namespace eddy::pipeline
