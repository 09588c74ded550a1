// Reading pipeline files and CloudFormation templates into a desired state, and the errors that
// point at the file's line: YAML syntax, unknown keys, dangling Refs, invalid SQL.
#include "pipeline/load.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "pipeline/validate.h"

namespace eddy::pipeline {
namespace {

Loaded load(const std::string& text, std::map<std::string, std::string> params = {}) {
  LoadOptions o;
  o.parameters = std::move(params);
  auto r = load_pipeline_text("/tmp/p.yaml", text, o);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().text());
  return r ? *r : Loaded{};
}

FileError load_error(const std::string& text, std::map<std::string, std::string> params = {}) {
  LoadOptions o;
  o.parameters = std::move(params);
  auto r = load_pipeline_text("/tmp/p.yaml", text, o);
  EXPECT_FALSE(r.has_value());
  return r ? FileError{} : r.error();
}

const char* kPipeline = R"(streams:
  sales:
    shards: 2
  out: {}
delivery_streams:
  rows:
    source: {stream: sales}
    destination:
      bucket: results
      prefix: rev/
      buffering: {size_mb: 1, interval_seconds: 60}
      processors: [append_newline]
applications:
  revenue:
    input:
      stream: sales
      name_prefix: SRC
      schema:
        columns:
          - {name: store_id, type: VARCHAR(16)}
          - {name: sales, type: REAL}
    sql: |
      CREATE OR REPLACE STREAM "OUT" ("store_id" VARCHAR(16), "revenue" REAL);
      CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
      SELECT STREAM "store_id", SUM("sales") FROM "SRC_001"
      GROUP BY STEP("SRC_001".ROWTIME BY INTERVAL '60' SECOND), "store_id";
    outputs:
      - {name: OUT, stream: out}
)";

TEST(LoadTest, PipelineFile) {
  const Loaded l = load(kPipeline);
  EXPECT_FALSE(l.template_file);
  ASSERT_EQ(l.desired.streams.size(), 2u);
  EXPECT_EQ(l.desired.streams[0].name, "sales");
  EXPECT_EQ(l.desired.streams[0].shards, 2);
  EXPECT_EQ(l.desired.streams[1].shards, 1);
  ASSERT_EQ(l.desired.deliveries.size(), 1u);
  const auto& d = l.desired.deliveries[0];
  EXPECT_EQ(d.source_stream, "sales");
  EXPECT_EQ(d.destination["BucketARN"], "arn:aws:s3:::results");
  EXPECT_EQ(d.destination["BufferingHints"]["IntervalInSeconds"], 60);
  EXPECT_EQ(d.destination["ProcessingConfiguration"]["Processors"][0]["Type"], "AppendDelimiterToRecord");
  ASSERT_EQ(l.desired.applications.size(), 1u);
  const auto& a = l.desired.applications[0];
  EXPECT_EQ(a.input->schema["RecordColumns"][0]["Mapping"], "$.store_id");
  EXPECT_EQ(a.code_where.line, 23);  // the line after `sql: |`
  EXPECT_EQ(a.outputs[0].stream, "out");
  EXPECT_TRUE(validate_code(l.desired).empty());
}

TEST(LoadTest, ApplicationParallelism) {
  std::string text = kPipeline;
  text.replace(text.find("  revenue:\n"), 11, "  revenue:\n    parallelism: 2\n");
  EXPECT_EQ(load(text).desired.applications.at(0).parallelism, 2);
  EXPECT_EQ(load(kPipeline).desired.applications.at(0).parallelism, 0) << "unset: the server's --parallelism";
  text.replace(text.find("parallelism: 2"), 14, "parallelism: 0");
  EXPECT_NE(load_error(text).message.find("parallelism"), std::string::npos);
}

TEST(LoadTest, YamlSyntaxErrorHasItsLine) {
  const FileError e = load_error("streams:\n  sales:\n    shards: [1\n");
  EXPECT_GE(e.where.line, 3);
  EXPECT_NE(e.message.find("YAML syntax error"), std::string::npos) << e.text();
}

