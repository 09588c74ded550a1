// The shard storage seam on a real JetStream stream: what ShardLog promises (dense offsets,
// arrival times that never decrease, reads from any offset, seek by time, retention, sealing),
// also when two nodes append to one shard and when the server stops answering for a while.
#include "cluster/jetstream_shard.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "nats_test_server.h"

namespace eddy::cluster {
namespace {

using nats_test::nats_server_path;
using nats_test::NatsServer;

class JetStreamShardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(nats_server_path().empty()) << "nats-server is not installed: run make deps";
    server_ = std::make_unique<NatsServer>(::testing::UnitTest::GetInstance()->current_test_info()->name());
    nats_ = server_->connect();
    ASSERT_TRUE(nats_) << "nats-server did not start at " << server_->url();
  }

  static JetStreamShardOptions options(const std::string& writer = "a") {
    JetStreamShardOptions o;
    o.stream = shard_stream_name(0xabc, 0);
    o.subject = shard_subject(0xabc, 0);
    o.description = "sales/shardId-000000000000";
    o.writer_id = writer;
    return o;
  }
  std::shared_ptr<JetStreamShard> open(NatsConnection& nats, JetStreamShardOptions o = options()) {
    auto s = JetStreamShard::open(nats, std::move(o));
    EXPECT_TRUE(s.has_value()) << s.error().message;
    return s ? *s : nullptr;
  }

  // Appends `n` batches of `per` records "r<i>" (key "k<i>"), arrivals t0, t0 + step, ...
  static void fill(log::ShardStorage& shard, int n, int per, TimestampMs t0 = 1000, TimestampMs step = 10) {
    int id = static_cast<int>(shard.written_offset());
    for (int b = 0; b < n; ++b) {
      std::vector<std::string> data, keys;
      for (int i = 0; i < per; ++i, ++id) {
        data.push_back("r" + std::to_string(id));
        keys.push_back("k" + std::to_string(id));
      }
      std::vector<log::AppendRecord> recs;
      for (int i = 0; i < per; ++i) recs.push_back({keys[i], i % 2 ? "12345" : "", data[i]});
      auto r = shard.append(recs, t0 + b * step);
      ASSERT_TRUE(r.has_value()) << r.error().message;
    }
  }
  static std::vector<std::string> read_all(const log::ShardStorage& shard, log::Offset from = 0) {
    std::vector<std::string> out;
    for (int guard = 0; guard < 10000; ++guard) {
      auto r = shard.read(from, 7, 1 << 20);
      EXPECT_TRUE(r.has_value()) << r.error().message;
      if (!r || r->records.empty()) break;
      for (const auto& rec : r->records) out.emplace_back(rec.data);
      from = r->next_offset;
    }
    return out;
  }

  std::unique_ptr<NatsServer> server_;
  std::unique_ptr<NatsConnection> nats_;
};

TEST_F(JetStreamShardTest, AppendAndReadBackWithDenseOffsets) {
  auto shard = open(*nats_);
  ASSERT_TRUE(shard);
  EXPECT_EQ(shard->end_offset(), 0u);
  EXPECT_FALSE(shard->oldest_arrival_ms());
  auto empty = shard->read(0, 10, 1 << 20);
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->records.empty());
  fill(*shard, 5, 3);
  EXPECT_EQ(shard->end_offset(), 15u);
  EXPECT_EQ(shard->start_offset(), 0u);
  auto r = shard->read(4, 5, 1 << 20);  // starts inside the second batch
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_EQ(r->records.size(), 5u);
  EXPECT_EQ(r->records[0].offset, 4u);
  EXPECT_EQ(r->records[0].data, "r4");
  EXPECT_EQ(r->records[0].partition_key, "k4");
  EXPECT_EQ(r->records[1].explicit_hash_key, "");
  EXPECT_EQ(r->records[0].explicit_hash_key, "12345");
  EXPECT_EQ(r->next_offset, 9u);
  auto small = shard->read(0, 100, 1);  // a byte limit still returns one record
  ASSERT_TRUE(small.has_value());
  EXPECT_EQ(small->records.size(), 1u);
  EXPECT_EQ(read_all(*shard).size(), 15u);
  EXPECT_EQ(read_all(*shard, 14), std::vector<std::string>{"r14"});

  // Another node opening the same shard sees the same records and continues the offsets.
  auto other_nats = server_->connect();
  auto other = open(*other_nats, options("b"));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->end_offset(), 15u);
  EXPECT_EQ(read_all(*other, 10).front(), "r10");
  fill(*other, 1, 2, 5000);
  EXPECT_EQ(other->end_offset(), 17u);
  auto tail = shard->read(15, 10, 1 << 20);  // the first node reads the other's batch at once
  ASSERT_TRUE(tail.has_value());
  ASSERT_EQ(tail->records.size(), 2u);
  EXPECT_EQ(tail->records[1].data, "r16");
}

