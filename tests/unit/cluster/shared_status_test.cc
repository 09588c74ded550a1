// Applications' status shared between nodes over a real nats-server: what the running node
// publishes (its fault, its latest error rows, its figures) any node reads; a status its node stopped
// renewing is not current any more; a deleted application's status goes.
#include "host/shared_status.h"

#include <gtest/gtest.h>

#include "cluster/jetstream_metadata_store.h"
#include "nats_test_server.h"

namespace eddy::cluster {
namespace {

using host::SharedStatus;
using nats_test::nats_server_path;
using nats_test::NatsServer;

class SharedStatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(nats_server_path().empty()) << "nats-server is not installed: run make deps";
    server_ = std::make_unique<NatsServer>(::testing::UnitTest::GetInstance()->current_test_info()->name());
    for (auto* n : {&nats_a_, &nats_b_}) {
      *n = server_->connect();
      ASSERT_TRUE(*n) << "nats-server did not start at " << server_->url();
    }
  }
  std::unique_ptr<SharedStatus> board(NatsConnection& nats, const std::string& node) {
    auto store = JetStreamMetadataStore::open(nats, "eddy_status", "apps", 1);
    EXPECT_TRUE(store.has_value()) << store.error().message;
    return std::make_unique<SharedStatus>(std::move(*store), node, clock_);
  }

  ManualClock clock_{1'700'000'000'000};
  std::unique_ptr<NatsServer> server_;
  std::unique_ptr<NatsConnection> nats_a_, nats_b_;
};

TEST_F(SharedStatusTest, WhatTheRunningNodePublishesAnyNodeReads) {
  auto a = board(*nats_a_, "a");
  auto b = board(*nats_b_, "b");
  EXPECT_FALSE(b->read("app").has_value());
  const std::vector<std::string> rows = {R"({"MESSAGE":"one"})", R"({"MESSAGE":"two"})"};
  host::ApplicationMetrics figures;
  figures.source = "in";
  figures.outputs = {{"DESTINATION_SQL_STREAM", "out", false}, {"ERRORS", "d", true}};
  figures.input_records = 120;
  figures.output_rows = 7;
  figures.last_checkpoint_ms = clock_.now_ms() - 500;
  figures.watermark_ms = clock_.now_ms() - 2000;
  a->publish("app", {host::ApplicationRunner::Fault{"cannot write to out", clock_.now_ms()}, rows, figures});
  auto seen = b->read("app");
  ASSERT_TRUE(seen.has_value());
  ASSERT_TRUE(seen->fault.has_value());
  EXPECT_EQ(seen->fault->reason, "cannot write to out");
  EXPECT_EQ(seen->errors, rows);
  // Its figures, as the running node counts them, for /metrics and the dashboard on any node.
  EXPECT_EQ(seen->figures.source, "in");
  ASSERT_EQ(seen->figures.outputs.size(), 2u);
  EXPECT_EQ(seen->figures.outputs[1].target, "d");
  EXPECT_TRUE(seen->figures.outputs[1].delivery);
  EXPECT_EQ(seen->figures.input_records, 120u);
  EXPECT_EQ(seen->figures.output_rows, 7u);
  EXPECT_EQ(seen->figures.last_checkpoint_ms, clock_.now_ms() - 500);
  EXPECT_EQ(seen->figures.watermark_lag_ms, 2000);
  EXPECT_EQ(seen->figures.fault, "cannot write to out");

  // The fault clears; b sees that at once.
  a->publish("app", {std::nullopt, rows});
  seen = b->read("app");
  ASSERT_TRUE(seen.has_value());
  EXPECT_FALSE(seen->fault.has_value());

  // The application moves to b, which writes over what a left.
  b->publish("app", {host::ApplicationRunner::Fault{"from b", clock_.now_ms()}, {}});
  EXPECT_EQ(a->read("app")->fault->reason, "from b");

  // b dies: its status stops being renewed and is not current any more.
  clock_.advance(SharedStatus::kCurrentMs + 1);
  EXPECT_FALSE(a->read("app").has_value());

  a->publish("app", {std::nullopt, {}});
  ASSERT_TRUE(b->read("app").has_value());
  b->remove("app");
  EXPECT_FALSE(a->read("app").has_value());
}

TEST_F(SharedStatusTest, OnlyTheNewestErrorRowsThatFitArePublished) {
  auto a = board(*nats_a_, "a");
  std::vector<std::string> rows;
  for (int i = 0; i < 10; ++i) rows.push_back(std::to_string(i) + std::string(20 << 10, 'x'));  // 20 KiB each
  a->publish("app", {std::nullopt, rows});
  auto seen = a->read("app");
  ASSERT_TRUE(seen.has_value());
  ASSERT_EQ(seen->errors.size(), 3u);  // 64 KiB hold three
  EXPECT_EQ(seen->errors.front()[0], '7');
  EXPECT_EQ(seen->errors.back()[0], '9');
}

}  // namespace
}  // namespace eddy::cluster