TEST(LoadTest, UnknownKeyNamesTheKeyAndTheLine) {
  const FileError e = load_error("streams:\n  sales:\n    shard: 2\n");
  EXPECT_EQ(e.where.line, 3);
  EXPECT_EQ(e.where.column, 5);
  EXPECT_NE(e.message.find("unknown key 'shard' in stream 'sales'"), std::string::npos) << e.text();
  EXPECT_NE(e.message.find("shards"), std::string::npos) << "lists the expected keys: " << e.text();
  EXPECT_EQ(e.text().rfind("/tmp/p.yaml:3:5: ", 0), 0u) << e.text();
}

TEST(LoadTest, BadValuesAreExplained) {
  EXPECT_NE(load_error("streams:\n  s:\n    shards: many\n").message.find("whole number"), std::string::npos);
  EXPECT_NE(load_error("applications:\n  a:\n    job: lib.so\n").message.find("cannot read the job library"),
            std::string::npos);
  EXPECT_NE(load_error("delivery_streams:\n  d:\n    destination: {prefix: x/}\n").message.find("exactly one of"),
            std::string::npos);
}

// The pipeline's name becomes a tag value on what the file creates: characters a tag value takes.
TEST(LoadTest, PipelineNameTakesTagCharacters) {
  for (const char* bad : {"name: 'a,b'\n", "name: '50%'\n", "name: 'a;b'\n"})
    EXPECT_NE(load_error(bad).message.find("it becomes a tag value"), std::string::npos) << bad;
}

TEST(LoadTest, InvalidSqlPointsAtTheLineInTheFile) {
  std::string text = kPipeline;
  text.replace(text.find("SUM(\"sales\")"), 12, "SUM(\"nope\")");
  const Loaded l = load(text);
  const auto errors = validate_code(l.desired);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].where.line, 25);  // the SELECT line inside the sql block
  EXPECT_NE(errors[0].message.find("nope"), std::string::npos) << errors[0].text();
}

// A compile error quotes the code: a 300 KB name in it is reported, with its line, in bounded
// work and stack.
TEST(LoadTest, AnInvalidSqlErrorQuotingALongNameIsReported) {
  std::string text = kPipeline;
  const std::string name(300'000, 'n');
  text.replace(text.find("SUM(\"sales\")"), 12, "SUM(\"" + name + "\")");
  const auto errors = validate_code(load(text).desired);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].where.line, 25);
  EXPECT_NE(errors[0].message.find("nnnn"), std::string::npos);
}

TEST(LoadTest, OutputMustBeAnInAppStream) {
  std::string text = kPipeline;
  text.replace(text.find("{name: OUT,"), 11, "{name: NOPE,");
  const auto errors = validate_code(load(text).desired);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].where.line, 28);
}

const char* kTemplate = R"(AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  StreamName: {Type: String, Default: sales}
  Shards: {Type: Number}
Conditions:
  IsEast: !Equals [!Ref "AWS::Region", us-east-1]
Resources:
  Stream:
    Type: AWS::Kinesis::Stream
    Properties:
      Name: !Ref StreamName
      ShardCount: !Ref Shards
      StreamEncryption: !If [IsEast, !Ref "AWS::NoValue", {EncryptionType: KMS}]
  Bucket:
    Type: AWS::S3::Bucket
  Role:
    Type: AWS::IAM::Role
  Delivery:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      DeliveryStreamName: !Sub "${StreamName}-rows"
      ExtendedS3DestinationConfiguration:
        BucketARN: !GetAtt Bucket.Arn
        RoleARN: !GetAtt [Role, Arn]
        BufferingHints: {SizeInMBs: "1", IntervalInSeconds: 60}
  App:
    Type: AWS::KinesisAnalytics::Application
    Properties:
      ApplicationCode: "CREATE STREAM \"O\" (\"a\" INTEGER); CREATE PUMP \"P\" AS INSERT INTO \"O\" SELECT STREAM \"a\" FROM \"SOURCE_SQL_STREAM_001\";"
      Inputs:
        - NamePrefix: SOURCE_SQL_STREAM
          KinesisStreamsInput: {ResourceARN: !GetAtt Stream.Arn, RoleARN: !GetAtt Role.Arn}
          InputSchema:
            RecordFormat: {RecordFormatType: JSON}
            RecordColumns: [{Name: a, Mapping: $.a, SqlType: INTEGER}]
  Out:
    Type: AWS::KinesisAnalytics::ApplicationOutput
    Properties:
      ApplicationName: !Ref App
      Output:
        Name: O
        DestinationSchema: {RecordFormatType: JSON}
        KinesisFirehoseOutput: {ResourceARN: !GetAtt Delivery.Arn, RoleARN: !GetAtt Role.Arn}
