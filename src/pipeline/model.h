// The desired state of a pipeline: the streams, applications and delivery streams a pipeline file
// or a CloudFormation template declares, each remembering where in the file it was declared so
// that errors point at a line. The live state read from a server uses the same shapes.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

namespace eddy::pipeline {

// A place in a file: 1-based line and column (0 when unknown).
struct Location {
  std::string file;
  int line = 0;
  int column = 0;
  // "file:line:column: " (or "file: ") to prefix a message with.
  std::string prefix() const;
};

struct StreamSpec {
  std::string name;
  int shards = 1;
  bool on_demand = false;
  int retention_hours = 24;
  Location where;
};

// A KDA SQL application's streaming input: a stream read into <name_prefix>_001.
struct InputSpec {
  std::string stream;
  std::string name_prefix = "SOURCE_SQL_STREAM";
  nlohmann::json schema;  // KDA InputSchema (RecordFormat, RecordEncoding, RecordColumns)
  int parallelism = 1;
  std::string preprocessor;  // a Lambda function ARN (InputProcessingConfiguration); empty: none
};

// A KDA SQL application's reference data: a table loaded from an object in a bucket.
struct ReferenceSpec {
  std::string table;
  std::string bucket;  // a bucket name (BucketARN arn:aws:s3:::bucket)
  std::string key;
  nlohmann::json schema;  // KDA ReferenceSchema (the shape of InputSchema)
  Location where;
};

// A KDA SQL application's output: an in-application stream written to a stream or a delivery stream.
struct OutputSpec {
  std::string name;             // in-application stream
  std::string stream;           // destination stream, or
  std::string delivery_stream;  // destination delivery stream
  std::string format = "JSON";  // JSON or CSV
  Location where;
};

// A C++ job (job/job.h) built as a shared library, with KDA-shaped property groups.
struct JobSpec {
  std::string library;                                       // path on this machine
  nlohmann::json property_groups = nlohmann::json::array();  // [{PropertyGroupId, PropertyMap}]
  std::string digest;  // SHA-256 of the library and the property groups: what a redeploy compares
};

// Reads the library and computes its digest; the error names the library.
tl::expected<JobSpec, std::string> make_job(std::string library, nlohmann::json property_groups);

struct ApplicationSpec {
  std::string name;
  std::string description;
  std::string code;                                // KDA SQL or Flink SQL (detected from the code, as the server does)
  std::optional<InputSpec> input;                  // KDA SQL only; Flink tables name their streams in WITH options
  std::vector<OutputSpec> outputs;                 // KDA SQL only
  std::vector<ReferenceSpec> references;           // KDA SQL only (at most one, as in KDA)
  std::optional<JobSpec> job;                      // a C++ job instead of code
  std::string starting_position = "TRIM_HORIZON";  // of the first start
  int parallelism = 0;  // threads, as KDA's ParallelismConfiguration (CUSTOM); 0: the server's --parallelism
  Location where;
  // Where the code's first line is in the file (an inline block), or the code's own file.
  Location code_where;
};

// A Firehose delivery stream: its source and one destination, in the Firehose API's shapes.
struct DeliverySpec {
  std::string name;
  std::string source_stream;     // empty: direct put
  std::string destination_kind;  // "ExtendedS3" or "HttpEndpoint"
  nlohmann::json destination;    // <kind>DestinationConfiguration
  Location where;
};

// A CloudFormation Output, resolved.
struct OutputValue {
  std::string name;
  std::string value;
  std::string description;
};

// A template resource eddy does not create, and why.
struct Skipped {
  std::string logical_id;
  std::string type;
  std::string reason;
};

// The tag that marks what `apply` created for a named pipeline, so that a later apply of the same
// pipeline deletes what the file no longer declares.
inline constexpr const char* kPipelineTag = "eddy:pipeline";
// The tag holding a deployed C++ job's digest (DescribeApplication does not show the library).
inline constexpr const char* kJobTag = "eddy:job";

struct DesiredState {
  std::string pipeline_name;  // the file's `name:` or the template's --stack; empty: nothing is owned
  std::vector<StreamSpec> streams;
  std::vector<ApplicationSpec> applications;
  std::vector<DeliverySpec> deliveries;
  std::vector<OutputValue> outputs;
  std::vector<Skipped> skipped;
  std::map<std::string, std::string> bucket_directories;  // S3 buckets a template declares (name -> logical id)
  std::map<std::string, std::string>
      files;  // written by apply before anything else: path -> content (inline Lambda code)
};

// What a server holds for the resources a pipeline names.
struct LiveStream {
  StreamSpec spec;
  std::string status;
};

struct LiveApplication {
  ApplicationSpec spec;
  std::string status;
  int64_t version = 0;
  nlohmann::json create_timestamp;                   // as DescribeApplication returned it
  std::string input_id;                              // "1.1" when it has an input
  std::map<std::string, std::string> output_ids;     // in-application stream -> OutputId
  std::map<std::string, std::string> reference_ids;  // table -> ReferenceId
  bool is_job = false;                               // a C++ job (its digest, if its tag says, in spec.job)
};

struct LiveDelivery {
  DeliverySpec spec;
  std::string status;
  std::string version_id;
  std::string destination_id;
};

struct LiveState {
  std::map<std::string, LiveStream> streams;
  std::map<std::string, LiveApplication> applications;
  std::map<std::string, LiveDelivery> deliveries;
  // Names of resources tagged as created by this pipeline (declared or not).
  std::set<std::string> owned_streams, owned_applications, owned_deliveries;
};

// ARNs as eddy's server names its resources (account 000000000000).
std::string stream_arn(const std::string& region, const std::string& name);
std::string delivery_arn(const std::string& region, const std::string& name);
std::string application_arn(const std::string& region, const std::string& name);
// The name at the end of an ARN ("...:stream/NAME" -> NAME), or the text itself if it is no ARN.
std::string name_from_arn(const std::string& arn);

// A failure that names the place in the file it comes from.
struct FileError {
  Location where;
  std::string message;
  std::string text() const { return where.prefix() + message; }
};

}  // namespace eddy::pipeline
