// Stream figures shared between cluster nodes over a real nats-server: each node counts the
// requests it answers, and every node shows the sum of what the live nodes published, so that a
// client behind a load balancer sees one cluster's figures.
#include "web/cluster_figures.h"

#include <gtest/gtest.h>

#include "../cluster/nats_test_server.h"
#include "cluster/jetstream_metadata_store.h"

namespace eddy::web {
namespace {

using cluster::nats_test::nats_server_path;
using cluster::nats_test::NatsServer;

stream::StreamMetrics stream_figures(const std::string& name, uint64_t id, uint64_t incoming, int64_t behind = 0) {
  stream::StreamMetrics m;
  m.name = name;
  m.id = id;
  m.status = "ACTIVE";
  m.incoming_records = incoming;
  m.incoming_bytes = incoming * 10;
  m.get_records_calls = incoming ? 1 : 0;
  m.outgoing_records = incoming / 2;
  m.millis_behind_latest = behind;
  return m;
}

delivery::DeliveryMetrics buffer(const std::string& name, uint64_t records) {
  delivery::DeliveryMetrics m;
  m.name = name;
  m.buffered_records = records;
  m.buffered_bytes = records * 100;
  return m;
}

class ClusterFiguresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(nats_server_path().empty()) << "nats-server is not installed: run make deps";
    server_ = std::make_unique<NatsServer>(::testing::UnitTest::GetInstance()->current_test_info()->name());
    for (auto* n : {&nats_a_, &nats_b_}) {
      *n = server_->connect();
      ASSERT_TRUE(*n) << "nats-server did not start at " << server_->url();
    }
  }
  std::unique_ptr<ClusterFigures> node(cluster::NatsConnection& nats, const std::string& id) {
    auto store = cluster::JetStreamMetadataStore::open(nats, "eddy_status", "nodes", 1);
    EXPECT_TRUE(store.has_value()) << store.error().message;
    return std::make_unique<ClusterFigures>(std::move(*store), id, clock_);
  }
  // What `figures` shows of this node's view of stream `name` (id 1) and delivery stream "fh".
  static std::pair<stream::StreamMetrics, delivery::DeliveryMetrics> view(const ClusterFigures& figures,
                                                                          stream::StreamMetrics local) {
    std::vector<stream::StreamMetrics> streams = {std::move(local)};
    std::vector<delivery::DeliveryMetrics> deliveries = {buffer("fh", 0)};
    figures.merge(streams, deliveries);
    return {streams[0], deliveries[0]};
  }

  ManualClock clock_{1'700'000'000'000};
  std::unique_ptr<NatsServer> server_;
  std::unique_ptr<cluster::NatsConnection> nats_a_, nats_b_;
};

TEST_F(ClusterFiguresTest, EveryNodeShowsTheSumOfWhatTheNodesPublished) {
  auto a = node(*nats_a_, "a");
  auto b = node(*nats_b_, "b");
  a->publish({stream_figures("s", 1, 5, 100)}, {});
  b->publish({stream_figures("s", 1, 7, 300), stream_figures("quiet", 2, 0)}, {buffer("fh", 3)});
  for (const ClusterFigures* figures : {a.get(), b.get()}) {
    // The local view's own counts are replaced: they may be newer than what was published.
    const auto [s, fh] = view(*figures, stream_figures("s", 1, 999));
    EXPECT_EQ(s.incoming_records, 12u);
    EXPECT_EQ(s.incoming_bytes, 120u);
    EXPECT_EQ(s.get_records_calls, 2u);
    EXPECT_EQ(s.outgoing_records, 2u + 3u);
    EXPECT_EQ(s.millis_behind_latest, 300) << "the furthest behind";
    EXPECT_EQ(s.status, "ACTIVE") << "the local view's own";
    EXPECT_EQ(fh.buffered_records, 3u);
    EXPECT_EQ(fh.buffered_bytes, 300u);
  }
  // A stream deleted and created again under the same name starts from nothing.
  EXPECT_EQ(view(*a, stream_figures("s", 2, 4)).first.incoming_records, 0u);
}

TEST_F(ClusterFiguresTest, ANodeThatStopsPublishingDropsOutAndAWithdrawnOneAtOnce) {
  auto a = node(*nats_a_, "a");
  auto b = node(*nats_b_, "b");
  a->publish({stream_figures("s", 1, 5)}, {});
  b->publish({stream_figures("s", 1, 7)}, {});
  EXPECT_EQ(view(*a, stream_figures("s", 1, 5)).first.incoming_records, 12u);
  // Unchanged figures are renewed every few seconds: b stays current while it lives.
  for (int i = 0; i < 4; ++i) {
    clock_.advance(ClusterFigures::kRepublishMs);
    a->publish({stream_figures("s", 1, 5)}, {});
    b->publish({stream_figures("s", 1, 7)}, {});
  }
  EXPECT_EQ(view(*a, stream_figures("s", 1, 5)).first.incoming_records, 12u);
  // b dies: after kCurrentMs without a renewal it is no longer counted.
  clock_.advance(ClusterFigures::kCurrentMs + 1);
  a->publish({stream_figures("s", 1, 6)}, {});
  EXPECT_EQ(view(*a, stream_figures("s", 1, 6)).first.incoming_records, 6u);
  // b comes back (a new process, its document still there) and publishes over it; then stops cleanly.
  auto b_again = node(*nats_b_, "b");
  b_again->publish({stream_figures("s", 1, 1)}, {});
  EXPECT_EQ(view(*a, stream_figures("s", 1, 6)).first.incoming_records, 7u);
  b_again->withdraw();
  EXPECT_EQ(view(*a, stream_figures("s", 1, 6)).first.incoming_records, 6u);
}

TEST_F(ClusterFiguresTest, ShardLevelFiguresAreSummedPerShard) {
  auto a = node(*nats_a_, "a");
  auto b = node(*nats_b_, "b");
  auto with_shards = [](uint64_t in0, uint64_t in1, int64_t age0) {
    auto m = stream_figures("s", 1, in0 + in1);
    m.shard_level_metrics = {"IncomingRecords"};
    m.shards = {{.index = 0, .incoming_records = in0, .iterator_age_ms = age0}, {.index = 1, .incoming_records = in1}};
    return m;
  };
  a->publish({with_shards(3, 4, 10)}, {});
  b->publish({with_shards(5, 0, 40)}, {});
  std::vector<stream::StreamMetrics> streams = {with_shards(0, 0, 0)};
  std::vector<delivery::DeliveryMetrics> none;
  a->merge(streams, none);
  ASSERT_EQ(streams[0].shards.size(), 2u);
  EXPECT_EQ(streams[0].shards[0].index, 0u);
  EXPECT_EQ(streams[0].shards[0].incoming_records, 8u);
  EXPECT_EQ(streams[0].shards[0].iterator_age_ms, 40);
  EXPECT_EQ(streams[0].shards[1].index, 1u);
  EXPECT_EQ(streams[0].shards[1].incoming_records, 4u);
}

TEST_F(ClusterFiguresTest, BeforeItsFirstPublishANodeShowsItsOwnFigures) {
  auto a = node(*nats_a_, "a");
  const auto [s, fh] = view(*a, stream_figures("s", 1, 5));
  EXPECT_EQ(s.incoming_records, 5u);
}

}  // namespace
}  // namespace eddy::web