TEST_F(JetStreamShardTest, ArrivalTimesNeverDecreaseAndSeekByTime) {
  auto shard = open(*nats_);
  ASSERT_TRUE(shard);
  fill(*shard, 1, 2, 1000);
  std::vector<log::AppendRecord> one = {{"k", "", "late"}};
  auto back = shard->append(one, 500);  // the clock went backwards
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->arrival_ms, 1000);
  fill(*shard, 10, 1, 2000, 100);  // offsets 3..12 at 2000, 2100, ..., 2900
  EXPECT_EQ(*shard->offset_for_time(0), 0u);
  EXPECT_EQ(*shard->offset_for_time(1001), 3u);
  EXPECT_EQ(*shard->offset_for_time(2150), 5u);
  EXPECT_EQ(*shard->offset_for_time(2900), 12u);
  EXPECT_EQ(*shard->offset_for_time(3000), 13u);  // none: the end
  EXPECT_EQ(*shard->arrival_of(2), 1000);
  EXPECT_EQ(*shard->arrival_of(7), 2400);
  EXPECT_EQ(shard->last_arrival_ms(), 2900);
  EXPECT_EQ(shard->oldest_arrival_ms(), 1000);
}

TEST_F(JetStreamShardTest, RetentionPurgesOldBatchesButKeepsTheLast) {
  auto shard = open(*nats_);
  ASSERT_TRUE(shard);
  fill(*shard, 10, 2, 1000, 100);  // batch b: offsets 2b, 2b+1, arrival 1000 + 100b
  ASSERT_TRUE(shard->trim_before(1450).has_value());
  EXPECT_EQ(shard->start_offset(), 10u);
  EXPECT_EQ(shard->oldest_arrival_ms(), 1500);
  auto r = shard->read(0, 1, 1 << 20);  // before the oldest: starts at the oldest
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_EQ(r->records.size(), 1u);
  EXPECT_EQ(r->records[0].offset, 10u);
  ASSERT_TRUE(shard->trim_before(99999).has_value());
  EXPECT_EQ(shard->start_offset(), 18u) << "the last batch stays";
  fill(*shard, 1, 1, 100000);
  EXPECT_EQ(shard->end_offset(), 21u);
  EXPECT_EQ(read_all(*shard), (std::vector<std::string>{"r18", "r19", "r20"}));
  // A node that has seen nothing of it finds its way too.
  auto fresh_nats = server_->connect();
  auto fresh = open(*fresh_nats, options("c"));
  EXPECT_EQ(read_all(*fresh, 3), (std::vector<std::string>{"r18", "r19", "r20"}));
  EXPECT_EQ(*fresh->offset_for_time(0), 18u);
}

