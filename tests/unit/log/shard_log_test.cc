#include "log/shard_log.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <atomic>

#include <filesystem>
#include <fstream>
#include <future>
#include <random>

#include "log/group_commit.h"

namespace eddy::log {
namespace {

namespace fs = std::filesystem;

class ShardLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("eddy-log-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static LogOptions options(bool visible_after_sync = false) {
    LogOptions o;
    o.visible_after_sync = visible_after_sync;
    o.index_interval_bytes = 256;
    return o;
  }

  std::unique_ptr<ShardLog> open(LogOptions o = options()) {
    auto log = ShardLog::open(dir_, o);
    EXPECT_TRUE(log.has_value()) << (log ? "" : log.error().message);
    return std::move(*log);
  }

  // Appends `n` batches of `per` records: data "r<i>", key "k<i>".
  static void fill(ShardLog& log, int n, int per, TimestampMs t0 = 1000, TimestampMs step = 10) {
    int id = static_cast<int>(log.written_offset());
    for (int b = 0; b < n; ++b) {
      std::vector<std::string> data, keys;
      for (int i = 0; i < per; ++i, ++id) {
        data.push_back("r" + std::to_string(id));
        keys.push_back("k" + std::to_string(id));
      }
      std::vector<AppendRecord> recs;
      for (int i = 0; i < per; ++i) recs.push_back({keys[i], i % 2 ? "12345" : "", data[i]});
      auto r = log.append(recs, t0 + b * step);
      ASSERT_TRUE(r.has_value());
    }
  }

  fs::path segment_path(Offset base = 0) const { return dir_ / Segment::file_name(base); }

  fs::path dir_;
};

TEST_F(ShardLogTest, AppendAndReadBack) {
  auto log = open();
  fill(*log, 10, 5);
  EXPECT_EQ(log->end_offset(), 50u);
  auto r = log->read(0, 1000, SIZE_MAX);
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->records.size(), 50u);
  for (size_t i = 0; i < 50; ++i) {
    EXPECT_EQ(r->records[i].offset, i);
    EXPECT_EQ(r->records[i].data, "r" + std::to_string(i));
    EXPECT_EQ(r->records[i].partition_key, "k" + std::to_string(i));
    EXPECT_EQ(r->records[i].explicit_hash_key, (i % 5) % 2 ? "12345" : "");
    EXPECT_EQ(r->records[i].arrival_ms, 1000 + static_cast<TimestampMs>(i / 5) * 10);
  }
  EXPECT_EQ(r->next_offset, 50u);
}

TEST_F(ShardLogTest, ReadHonoursLimitsAndStartsMidBatch) {
  auto log = open();
  fill(*log, 20, 7);
  auto r = log->read(33, 10, SIZE_MAX);
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->records.size(), 10u);
  EXPECT_EQ(r->records.front().offset, 33u);
  EXPECT_EQ(r->next_offset, 43u);
  // Byte limit: each record is "rNN" + "kNN" = 6 bytes; 30 bytes -> 5 records.
  r = log->read(10, 1000, 30);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->records.size(), 5u);
}