Outputs:
  Where:
    Value: !Join ["", ["s3://", !Ref Bucket, /, !Select [1, [a, b]]]]
    Export: {Name: where}
  Again:
    Value: !ImportValue where
)";

TEST(LoadTest, CloudFormationTemplate) {
  const Loaded l = load(kTemplate, {{"Shards", "3"}});
  EXPECT_TRUE(l.template_file);
  const DesiredState& d = l.desired;
  ASSERT_EQ(d.streams.size(), 1u);
  EXPECT_EQ(d.streams[0].name, "sales");
  EXPECT_EQ(d.streams[0].shards, 3);
  ASSERT_EQ(d.deliveries.size(), 1u);
  EXPECT_EQ(d.deliveries[0].name, "sales-rows");
  EXPECT_EQ(d.deliveries[0].destination["BucketARN"], "arn:aws:s3:::bucket");
  EXPECT_EQ(d.deliveries[0].destination["BufferingHints"]["SizeInMBs"], 1);  // "1" taken as the number the API needs
  ASSERT_EQ(d.applications.size(), 1u);
  EXPECT_EQ(d.applications[0].name, "App");
  EXPECT_EQ(d.applications[0].input->stream, "sales");
  ASSERT_EQ(d.applications[0].outputs.size(), 1u);
  EXPECT_EQ(d.applications[0].outputs[0].delivery_stream, "sales-rows");
  ASSERT_EQ(d.outputs.size(), 2u);
  EXPECT_EQ(d.outputs[0].value, "s3://bucket/b");
  EXPECT_EQ(d.outputs[1].value, "s3://bucket/b");
  bool role_skipped = false;
  for (const auto& s : d.skipped) role_skipped |= s.logical_id == "Role" && s.reason.find("IAM") != std::string::npos;
  EXPECT_TRUE(role_skipped);
  EXPECT_TRUE(validate_code(d).empty());
}

TEST(LoadTest, TemplateErrors) {
  // a parameter without a default must be given
  FileError e = load_error(kTemplate);
  EXPECT_NE(e.message.find("--param Shards="), std::string::npos) << e.text();
  // a dangling Ref, with its line
  std::string text = kTemplate;
  text.replace(text.find("!Ref App"), 8, "!Ref Ap");
  e = load_error(text, {{"Shards", "1"}});
  EXPECT_EQ(e.where.line, 39);
  EXPECT_NE(e.message.find("Ref to 'Ap'"), std::string::npos) << e.text();
  // an unknown property
  text = kTemplate;
  text.replace(text.find("      ShardCount"), 16, "      ShardCont");
  e = load_error(text, {{"Shards", "1"}});
  EXPECT_EQ(e.where.line, 12);
  EXPECT_NE(e.message.find("unknown key 'ShardCont'"), std::string::npos) << e.text();
  // an unknown parameter on the command line
  e = load_error(kTemplate, {{"Shards", "1"}, {"Nope", "1"}});
  EXPECT_NE(e.message.find("no parameter Nope"), std::string::npos) << e.text();
}