TEST_F(JetStreamShardTest, ASealedShardRefusesEveryNodesAppendsAndItsEndIsFinal) {
  auto shard = open(*nats_);
  auto other_nats = server_->connect();
  auto other = open(*other_nats, options("b"));
  ASSERT_TRUE(shard && other);
  fill(*shard, 2, 2);
  fill(*other, 1, 1, 2000);
  ASSERT_TRUE(shard->seal().has_value());
  EXPECT_EQ(shard->written_offset(), 5u) << "the other node's batch before the seal counts";
  std::vector<log::AppendRecord> one = {{"k", "", "x"}};
  for (auto* s : {shard.get(), other.get()}) {
    auto refused = s->append(one, 3000);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code, Errc::kInvalidArgument) << refused.error().message;
  }
  ASSERT_TRUE(other->seal().has_value()) << "sealing twice is harmless";
  EXPECT_EQ(read_all(*other).size(), 5u);
  EXPECT_TRUE(shard->trim_before(99999).has_value()) << "a sealed shard keeps its records until destroyed";
  EXPECT_EQ(shard->start_offset(), 0u);
  // Reopened (at a node's restart), it stays sealed.
  auto again = open(*nats_);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->append(one, 4000).has_value());
  shard->destroy();
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  EXPECT_NE(js_GetStreamInfo(&info, nats_->jetstream(), options().stream.c_str(), nullptr, &code), NATS_OK);
  EXPECT_EQ(code, JSStreamNotFoundErr);
  jsStreamInfo_Destroy(info);
}

// A node that saw the shard empty, then appends after another node did, still starts it at the
// other node's first record (its cached head was stale, not this batch).
TEST_F(JetStreamShardTest, AStaleEmptyHeadDoesNotHideOtherNodesFirstRecords) {
  auto a = open(*nats_, options("a"));
  auto other_nats = server_->connect();
  auto b = open(*other_nats, options("b"));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->start_offset(), 0u);
  EXPECT_FALSE(a->oldest_arrival_ms());  // a has now seen it empty
  fill(*b, 2, 2, 1000);
  fill(*a, 1, 1, 2000);
  EXPECT_EQ(a->start_offset(), 0u);
  EXPECT_EQ(read_all(*a), (std::vector<std::string>{"r0", "r1", "r2", "r3", "r4"}));
}

// Two nodes appending to one shard at once: every record stored once, offsets dense, arrivals
// never decreasing, whoever won each race.
TEST_F(JetStreamShardTest, TwoNodesAppendingToOneShardKeepOffsetsDense) {
  auto other_nats = server_->connect();
  auto a = open(*nats_, options("a"));
  auto b = open(*other_nats, options("b"));
  ASSERT_TRUE(a && b);
  constexpr int kBatches = 60;
  auto writer = [&](JetStreamShard& shard, const std::string& node, TimestampMs t0) {
    for (int i = 0; i < kBatches; ++i) {
      const std::string d1 = node + std::to_string(i) + "-0", d2 = node + std::to_string(i) + "-1";
      std::vector<log::AppendRecord> recs = {{"k", "", d1}, {"k", "", d2}};
      auto r = shard.append(recs, t0 + i);
      ASSERT_TRUE(r.has_value()) << r.error().message;
    }
  };
  // b's clock runs 1000 ms behind: its batches take a's arrival when they follow a's.
  std::thread ta(writer, std::ref(*a), "a", 5000), tb(writer, std::ref(*b), "b", 4000);
  ta.join();
  tb.join();
  // Each node's view of the end is at most tail_refresh_ms old.
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_EQ(a->end_offset(), 4u * kBatches);
  std::set<std::string> seen;
  TimestampMs last = 0;
  log::Offset expected = 0;
  for (log::Offset from = 0; from < 4u * kBatches;) {
    auto r = b->read(from, 50, 1 << 20);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    ASSERT_FALSE(r->records.empty());
    for (const auto& rec : r->records) {
      EXPECT_EQ(rec.offset, expected++);
      EXPECT_TRUE(seen.insert(std::string(rec.data)).second) << "stored twice: " << rec.data;
      auto arrival = b->arrival_of(rec.offset);
      ASSERT_TRUE(arrival.has_value());
      EXPECT_GE(*arrival, last);
      last = *arrival;
    }
    from = r->next_offset;
  }
  EXPECT_EQ(seen.size(), 4u * kBatches);
  EXPECT_GT(a->append_conflicts() + b->append_conflicts(), 0u) << "the nodes should have raced";
}

