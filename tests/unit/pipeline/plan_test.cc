// The diff between a declared pipeline and a server's state: what is created, updated in place,
// replaced, started, deleted, and that an unchanged server gives an empty plan.
#include "pipeline/plan.h"

#include <gtest/gtest.h>

namespace eddy::pipeline {
namespace {

using nlohmann::json;

StreamSpec stream(const std::string& name, int shards, int retention = 24) {
  StreamSpec s;
  s.name = name;
  s.shards = shards;
  s.retention_hours = retention;
  return s;
}

json schema() {
  return {{"RecordFormat", {{"RecordFormatType", "JSON"}}},
          {"RecordColumns", json::array({{{"Name", "a"}, {"Mapping", "$.a"}, {"SqlType", "INTEGER"}}})}};
}

ApplicationSpec app(const std::string& code) {
  ApplicationSpec a;
  a.name = "revenue";
  a.code = code;
  a.input = InputSpec{"sales", "SRC", schema(), 1};
  OutputSpec o;
  o.name = "OUT";
  o.delivery_stream = "rows";
  a.outputs.push_back(o);
  return a;
}

DeliverySpec delivery(const std::string& prefix, int interval) {
  DeliverySpec d;
  d.name = "rows";
  d.destination_kind = "ExtendedS3";
  d.destination = {{"BucketARN", "arn:aws:s3:::b"},
                   {"Prefix", prefix},
                   {"RoleARN", "arn:aws:iam::000000000000:role/eddy"},
                   {"BufferingHints", {{"SizeInMBs", 1}, {"IntervalInSeconds", interval}}}};
  return d;
}

// A live state that matches `d` exactly, as the server describes it (defaults filled in).
LiveState live_of(const DesiredState& d, const std::string& app_status = "RUNNING") {
  LiveState l;
  for (const auto& s : d.streams) l.streams[s.name] = {s, "ACTIVE"};
  for (const auto& x : d.deliveries) {
    LiveDelivery ld{x, "ACTIVE", "1", "destinationId-000000000001"};
    ld.spec.destination["CompressionFormat"] = "UNCOMPRESSED";
    ld.spec.destination["EncryptionConfiguration"] = {{"NoEncryptionConfig", "NoEncryption"}};
    ld.spec.destination.erase("RoleARN");
    l.deliveries[x.name] = ld;
  }
  for (const auto& a : d.applications) {
    LiveApplication la;
    la.spec = a;
    la.status = app_status;
    la.version = 1;
    la.input_id = "1.1";
    for (size_t i = 0; i < a.outputs.size(); ++i) la.output_ids[a.outputs[i].name] = std::to_string(i + 1) + ".1";
    l.applications[a.name] = la;
  }
  return l;
}

DesiredState pipeline() {
  DesiredState d;
  d.streams = {stream("sales", 2)};
  d.deliveries = {delivery("rev/", 60)};
  d.applications = {app("CODE")};
  return d;
}

TEST(PlanTest, EmptyServerCreatesEverythingStreamsFirst) {
  const Plan p = plan_apply(pipeline(), LiveState{});
  ASSERT_EQ(p.changes.size(), 3u);
  EXPECT_EQ(p.changes[0].kind, Kind::kStream);
  EXPECT_EQ(p.changes[1].kind, Kind::kDelivery);
  EXPECT_EQ(p.changes[2].kind, Kind::kApplication);
  for (const auto& c : p.changes) EXPECT_EQ(c.action, Action::kCreate) << c.text();
  EXPECT_EQ(p.changes[0].text(), "create stream sales: 2 shards, 24 h retention");
}

TEST(PlanTest, MatchingServerGivesNoChanges) {
  const DesiredState d = pipeline();
  const Plan p = plan_apply(d, live_of(d));
  EXPECT_TRUE(p.empty()) << render(p, false);
  EXPECT_EQ(p.unchanged.size(), 3u);
  EXPECT_NE(render(p, false).find("No changes"), std::string::npos);
}

TEST(PlanTest, ShardAndRetentionChangesUpdateInPlace) {
  const DesiredState before = pipeline();
  DesiredState after = before;
  after.streams[0].shards = 4;
  after.streams[0].retention_hours = 48;
  const Plan p = plan_apply(after, live_of(before));
  ASSERT_EQ(p.changes.size(), 1u);
  EXPECT_EQ(p.changes[0].action, Action::kUpdate);
  EXPECT_EQ(p.changes[0].text(), "update stream sales: shards 2 -> 4 (reshard); retention 24 h -> 48 h");
}

TEST(PlanTest, CapacityModeChangeReplacesTheStream) {
  const DesiredState before = pipeline();
  DesiredState after = before;
  after.streams[0].on_demand = true;
  const Plan p = plan_apply(after, live_of(before));
  ASSERT_EQ(p.changes.size(), 1u);
  EXPECT_EQ(p.changes[0].action, Action::kReplace);
}

TEST(PlanTest, BufferingAndPrefixChangesUpdateTheDestination) {
  const DesiredState before = pipeline();
  DesiredState after = before;
  after.deliveries[0] = delivery("revenue/", 30);
  const Plan p = plan_apply(after, live_of(before));
  ASSERT_EQ(p.changes.size(), 1u);
  EXPECT_EQ(p.changes[0].action, Action::kUpdate);
  EXPECT_EQ(p.changes[0].kind, Kind::kDelivery);
  const std::string t = p.changes[0].text();
  EXPECT_NE(t.find("Prefix \"rev/\" -> \"revenue/\""), std::string::npos) << t;
  EXPECT_NE(t.find("BufferingHints"), std::string::npos) << t;
}

TEST(PlanTest, ASourceChangeReplacesTheDeliveryStream) {
  const DesiredState before = pipeline();
  DesiredState after = before;
  after.deliveries[0].source_stream = "sales";
  const Plan p = plan_apply(after, live_of(before));
  ASSERT_EQ(p.changes.size(), 1u);
  EXPECT_EQ(p.changes[0].action, Action::kReplace);
}

TEST(PlanTest, NewCodeUpdatesTheApplicationInPlace) {
  const DesiredState before = pipeline();
  DesiredState after = before;
  after.applications[0].code = "CODE\nMORE\n";
  const Plan p = plan_apply(after, live_of(before));
  ASSERT_EQ(p.changes.size(), 1u);
  EXPECT_EQ(p.changes[0].action, Action::kUpdate);
  const ApplicationDiff d = diff_application(after.applications[0], live_of(before).applications.at("revenue"));
  EXPECT_TRUE(d.code);
  EXPECT_FALSE(d.input);
  EXPECT_FALSE(d.start);
  EXPECT_TRUE(d.outputs_added.empty());
}

TEST(PlanTest, AParallelismChangeUpdatesTheApplicationInPlace) {
  const DesiredState before = pipeline();
  DesiredState after = before;
  after.applications[0].parallelism = 2;
  const Plan p = plan_apply(after, live_of(before));
  ASSERT_EQ(p.changes.size(), 1u);
  EXPECT_EQ(p.changes[0].action, Action::kUpdate);
  EXPECT_NE(render(p, false).find("parallelism the server's -> 2"), std::string::npos) << render(p, false);
  const ApplicationDiff d = diff_application(after.applications[0], live_of(before).applications.at("revenue"));
  EXPECT_TRUE(d.parallelism);
  EXPECT_FALSE(d.code);
  EXPECT_TRUE(plan_apply(after, live_of(after)).empty());
}

TEST(PlanTest, OutputsAreAddedRemovedOrUpdatedByName) {
  const DesiredState before = pipeline();
  DesiredState after = before;
  auto& outs = after.applications[0].outputs;
  outs[0].delivery_stream.clear();
  outs[0].stream = "rows-stream";  // delivery stream -> stream: re-added
  OutputSpec extra;
  extra.name = "EXTRA";
  extra.stream = "x";
  outs.push_back(extra);
  const ApplicationDiff d = diff_application(after.applications[0], live_of(before).applications.at("revenue"));
  EXPECT_EQ(d.outputs_removed, std::vector<std::string>{"OUT"});
  EXPECT_EQ(d.outputs_added, (std::vector<std::string>{"OUT", "EXTRA"}));
  EXPECT_TRUE(d.outputs_changed.empty());

  // stream -> another stream: updated in place
  DesiredState a2 = after;
  LiveState l2 = live_of(after);
  a2.applications[0].outputs[0].stream = "other";
  const ApplicationDiff d2 = diff_application(a2.applications[0], l2.applications.at("revenue"));
  EXPECT_EQ(d2.outputs_changed, std::vector<std::string>{"OUT"});
  EXPECT_TRUE(d2.outputs_removed.empty());
}

TEST(PlanTest, SchemaChangeUpdatesTheInputAndAddingAnInputReplaces) {
  const DesiredState before = pipeline();
  DesiredState after = before;
  after.applications[0].input->schema["RecordColumns"][0]["SqlType"] = "BIGINT";
  EXPECT_TRUE(diff_application(after.applications[0], live_of(before).applications.at("revenue")).input);
  after.applications[0].input.reset();
  const Plan p = plan_apply(after, live_of(before));
  ASSERT_EQ(p.changes.size(), 1u);
  EXPECT_EQ(p.changes[0].action, Action::kReplace);
}

TEST(PlanTest, AStoppedApplicationIsStarted) {
  const DesiredState d = pipeline();
  const Plan p = plan_apply(d, live_of(d, "READY"));
  ASSERT_EQ(p.changes.size(), 1u);
  EXPECT_EQ(p.changes[0].action, Action::kStart);
}

TEST(PlanTest, DestroyDeletesWhatExistsApplicationsFirst) {
  const DesiredState d = pipeline();
  LiveState l = live_of(d);
  l.deliveries.clear();
  const Plan p = plan_destroy(d, l);
  ASSERT_EQ(p.changes.size(), 2u);
  EXPECT_EQ(p.changes[0].kind, Kind::kApplication);
  EXPECT_EQ(p.changes[1].kind, Kind::kStream);
  for (const auto& c : p.changes) EXPECT_EQ(c.action, Action::kDelete);
  EXPECT_TRUE(plan_destroy(d, LiveState{}).empty());
}

}  // namespace
}  // namespace eddy::pipeline

