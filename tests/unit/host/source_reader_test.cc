#include "host/source_reader.h"

#include "stream/sequence_number.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>
#include <tuple>

namespace eddy::host {
namespace {

namespace fs = std::filesystem;

// A record as the program gets it: where it came from and its bytes.
using Taken = std::tuple<TimestampMs, uint32_t, uint64_t, std::string>;

class SourceReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("eddy-source-reader-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    stream::StoreOptions o;
    o.dir = dir_;
    o.retention_check_ms = 1'000'000'000;
    auto s = stream::StreamStore::open(o, clock_, committer_);
    ASSERT_TRUE(s.has_value()) << s.error().message;
    store_ = std::move(*s);
    ASSERT_TRUE(store_->create_stream("s", 3, stream::StreamMode::kProvisioned, {}, std::nullopt).has_value());
    for (int i = 0; i < 2000; ++i) {
      auto d = store_->describe("s");
      if (d && d->status == stream::StreamStatus::kActive) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  // `puts` calls of `per_put` records over the three shards; the clock moves on after every
  // second call, so records of one millisecond are in several shards (ties in arrival). (A shard
  // with more records of one millisecond than a round reads hands them out as far as it read:
  // the tests keep below that.)
  std::vector<Taken> put(int puts, int per_put) {
    std::vector<Taken> all;
    int n = 0;
    for (int p = 0; p < puts; ++p) {
      std::vector<std::string> data, keys;
      for (int i = 0; i < per_put; ++i, ++n) {
        data.push_back("{\"n\":" + std::to_string(n) + "}");
        keys.push_back("key" + std::to_string(n * 7919));
      }
      std::vector<stream::PutEntry> entries;
      for (int i = 0; i < per_put; ++i) entries.push_back({keys[i], "", data[i]});
      auto r = store_->put("s", entries);
      EXPECT_TRUE(r.has_value());
      for (int i = 0; i < per_put; ++i) {
        const auto& o = r->outcomes[i];
        all.emplace_back(clock_.now_ms(), o.shard_index, stream::decode_sequence_number(o.sequence_number)->offset,
                         data[i]);
      }
      if (p % 2 == 1) clock_.advance(1);
    }
    // The order the reader promises: by arrival, then shard, then offset.
    std::sort(all.begin(), all.end(), [](const Taken& a, const Taken& b) {
      return std::tie(std::get<0>(a), std::get<1>(a), std::get<2>(a)) <
             std::tie(std::get<0>(b), std::get<1>(b), std::get<2>(b));
    });
    return all;
  }
  // Everything the reader hands out until it is caught up, a round at a time, reading the next
  // round ahead when `ahead`; at most `rounds` rounds.
  std::vector<Taken> drain(SourceReader& reader, size_t read_batch, bool ahead, int rounds = 1000) {
    std::vector<Taken> out;
    std::atomic<bool> stop{false};
    for (int round = 0; round < rounds; ++round) {
      if (!reader.begin_round()) break;
      reader.read(read_batch);
      auto batches = reader.take(read_batch, stop);
      if (batches.empty()) break;
      if (ahead) reader.read_ahead(read_batch);
      for (const auto& b : batches) {
        EXPECT_LE(b.records.size(), read_batch);
        for (const auto& r : b.records) out.emplace_back(r.arrival, r.shard, r.offset, std::string(r.data));
      }
    }
    return out;
  }
  // With every shard still open, the records of the last millisecond wait for more: the reader
  // hands them out once a later record shows that millisecond is complete.
  void put_closing_record() {
    clock_.advance(1000);
    for (int shard_key = 0; shard_key < 64; ++shard_key) {
      const std::string key = "closing" + std::to_string(shard_key);
      stream::PutEntry e{key, "", "{}"};
      ASSERT_TRUE(store_->put("s", std::span<const stream::PutEntry>(&e, 1)).has_value());
    }
  }

  ManualClock clock_{1'700'000'000'000};
  log::GroupCommitter committer_{{log::FsyncMode::kInterval, 1000}};
  fs::path dir_;
  std::unique_ptr<stream::StreamStore> store_;
  WorkerPool pool_{1};
};

TEST_F(SourceReaderTest, RecordsComeMergedByArrivalAtAnyReadSizeWithOrWithoutReadingAhead) {
  auto expected = put(300, 5);
  put_closing_record();
  for (size_t read_batch : {7u, 100u, 2000u}) {
    for (bool ahead : {false, true}) {
      SourceReader reader(*store_, "s", pool_);
      auto got = drain(reader, read_batch, ahead);
      got.erase(std::remove_if(got.begin(), got.end(), [](const Taken& t) { return std::get<3>(t) == "{}"; }),
                got.end());
      ASSERT_EQ(got.size(), expected.size()) << "read_batch " << read_batch << " ahead " << ahead;
      EXPECT_TRUE(got == expected) << "read_batch " << read_batch << " ahead " << ahead;
    }
  }
}

TEST_F(SourceReaderTest, CheckpointPositionsTakenWhileReadingAheadResumeExactly) {
  auto expected = put(300, 5);
  put_closing_record();
  SourceReader first(*store_, "s", pool_);
  auto got = drain(first, 50, true, 2);  // a read ahead is in flight when this returns
  ASSERT_FALSE(got.empty());
  ASSERT_LT(got.size(), expected.size());
  SourceReader second(*store_, "s", pool_);
  second.resume(first.checkpoint_positions(), {});
  auto rest = drain(second, 50, true);
  got.insert(got.end(), rest.begin(), rest.end());
  got.erase(std::remove_if(got.begin(), got.end(), [](const Taken& t) { return std::get<3>(t) == "{}"; }), got.end());
  EXPECT_TRUE(got == expected) << got.size() << " records against " << expected.size();
}

TEST_F(SourceReaderTest, BatchesKeepTheirBytesAfterTheReaderIsGone) {
  put(4, 25);
  put_closing_record();
  std::vector<SourceBatch> batches;
  {
    SourceReader reader(*store_, "s", pool_);
    std::atomic<bool> stop{false};
    ASSERT_TRUE(reader.begin_round());
    reader.read(1000);
    batches = reader.take(1000, stop);
    reader.read_ahead(1000);
  }
  ASSERT_FALSE(batches.empty());
  size_t n = 0;
  for (const auto& b : batches) {
    for (const auto& r : b.records) {
      if (r.data == "{}") continue;  // put_closing_record's
      // Each record's bytes are followed by a newline, as the program's line parsing expects.
      EXPECT_EQ(r.data.substr(0, 5), "{\"n\":");
      EXPECT_EQ(r.data.data()[r.data.size()], '\n');
      ++n;
    }
  }
  EXPECT_EQ(n, 100u);
}

TEST_F(SourceReaderTest, AStopHandsOutNothingMoreAndEverythingFollowsFromTheCheckpoint) {
  auto expected = put(50, 4);
  put_closing_record();
  SourceReader reader(*store_, "s", pool_);
  std::atomic<bool> stop{true};
  ASSERT_TRUE(reader.begin_round());
  reader.read(1000);
  auto batches = reader.take(1000, stop);
  size_t taken = 0;
  for (const auto& b : batches) taken += b.records.size();
  EXPECT_EQ(taken, 0u);  // a stop lets nothing more out
  SourceReader second(*store_, "s", pool_);
  second.resume(reader.checkpoint_positions(), {});
  auto rest = drain(second, 1000, true);
  rest.erase(std::remove_if(rest.begin(), rest.end(), [](const Taken& t) { return std::get<3>(t) == "{}"; }),
             rest.end());
  EXPECT_TRUE(rest == expected) << rest.size() << " records against " << expected.size();
}

}  // namespace
}  // namespace eddy::host