// Appends arriving while a publish is in flight go out together in the next message: each caller
// still gets its own contiguous offsets, in the order its records were given.
TEST_F(JetStreamShardTest, ConcurrentAppendsOnOneNodeAreGroupedAndKeepTheirOffsets) {
  auto shard = open(*nats_);
  ASSERT_TRUE(shard);
  constexpr int kThreads = 8, kAppends = 40, kPer = 3;
  std::mutex mu;
  std::map<log::Offset, std::string> expected;  // offset -> data, as the callers were told
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppends; ++i) {
        std::vector<std::string> data;
        for (int j = 0; j < kPer; ++j)
          data.push_back("t" + std::to_string(t) + "-" + std::to_string(i) + "-" + std::to_string(j));
        std::vector<log::AppendRecord> recs;
        for (const auto& d : data) recs.push_back({"k", "", d});
        auto r = shard->append(recs, 1000 + i);
        ASSERT_TRUE(r.has_value()) << r.error().message;
        ASSERT_EQ(r->count, static_cast<uint32_t>(kPer));
        std::lock_guard lock(mu);
        for (int j = 0; j < kPer; ++j) expected[r->first_offset + j] = data[j];
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(expected.size(), static_cast<size_t>(kThreads * kAppends * kPer)) << "no offset given twice";
  EXPECT_EQ(expected.rbegin()->first + 1, expected.size()) << "dense";
  log::Offset at = 0;
  for (const auto& data : read_all(*shard)) EXPECT_EQ(data, expected[at++]);
  EXPECT_EQ(at, expected.size());
  EXPECT_GT(shard->grouped_appends(), 0u) << "eight writers and one publish at a time should have grouped";
}

// The server stops answering while an append waits for its ack: the append retries the same
// message, which the server stores once when it answers again.
TEST_F(JetStreamShardTest, AnAppendRetriedAcrossAnOutageIsStoredOnce) {
  auto o = options();
  o.publish_wait_ms = 300;
  o.append_deadline_ms = 10000;
  auto shard = open(*nats_, o);
  ASSERT_TRUE(shard);
  fill(*shard, 1, 1);
  server_->pause();
  std::thread thaw([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    server_->resume();
  });
  std::vector<log::AppendRecord> one = {{"k", "", "during"}};
  auto r = shard->append(one, 2000);
  thaw.join();
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->first_offset, 1u);
  EXPECT_EQ(read_all(*shard), (std::vector<std::string>{"r0", "during"}));
}

// An outage longer than the append's deadline: a retryable error; the batch may still land when
// the server answers again, and the next append numbers itself after it.
TEST_F(JetStreamShardTest, AnOutageBeyondTheDeadlineIsUnavailableAndOffsetsStayDense) {
  auto o = options();
  o.publish_wait_ms = 200;
  o.append_deadline_ms = 600;
  auto shard = open(*nats_, o);
  ASSERT_TRUE(shard);
  fill(*shard, 1, 1);
  server_->pause();
  std::vector<log::AppendRecord> one = {{"k", "", "maybe"}};
  auto r = shard->append(one, 2000);
  server_->resume();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::kUnavailable) << r.error().message;
  std::vector<log::AppendRecord> next = {{"k", "", "after"}};
  std::optional<Result<log::AppendResult>> ok;
  for (int i = 0; i < 50 && !(ok && ok->has_value()); ++i) ok = shard->append(next, 3000);
  ASSERT_TRUE(ok && ok->has_value());
  const auto all = read_all(*shard);
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.back(), "after");
  EXPECT_EQ((*ok)->first_offset + 1, all.size()) << "dense offsets whether or not 'maybe' landed";
}

TEST_F(JetStreamShardTest, MoreReplicasThanServersIsAClearError) {
  auto o = options();
  o.replicas = 3;
  auto s = JetStreamShard::open(*nats_, o);
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message.find("--replicas"), std::string::npos) << s.error().message;
}

}  // namespace
}  // namespace eddy::cluster