namespace eddy::pipeline {
namespace {

TEST(PlanTest, OwnedResourcesTheFileDroppedAreDeletedAroundTheRest) {
  DesiredState before = pipeline();
  before.pipeline_name = "p";
  LiveState live = live_of(before);
  // Earlier applies of "p" created these; the file now declares only the stream.
  live.owned_streams = {"sales"};
  live.owned_applications = {"revenue"};
  live.owned_deliveries = {"rows"};
  DesiredState after = before;
  after.applications.clear();
  after.deliveries.clear();
  StreamSpec extra = stream("new-sales", 1);
  after.streams.push_back(extra);
  const Plan p = plan_apply(after, live);
  ASSERT_EQ(p.changes.size(), 3u) << render(p, false);
  EXPECT_EQ(p.changes[0].text(), "delete application revenue: no longer in the file");
  EXPECT_EQ(p.changes[1].text(), "create stream new-sales: 1 shard, 24 h retention");
  EXPECT_EQ(p.changes[2].text(), "delete delivery stream rows: no longer in the file");

  // Not owned (created by hand or by another pipeline): never touched.
  LiveState unowned = live_of(before);
  EXPECT_EQ(plan_apply(after, unowned).changes.size(), 1u);

  // destroy: the declared ones and the owned ones
  const Plan d = plan_destroy(after, live);
  ASSERT_EQ(d.changes.size(), 3u) << render(d, true);
  EXPECT_EQ(d.changes[0].kind, Kind::kApplication);
  EXPECT_EQ(d.changes[2].text(), "delete stream sales: its records are deleted");
}

}  // namespace
}  // namespace eddy::pipeline