TEST(LoadTest, JsonTemplate) {
  const Loaded l = load(R"({"Resources": {"S": {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 2},
    "Metadata": {"aws:cdk:path": "Stack/S/Resource"}},
    "CDKMetadata": {"Type": "AWS::CDK::Metadata", "Properties": {"Analytics": "v2:deflate64:x"}, "Condition": "CDKMetadataAvailable"}},
    "Conditions": {"CDKMetadataAvailable": {"Fn::Or": [{"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}]}},
    "Parameters": {"BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/cdk-bootstrap/hnb659fds/version"}},
    "Rules": {"CheckBootstrapVersion": {"Assertions": [{"Assert": {"Fn::Not": [{"Fn::Contains": [["1"], {"Ref": "BootstrapVersion"}]}]}}]}}})");
  ASSERT_EQ(l.desired.streams.size(), 1u);
  EXPECT_EQ(l.desired.streams[0].name, "S");
  EXPECT_EQ(l.desired.streams[0].shards, 2);
  ASSERT_EQ(l.desired.skipped.size(), 1u);
  EXPECT_EQ(l.desired.skipped[0].type, "AWS::CDK::Metadata");
}

}  // namespace
}  // namespace eddy::pipeline

namespace eddy::pipeline {
namespace {

TEST(LoadTest, KinesisAnalyticsV2Templates) {
  const Loaded l = load(R"(Resources:
  In: {Type: AWS::Kinesis::Stream, Properties: {ShardCount: 1}}
  Out: {Type: AWS::Kinesis::Stream, Properties: {Name: out}}
  App:
    Type: AWS::KinesisAnalyticsV2::Application
    Properties:
      ApplicationName: v2
      RuntimeEnvironment: SQL-1_0
      ServiceExecutionRole: arn:aws:iam::000000000000:role/x
      ApplicationConfiguration:
        ApplicationCodeConfiguration:
          CodeContentType: PLAINTEXT
          CodeContent:
            TextContent: |
              CREATE STREAM "O" ("a" INTEGER);
              CREATE PUMP "P" AS INSERT INTO "O" SELECT STREAM "a" FROM "SOURCE_SQL_STREAM_001";
        FlinkApplicationConfiguration:
          ParallelismConfiguration: {ConfigurationType: CUSTOM, Parallelism: 3, AutoScalingEnabled: false}
        SqlApplicationConfiguration:
          Inputs:
            - NamePrefix: SOURCE_SQL_STREAM
              KinesisStreamsInput: {ResourceARN: !GetAtt In.Arn}
              InputSchema: {RecordFormat: {RecordFormatType: JSON}, RecordColumns: [{Name: a, Mapping: $.a, SqlType: INTEGER}]}
  AppOut:
    Type: AWS::KinesisAnalyticsV2::ApplicationOutput
    Properties:
      ApplicationName: !Ref App
      Output: {Name: O, DestinationSchema: {RecordFormatType: CSV}, KinesisStreamsOutput: {ResourceARN: !GetAtt Out.Arn}}
)");
  ASSERT_EQ(l.desired.applications.size(), 1u);
  const ApplicationSpec& a = l.desired.applications[0];
  EXPECT_EQ(a.name, "v2");
  EXPECT_EQ(a.parallelism, 3) << "FlinkApplicationConfiguration.ParallelismConfiguration";
  EXPECT_EQ(a.input->stream, "In");
  EXPECT_EQ(a.code_where.line, 15);
  ASSERT_EQ(a.outputs.size(), 1u);
  EXPECT_EQ(a.outputs[0].stream, "out");
  EXPECT_EQ(a.outputs[0].format, "CSV");
  EXPECT_TRUE(validate_code(l.desired).empty());

  // A job archive is a C++ job library, looked up beside the template; a missing one is named.
  const FileError e = load_error(R"(Resources:
  Job:
    Type: AWS::KinesisAnalyticsV2::Application
    Properties:
      RuntimeEnvironment: FLINK-1_18
      ServiceExecutionRole: arn:aws:iam::000000000000:role/x
      ApplicationConfiguration:
        ApplicationCodeConfiguration:
          CodeContentType: ZIPFILE
          CodeContent: {S3ContentLocation: {BucketARN: arn:aws:s3:::b, FileKey: job.zip}}
)");
  EXPECT_EQ(e.where.line, 8);
  EXPECT_NE(e.message.find("cannot read the job library /tmp/job.zip"), std::string::npos) << e.text();
}

TEST(LoadTest, SubWithVariablesFindInMapAndConditionsOnResources) {
  const Loaded l = load(R"(Mappings:
  Sizes: {prod: {shards: 4}, dev: {shards: 1}}
Parameters:
  Env: {Type: String, Default: dev, AllowedValues: [dev, prod]}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  S:
    Type: AWS::Kinesis::Stream
    Properties:
      Name: !Sub ["${Prefix}-${Env}-${AWS::Region}", {Prefix: orders}]
      ShardCount: !FindInMap [Sizes, !Ref Env, shards]
  ProdOnly:
    Type: AWS::Kinesis::Stream
    Condition: IsProd
)");
  ASSERT_EQ(l.desired.streams.size(), 1u);
  EXPECT_EQ(l.desired.streams[0].name, "orders-dev-us-east-1");
  EXPECT_EQ(l.desired.streams[0].shards, 1);
  ASSERT_EQ(l.desired.skipped.size(), 1u);
  EXPECT_EQ(l.desired.skipped[0].reason, "its Condition is false");
  const FileError e = load_error(
      "Parameters:\n  Env: {Type: String, Default: dev, AllowedValues: [dev, prod]}\nResources:\n"
      "  S: {Type: AWS::Kinesis::Stream, Properties: {Name: !Ref Env}}\n",
      {{"Env", "staging"}});
  EXPECT_NE(e.message.find("not one of its AllowedValues"), std::string::npos) << e.text();
}

}  // namespace
}  // namespace eddy::pipeline