// A read copies the file into buffers that start small and grow: batches larger than a buffer,
// and runs of small batches across several buffers, come back whole.
TEST_F(ShardLogTest, BatchesLargerThanTheReadBufferAndManyBuffers) {
  auto log = open();
  const std::string big(300'000, 'x');
  std::vector<AppendRecord> recs(5, AppendRecord{"k", "", big});  // a 1.5 MB batch
  ASSERT_TRUE(log->append(recs, 1000).has_value());
  fill(*log, 3000, 10, 2000);  // 30,000 small records in 3,000 batches: several buffers
  ASSERT_TRUE(log->append(recs, 9000).has_value());
  auto r = log->read(0, 100'000, SIZE_MAX);
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->records.size(), 30'010u);
  for (size_t i = 0; i < r->records.size(); ++i) {
    ASSERT_EQ(r->records[i].offset, i);
    if (i < 5 || i >= 30'005) {
      ASSERT_EQ(r->records[i].data, big);
    } else {
      ASSERT_EQ(r->records[i].data, "r" + std::to_string(i));
    }
  }
  // From the middle of the second large batch, and with a small limit inside it.
  r = log->read(30'007, 2, SIZE_MAX);
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->records.size(), 2u);
  EXPECT_EQ(r->records[0].offset, 30'007u);
  EXPECT_EQ(r->records[1].data, big);
}

// A read sized by the sparse index (shard_log.cc) ends exactly where asked, from any offset, with
// any limit, within a segment and across segments.
TEST_F(ShardLogTest, ReadsSizedByTheIndexReturnExactlyWhatWasAsked) {
  LogOptions o = options();
  o.segment_bytes = 8192;
  auto log = open(o);
  fill(*log, 300, 7);  // 2,100 records in batches of 7, over several segments
  for (Offset from : {0u, 1u, 6u, 7u, 500u, 1001u, 2093u, 2099u}) {
    for (size_t limit : {1u, 2u, 7u, 8u, 100u, 1000u, 5000u}) {
      auto r = log->read(from, limit, SIZE_MAX);
      ASSERT_TRUE(r.has_value());
      const size_t expect = std::min<size_t>(limit, 2100 - from);
      ASSERT_EQ(r->records.size(), expect) << "from " << from << " limit " << limit;
      for (size_t i = 0; i < expect; ++i) {
        ASSERT_EQ(r->records[i].offset, from + i);
        ASSERT_EQ(r->records[i].data, "r" + std::to_string(from + i));
      }
      EXPECT_EQ(r->next_offset, from + expect);
    }
  }
}

TEST_F(ShardLogTest, ArrivalTimesNeverDecrease) {
  auto log = open();
  fill(*log, 1, 1, 5000);
  fill(*log, 1, 1, 4000);  // the clock went backwards
  auto r = log->read(0, 10, SIZE_MAX);
  ASSERT_EQ(r->records.size(), 2u);
  EXPECT_EQ(r->records[1].arrival_ms, 5000);
}

TEST_F(ShardLogTest, SeekByTimeUsesIndex) {
  auto log = open();
  fill(*log, 100, 3, 1000, 10);  // batch b at 1000 + 10b, offsets 3b..3b+2
  EXPECT_EQ(*log->offset_for_time(0), 0u);
  EXPECT_EQ(*log->offset_for_time(1000), 0u);
  EXPECT_EQ(*log->offset_for_time(1001), 3u);
  EXPECT_EQ(*log->offset_for_time(1500), 150u);
  EXPECT_EQ(*log->offset_for_time(1995), 300u);
  EXPECT_EQ(*log->offset_for_time(99999), 300u);
}

TEST_F(ShardLogTest, ReopenKeepsEverything) {
  {
    auto log = open();
    fill(*log, 30, 4);
  }
  auto log = open();
  EXPECT_EQ(log->end_offset(), 120u);
  fill(*log, 1, 1);
  auto r = log->read(0, 1000, SIZE_MAX);
  ASSERT_EQ(r->records.size(), 121u);
  EXPECT_EQ(r->records.back().data, "r120");
}

TEST_F(ShardLogTest, SegmentsRollAndIndexesPersist) {
  LogOptions o = options();
  o.segment_bytes = 1024;
  {
    auto log = open(o);
    fill(*log, 200, 2);
  }
  size_t segments = 0, indexes = 0;
  for (const auto& e : fs::directory_iterator(dir_)) {
    segments += e.path().extension() == ".log";
    indexes += e.path().extension() == ".index";
  }
  EXPECT_GT(segments, 3u);
  EXPECT_EQ(indexes, segments - 1);  // every sealed segment has its index
  auto log = open(o);
  EXPECT_EQ(log->end_offset(), 400u);
  auto r = log->read(0, 1000, SIZE_MAX);
  ASSERT_EQ(r->records.size(), 400u);
  for (size_t i = 0; i < 400; ++i) ASSERT_EQ(r->records[i].offset, i);
  EXPECT_EQ(*log->offset_for_time(1000 + 150 * 10), 300u);
}

// Every possible torn write of the last batch: the file cut at each byte inside it.
TEST_F(ShardLogTest, RecoversFromTornTailAtEveryByte) {
  uintmax_t good_size, full_size;
  {
    auto log = open();
    fill(*log, 5, 3);
    good_size = fs::file_size(segment_path());
    fill(*log, 1, 4);
    full_size = fs::file_size(segment_path());
  }
  const auto pristine = dir_.string() + ".pristine";
  fs::copy_file(segment_path(), pristine, fs::copy_options::overwrite_existing);
  for (uintmax_t cut = good_size; cut < full_size; ++cut) {
    fs::copy_file(pristine, segment_path(), fs::copy_options::overwrite_existing);
    fs::resize_file(segment_path(), cut);
    auto log = open();
    ASSERT_EQ(log->end_offset(), 15u) << "cut at " << cut;
    EXPECT_EQ(fs::file_size(segment_path()), good_size);
    // The log accepts appends after recovery and they read back in order.
    fill(*log, 1, 1);
    auto r = log->read(0, 100, SIZE_MAX);
    ASSERT_EQ(r->records.size(), 16u);
    EXPECT_EQ(r->records.back().offset, 15u);
  }
  fs::remove(pristine);
}

// A bit flip anywhere in the last batch makes its CRC fail: the batch is dropped, nothing else.
TEST_F(ShardLogTest, RecoversFromBitFlipInLastBatch) {
  uintmax_t good_size, full_size;
  {
    auto log = open();
    fill(*log, 5, 3);
    good_size = fs::file_size(segment_path());
    fill(*log, 1, 4);
    full_size = fs::file_size(segment_path());
  }
  std::string bytes;
  {
    std::ifstream in(segment_path(), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  for (uintmax_t pos = good_size; pos < full_size; ++pos) {
    for (int bit : {0, 7}) {
      std::string damaged = bytes;
      damaged[pos] = static_cast<char>(damaged[pos] ^ (1 << bit));
      {
        std::ofstream out(segment_path(), std::ios::binary | std::ios::trunc);
        out << damaged;
      }
      auto log = open();
      ASSERT_EQ(log->end_offset(), 15u) << "flip at byte " << pos << " bit " << bit;
      auto r = log->read(0, 100, SIZE_MAX);
      ASSERT_EQ(r->records.size(), 15u);
    }
  }
}

TEST_F(ShardLogTest, BitFlipMidSegmentTruncatesFromThere) {
  {
    auto log = open();
    fill(*log, 10, 2);
  }
  std::string bytes;
  {
    std::ifstream in(segment_path(), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes[bytes.size() / 2] ^= 0x10;
  {
    std::ofstream out(segment_path(), std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  auto log = open();
  EXPECT_LT(log->end_offset(), 20u);
  EXPECT_GT(log->end_offset(), 0u);
  auto r = log->read(0, 100, SIZE_MAX);
  ASSERT_EQ(r->records.size(), log->end_offset());
  for (size_t i = 0; i < r->records.size(); ++i) EXPECT_EQ(r->records[i].data, "r" + std::to_string(i));
}

TEST_F(ShardLogTest, GarbageAfterTailIsTruncated) {
  {
    auto log = open();
    fill(*log, 3, 3);
  }
  {
    std::ofstream out(segment_path(), std::ios::binary | std::ios::app);
    out << std::string(100, '\x5a');
  }
  auto log = open();
  EXPECT_EQ(log->end_offset(), 9u);
}

TEST_F(ShardLogTest, RetentionDropsWholeOldSegments) {
  LogOptions o = options();
  o.segment_bytes = 512;
  auto log = open(o);
  fill(*log, 100, 2, 1000, 100);  // batch b arrives at 1000 + 100 b
  const Offset before = log->start_offset();
  EXPECT_EQ(before, 0u);
  ASSERT_TRUE(log->drop_segments_before(6000).has_value());
  const Offset after = log->start_offset();
  EXPECT_GT(after, 0u);
  // Nothing at or after the cutoff is gone; only whole segments before it.
  EXPECT_LE(after, 2u * 50);
  auto r = log->read(0, 1000, SIZE_MAX);
  ASSERT_FALSE(r->records.empty());
  EXPECT_EQ(r->records.front().offset, after);
  EXPECT_EQ(r->records.back().offset, 199u);
  // Everything expired: even the active segment goes, and the log continues at the same offset.
  ASSERT_TRUE(log->drop_segments_before(1'000'000).has_value());
  EXPECT_EQ(log->start_offset(), 200u);
  EXPECT_EQ(log->end_offset(), 200u);
  fill(*log, 1, 1, 2'000'000);
  r = log->read(0, 1000, SIZE_MAX);
  ASSERT_EQ(r->records.size(), 1u);
  EXPECT_EQ(r->records[0].offset, 200u);
}

// A sealed shard (a parent after a split or merge) takes no more records; what it holds stays readable.
TEST_F(ShardLogTest, ASealedLogRefusesAppendsAndKeepsItsRecords) {
  auto log = open(options(/*visible_after_sync=*/false));
  fill(*log, 2, 3);
  ShardStorage& storage = *log;  // through the seam, as the stream store calls it
  ASSERT_TRUE(storage.seal().has_value());
  std::vector<AppendRecord> one = {{"k", "", "late"}};
  auto refused = storage.append(one, 5000);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(storage.written_offset(), 6u);
  EXPECT_EQ(storage.read(0, 10, SIZE_MAX)->records.size(), 6u);
}

// A failed fsync is never followed by a sync that publishes the same bytes: the kernel may have
// dropped them. The shard stops (appends and syncs fail with the reason) until a restart
// recovers it from the disk; the records it had published stay readable.
TEST_F(ShardLogTest, AFailedFsyncStopsTheShardUntilARestart) {
  int fail = 0;
  LogOptions o = options(/*visible_after_sync=*/true);
  o.before_sync = [&fail]() -> Status {
    if (fail > 0 && fail-- > 0) return make_error(Errc::kIo, "fdatasync: Input/output error");
    return {};
  };
  {
    auto log = open(o);
    fill(*log, 1, 3);
    ASSERT_TRUE(log->sync().has_value());
    fill(*log, 1, 2);
    fail = 1;
    auto failed = log->sync();
    ASSERT_FALSE(failed.has_value());
    EXPECT_NE(failed.error().message.find("restart eddy"), std::string::npos) << failed.error().message;
    // The next fsync would succeed, but the two records after the good sync stay unpublished.
    EXPECT_FALSE(log->sync().has_value());
    EXPECT_EQ(log->end_offset(), 3u);
    EXPECT_EQ(log->read(0, 10, SIZE_MAX)->records.size(), 3u);
    std::vector<AppendRecord> one = {{"k", "", "more"}};
    auto refused = log->append(one, 9000);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code, Errc::kIo);
  }
  // The restart: the records the disk holds (here all five) are recovered, and appends go on.
  auto log = open(o);
  EXPECT_EQ(log->written_offset(), 5u);
  fill(*log, 1, 1, 9000);
  ASSERT_TRUE(log->sync().has_value());
  EXPECT_EQ(log->read(0, 10, SIZE_MAX)->records.size(), 6u);
}

TEST_F(ShardLogTest, RecordsBecomeVisibleOnlyAfterSyncWhenAsked) {
  auto log = open(options(/*visible_after_sync=*/true));
  fill(*log, 1, 3);
  EXPECT_EQ(log->end_offset(), 0u);
  EXPECT_TRUE(log->read(0, 10, SIZE_MAX)->records.empty());
  ASSERT_TRUE(log->sync().has_value());
  EXPECT_EQ(log->end_offset(), 3u);
  EXPECT_EQ(log->read(0, 10, SIZE_MAX)->records.size(), 3u);
}

TEST_F(ShardLogTest, GroupCommitAcknowledgesAfterSync) {
  std::shared_ptr<ShardLog> log = open(options(true));
  GroupCommitter committer({FsyncMode::kAlways, 0});
  fill(*log, 1, 2);
  std::promise<Status> done;
  committer.commit({log}, [&done](Status st) { done.set_value(st); });
  auto st = done.get_future().get();
  EXPECT_TRUE(st.has_value());
  EXPECT_EQ(log->end_offset(), 2u);
}

// A server stops its committer before its connections go: commits waiting then are completed by
// stop(), and a commit after it syncs on the caller's thread and answers before returning.
TEST_F(ShardLogTest, AStoppedCommitterCompletesWhatWaitsAndSyncsLaterCommitsItself) {
  std::shared_ptr<ShardLog> log = open(options(true));
  GroupCommitter committer({FsyncMode::kAlways, 0});
  std::atomic<int> answered{0};
  for (int i = 0; i < 50; ++i) {
    fill(*log, 1, 2);
    committer.commit({log}, [&answered](Status st) { answered += st.has_value() ? 1 : 100; });
  }
  committer.stop();
  EXPECT_EQ(answered.load(), 50);
  EXPECT_EQ(log->end_offset(), 100u);
  fill(*log, 1, 2);
  bool done = false;
  committer.commit({log, log}, [&done](Status st) { done = st.has_value(); });
  EXPECT_TRUE(done);
  EXPECT_EQ(log->end_offset(), 102u);
  committer.stop();  // again: nothing to do
}

TEST(FsyncPolicy, Parse) {
  EXPECT_EQ(parse_fsync_policy("always")->mode, FsyncMode::kAlways);
  auto p = parse_fsync_policy("interval=250");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->mode, FsyncMode::kInterval);
  EXPECT_EQ(p->interval_ms, 250);
  EXPECT_FALSE(parse_fsync_policy("sometimes").has_value());
  EXPECT_FALSE(parse_fsync_policy("interval=").has_value());
  EXPECT_FALSE(parse_fsync_policy("interval=-5").has_value());
}

}  // namespace
}  // namespace eddy::log