namespace eddy::pipeline {
namespace {

TEST(PlanTest, CodeChangesShowTheChangedLines) {
  EXPECT_EQ(line_diff("a\nb\nc\n", "a\nB\nc\nd\n"), (std::vector<std::string>{"- b", "+ B", "+ d"}));
  EXPECT_TRUE(line_diff("same\n", "same\n").empty());
  EXPECT_EQ(line_diff("", "x\ny\nz\n", 2), (std::vector<std::string>{"+ x", "+ y", "(1 more changed lines)"}));
  const DesiredState before = pipeline();
  DesiredState after = before;
  after.applications[0].code = "CODE2";
  const Plan p = plan_apply(after, live_of(before));
  ASSERT_EQ(p.changes.size(), 1u);
  EXPECT_NE(render(p, false).find("      - CODE\n      + CODE2\n"), std::string::npos) << render(p, false);
}

}  // namespace
}  // namespace eddy::pipeline

namespace eddy::pipeline {
namespace {

TEST(PlanTest, JobsAreRedeployedWhenTheirDigestChanges) {
  DesiredState d;
  ApplicationSpec job;
  job.name = "trades";
  job.job = JobSpec{"/x/libjob.so", nlohmann::json::array(), "digest-2"};
  d.applications = {job};
  LiveState live;
  LiveApplication la;
  la.spec.name = "trades";
  la.spec.description = "C++ job";
  la.is_job = true;
  la.spec.job = JobSpec{"", nlohmann::json::array(), "digest-1"};
  la.status = "RUNNING";
  live.applications["trades"] = la;
  Plan p = plan_apply(d, live);
  ASSERT_EQ(p.changes.size(), 1u);
  EXPECT_EQ(p.changes[0].action, Action::kUpdate);
  EXPECT_TRUE(diff_application(job, la).redeploy);

  live.applications["trades"].spec.job->digest = "digest-2";
  EXPECT_TRUE(plan_apply(d, live).empty());
  d.applications[0].parallelism = 1;  // the same library at another parallelism: redeployed
  EXPECT_TRUE(diff_application(d.applications[0], live.applications["trades"]).redeploy);
  d.applications[0].parallelism = 0;

  live.applications["trades"].spec.job.reset();  // deployed without eddy apply: no digest tag
  EXPECT_TRUE(diff_application(job, live.applications["trades"]).redeploy);

  LiveApplication sql;  // a SQL application of that name: replaced
  sql.spec.name = "trades";
  sql.spec.code = "CREATE ...";
  sql.status = "RUNNING";
  live.applications["trades"] = sql;
  p = plan_apply(d, live);
  ASSERT_EQ(p.changes.size(), 1u);
  EXPECT_EQ(p.changes[0].action, Action::kReplace);
}

}  // namespace
}  // namespace eddy::pipeline