namespace eddy::pipeline {
namespace {

TEST(LoadTest, NamesAreCheckedBeforeAnythingIsApplied) {
  const auto errors = validate_code(load("streams:\n  ok: {}\n  'bad name': {}\n").desired);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].where.line, 3);
  EXPECT_NE(errors[0].message.find("stream name 'bad name'"), std::string::npos) << errors[0].text();
  const auto twice = validate_code(load("Resources:\n  A: {Type: AWS::Kinesis::Stream, Properties: {Name: s}}\n"
                                        "  B: {Type: AWS::Kinesis::Stream, Properties: {Name: s}}\n")
                                       .desired);
  ASSERT_EQ(twice.size(), 1u);
  EXPECT_EQ(twice[0].where.line, 3);
  EXPECT_NE(twice[0].message.find("declared twice"), std::string::npos) << twice[0].text();
}

}  // namespace
}  // namespace eddy::pipeline

namespace eddy::pipeline {
namespace {

TEST(LoadTest, JobsInPipelineFilesAndTemplates) {
  const std::string lib = "/tmp/eddy-unit-job-" + std::to_string(::getpid()) + ".so";
  { std::ofstream(lib) << "library bytes"; }
  const Loaded p = load("applications:\n  j:\n    job: " + lib + "\n    property_groups:\n      G: {k: v}\n");
  ASSERT_EQ(p.desired.applications.size(), 1u);
  const auto& job = p.desired.applications[0].job;
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->property_groups, nlohmann::json::parse(R"([{"PropertyGroupId": "G", "PropertyMap": {"k": "v"}}])"));
  EXPECT_EQ(job->digest.size(), 64u);

  const Loaded t = load(
      "Resources:\n  J:\n    Type: AWS::KinesisAnalyticsV2::Application\n    Properties:\n"
      "      RuntimeEnvironment: FLINK-1_18\n      ServiceExecutionRole: r\n"
      "      ApplicationConfiguration:\n        ApplicationCodeConfiguration:\n"
      "          CodeContentType: ZIPFILE\n"
      "          CodeContent: {S3ContentLocation: {BucketARN: arn:aws:s3:::b, FileKey: " +
      std::filesystem::path(lib).filename().string() +
      "}}\n"
      "        EnvironmentProperties:\n          PropertyGroups:\n"
      "            - {PropertyGroupId: G, PropertyMap: {k: v}}\n");
  ASSERT_EQ(t.desired.applications.size(), 1u);
  ASSERT_TRUE(t.desired.applications[0].job.has_value());
  EXPECT_EQ(t.desired.applications[0].job->digest, job->digest);  // same library, same groups
  EXPECT_NE(load_error("applications:\n  j:\n    job: " + lib + "\n    sql: x\n").message.find("remove 'sql'"),
            std::string::npos);
  std::filesystem::remove(lib);
}

}  // namespace
}  // namespace eddy::pipeline
