#include "stream/stream_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "stream/account_settings.h"
#include "stream/sequence_number.h"

namespace eddy::stream {
namespace {

namespace fs = std::filesystem;

class StreamStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("eddy-store-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    reopen();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  void reopen() {
    store_.reset();
    StoreOptions o;
    o.dir = dir_;
    o.retention_check_ms = 1'000'000'000;  // retention only when a test asks
    o.cipher = cipher_;
    auto s = StreamStore::open(o, clock_, committer_);
    ASSERT_TRUE(s.has_value()) << s.error().message;
    store_ = std::move(*s);
  }
  void wait_active(const std::string& name) {
    for (int i = 0; i < 2000; ++i) {
      auto d = store_->describe(name);
      if (d && d->status == StreamStatus::kActive) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    FAIL() << name << " never became ACTIVE";
  }
  void create(const std::string& name, int shards) {
    ASSERT_TRUE(store_->create_stream(name, shards, StreamMode::kProvisioned, {}, std::nullopt).has_value());
    wait_active(name);
  }
  // Puts records "<prefix><i>" with partition key "key<i>" and returns their outcomes.
  std::vector<PutOutcome> put(const std::string& name, int n, const std::string& prefix = "d") {
    std::vector<std::string> data, keys;
    for (int i = 0; i < n; ++i) {
      data.push_back(prefix + std::to_string(i));
      keys.push_back("key" + std::to_string(i));
    }
    std::vector<PutEntry> entries;
    for (int i = 0; i < n; ++i) entries.push_back({keys[i], "", data[i]});
    auto r = store_->put(name, entries);
    EXPECT_TRUE(r.has_value());
    return r->outcomes;
  }
  std::vector<std::string> read_all(const std::string& name, const std::string& shard) {
    auto it = store_->shard_iterator(name, shard, IteratorType::kTrimHorizon, std::nullopt, std::nullopt);
    EXPECT_TRUE(it.has_value());
    std::vector<std::string> out;
    std::optional<std::string> iter = *it;
    for (int i = 0; i < 100 && iter; ++i) {
      auto r = store_->get_records(*iter, 10000);
      EXPECT_TRUE(r.has_value()) << r.error().message;
      for (const auto& rec : r->read.records) out.emplace_back(rec.data);
      if (r->read.records.empty() && r->next_iterator) break;
      iter = r->next_iterator;
    }
    return out;
  }

  std::shared_ptr<const RecordCipher> cipher_;  // encryption at rest, when a test gives a key
  ManualClock clock_{1'700'000'000'000};
  log::GroupCommitter committer_{{log::FsyncMode::kInterval, 1000}};
  fs::path dir_;
  std::unique_ptr<StreamStore> store_;
};

TEST_F(StreamStoreTest, CreateDescribeAndDuplicate) {
  create("s", 3);
  auto d = store_->describe("s");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->shards.size(), 3u);
  EXPECT_EQ(d->arn, "arn:aws:kinesis:us-east-1:000000000000:stream/s");
  auto again = store_->create_stream("s", 1, StreamMode::kProvisioned, {}, std::nullopt);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, Errc::kResourceInUse);
  EXPECT_EQ(store_->describe("nope").error().code, Errc::kResourceNotFound);
}

// Tag keys and values take Kinesis's characters only; a refused change leaves the tags as they were.
TEST_F(StreamStoreTest, TagsTakeKinesisCharactersOnly) {
  create("s", 1);
  ASSERT_TRUE(store_->add_tags("s", {{"Ünïcödé ключ _.:/=+-@ 42", "v a l"}, {"aws:cloudformation:stack-name", ""}})
                  .has_value());
  for (const std::string bad : {";", "\t", "\n", ",", "%", "*", "\x80", "\xC3", "\xE2\x80\xA8"}) {
    auto as_key = store_->add_tags("s", {{"k" + bad, "v"}});
    ASSERT_FALSE(as_key.has_value()) << bad;
    EXPECT_EQ(as_key.error().code, Errc::kInvalidArgument);
    EXPECT_FALSE(store_->add_tags("s", {{"k", "v" + bad}}).has_value()) << bad;
    EXPECT_FALSE(store_->create_stream("t", 1, StreamMode::kProvisioned, {{"k" + bad, ""}}, std::nullopt).has_value());
  }
  EXPECT_EQ(store_->add_tags("no-such-stream", {{"k;", "v"}}).error().code, Errc::kInvalidArgument)
      << "a member's constraints come before whether the stream exists";
  EXPECT_EQ(store_->describe("s")->tags.size(), 2u);
  EXPECT_FALSE(store_->describe("t").has_value());
}

TEST_F(StreamStoreTest, PutRoutesAndSequencesIncreasePerShard) {
  create("s", 4);
  auto out = put("s", 200);
  std::map<uint32_t, std::string> last;
  for (const auto& o : out) {
    ASSERT_TRUE(o.ok);
    const std::string& v = o.sequence_number;
    ASSERT_EQ(v.size(), 56u) << v;  // Kinesis's shape: compared as integers, here as equal-length strings
    if (last.count(o.shard_index)) {
      EXPECT_GT(v, last[o.shard_index]);
    }
    last[o.shard_index] = v;
  }
  EXPECT_EQ(last.size(), 4u);  // 200 random-ish keys reach every shard
}

TEST_F(StreamStoreTest, IteratorsExpireAfterFiveMinutes) {
  create("s", 1);
  put("s", 3);
  auto it = store_->shard_iterator("s", "shardId-000000000000", IteratorType::kTrimHorizon, std::nullopt, std::nullopt);
  ASSERT_TRUE(it.has_value());
  clock_.advance(5 * 60 * 1000);
  EXPECT_TRUE(store_->get_records(*it, 10).has_value());  // exactly 5 minutes: still valid
  clock_.advance(1);
  auto r = store_->get_records(*it, 10);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::kExpiredIterator);
  EXPECT_EQ(store_->get_records("bm90IGFuIGl0ZXJhdG9y", 10).error().code, Errc::kInvalidArgument);
}

TEST_F(StreamStoreTest, IteratorTypes) {
  create("s", 1);
  const auto first = put("s", 5, "a");
  clock_.advance(1000);
  const TimestampMs t = clock_.now_ms();
  put("s", 5, "b");
  const std::string shard = "shardId-000000000000";
  auto read_from = [&](IteratorType type, std::optional<std::string> seq, std::optional<TimestampMs> ts) {
    auto it = store_->shard_iterator("s", shard, type, seq, ts);
    EXPECT_TRUE(it.has_value()) << it.error().message;
    auto r = store_->get_records(*it, 100);
    std::vector<std::string> out;
    for (const auto& rec : r->read.records) out.emplace_back(rec.data);
    return out;
  };
  EXPECT_EQ(read_from(IteratorType::kTrimHorizon, std::nullopt, std::nullopt).size(), 10u);
  EXPECT_TRUE(read_from(IteratorType::kLatest, std::nullopt, std::nullopt).empty());
  EXPECT_EQ(read_from(IteratorType::kAtTimestamp, std::nullopt, t).front(), "b0");
  EXPECT_EQ(read_from(IteratorType::kAtSequenceNumber, first[2].sequence_number, std::nullopt).front(), "a2");
  EXPECT_EQ(read_from(IteratorType::kAfterSequenceNumber, first[2].sequence_number, std::nullopt).front(), "a3");
  // Wrong combinations and foreign sequence numbers.
  EXPECT_EQ(
      store_->shard_iterator("s", shard, IteratorType::kAtSequenceNumber, std::nullopt, std::nullopt).error().code,
      Errc::kInvalidArgument);
  EXPECT_EQ(
      store_->shard_iterator("s", shard, IteratorType::kAtSequenceNumber, encode_sequence_number(5, 0), std::nullopt)
          .error()
          .code,
      Errc::kInvalidArgument);
  EXPECT_EQ(store_->shard_iterator("s", "shardId-000000000009", IteratorType::kLatest, std::nullopt, std::nullopt)
                .error()
                .code,
            Errc::kResourceNotFound);
}

TEST_F(StreamStoreTest, MetricsCountPutsAndReadsWithTheIteratorAge) {
  create("m", 2);
  create("other", 1);
  put("m", 10, "abc");  // "abc0".."abc9": 4 bytes each
  clock_.advance(1500);
  auto metrics = [&](const std::string& name) {
    for (const auto& m : store_->metrics()) {
      if (m.name == name) return m;
    }
    ADD_FAILURE() << "no metrics for " << name;
    return StreamMetrics{};
  };
  auto m = metrics("m");
  EXPECT_EQ(m.incoming_records, 10u);
  EXPECT_EQ(m.incoming_bytes, 40u);
  EXPECT_EQ(m.open_shards, 2u);
  EXPECT_EQ(m.status, "ACTIVE");
  EXPECT_EQ(metrics("other").incoming_records, 0u);
  // One GetRecords of a shard with records: its last record is 1.5 s old.
  std::string shard;
  size_t in_shard = 0;
  for (const char* id : {"shardId-000000000000", "shardId-000000000001"}) {
    auto it = store_->shard_iterator("m", id, IteratorType::kTrimHorizon, std::nullopt, std::nullopt);
    auto r = store_->get_records(*it, 100);
    ASSERT_TRUE(r.has_value());
    if (!r->read.records.empty()) {
      shard = id;
      in_shard = r->read.records.size();
      break;
    }
  }
  ASSERT_FALSE(shard.empty());
  m = metrics("m");
  EXPECT_EQ(m.outgoing_records, in_shard);
  EXPECT_EQ(m.outgoing_bytes, 4 * in_shard);
  EXPECT_EQ(m.iterator_age_ms, 1500);
  EXPECT_EQ(m.millis_behind_latest, 0);
  EXPECT_GE(m.get_records_calls, 1u);
}

TEST_F(StreamStoreTest, ShardPositionAtTime) {
  create("t", 1);
  put("t", 3, "a");
  clock_.advance(1000);
  const TimestampMs t = clock_.now_ms();
  put("t", 2, "b");
  EXPECT_EQ(*store_->shard_position_at("t", 0, t), 3u);
  EXPECT_EQ(*store_->shard_position_at("t", 0, 0), 0u);
  EXPECT_EQ(*store_->shard_position_at("t", 0, t + 1), 5u);
  EXPECT_FALSE(store_->shard_position_at("nosuch", 0, t).has_value());
}

TEST_F(StreamStoreTest, RetentionMovesTrimHorizon) {
  create("s", 1);
  put("s", 3, "old");
  clock_.advance(23 * 3600 * 1000LL);
  put("s", 2, "new");
  EXPECT_EQ(read_all("s", "shardId-000000000000").size(), 5u);
  clock_.advance(2 * 3600 * 1000LL);  // the first records are now 25 h old
  const auto after = read_all("s", "shardId-000000000000");
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0], "new0");
  store_->enforce_retention();
  EXPECT_EQ(read_all("s", "shardId-000000000000").size(), 2u);
}

TEST_F(StreamStoreTest, RetentionBounds) {
  create("s", 1);
  EXPECT_EQ(store_->change_retention("s", 23, true).error().code, Errc::kInvalidArgument);
  EXPECT_EQ(store_->change_retention("s", 8761, true).error().code, Errc::kInvalidArgument);
  EXPECT_TRUE(store_->change_retention("s", 48, true).has_value());
  EXPECT_EQ(store_->change_retention("s", 30, true).error().code, Errc::kInvalidArgument);
  EXPECT_TRUE(store_->change_retention("s", 30, false).has_value());
  EXPECT_EQ(store_->describe("s")->retention_hours, 30);
}

TEST_F(StreamStoreTest, SplitKeepsLineageAndChildrenTakeNewRecords) {
  create("s", 1);
  put("s", 10, "before");
  ASSERT_TRUE(store_->split_shard("s", "shardId-000000000000", "170141183460469231731687303715884105728").has_value());
  wait_active("s");
  put("s", 10, "after");
  auto d = store_->describe("s");
  ASSERT_EQ(d->shards.size(), 3u);
  EXPECT_TRUE(d->shards[0].ending_sequence_number.has_value());
  EXPECT_EQ(d->shards[1].info.parent, 0u);
  EXPECT_EQ(d->shards[2].info.parent, 0u);
  EXPECT_EQ(to_decimal(d->shards[1].info.range.end), "170141183460469231731687303715884105727");
  EXPECT_EQ(read_all("s", "shardId-000000000000").size(), 10u);
  EXPECT_EQ(read_all("s", "shardId-000000000001").size() + read_all("s", "shardId-000000000002").size(), 10u);
  // The end of the closed parent: no next iterator, both children announced.
  auto it = store_->shard_iterator("s", "shardId-000000000000", IteratorType::kTrimHorizon, std::nullopt, std::nullopt);
  auto r = store_->get_records(*it, 10000);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->read.records.size(), 10u);
  EXPECT_FALSE(r->next_iterator.has_value());
  ASSERT_EQ(r->child_shards.size(), 2u);
  EXPECT_EQ(r->child_shards[0].parent_shards, std::vector<std::string>{"shardId-000000000000"});
  // Lineage survives a restart.
  reopen();
  d = store_->describe("s");
  ASSERT_EQ(d->shards.size(), 3u);
  EXPECT_FALSE(d->shards[0].info.open());
  EXPECT_EQ(read_all("s", "shardId-000000000000").size(), 10u);
}

TEST_F(StreamStoreTest, MergeAndUpdateShardCount) {
  create("s", 2);
  EXPECT_EQ(store_->merge_shards("s", "shardId-000000000000", "shardId-000000000000").error().code,
            Errc::kInvalidArgument);
  ASSERT_TRUE(store_->merge_shards("s", "shardId-000000000000", "shardId-000000000001").has_value());
  wait_active("s");
  auto d = store_->describe("s");
  ASSERT_EQ(d->shards.size(), 3u);
  EXPECT_EQ(d->shards[2].info.parent, 0u);
  EXPECT_EQ(d->shards[2].info.adjacent_parent, 1u);
  EXPECT_EQ(d->shards[2].info.range.start, uint128{0});
  EXPECT_EQ(d->shards[2].info.range.end, kUint128Max);
  auto up = store_->update_shard_count("s", 2);
  ASSERT_TRUE(up.has_value());
  wait_active("s");
  d = store_->describe("s");
  EXPECT_EQ(d->open_shard_count, 2u);
  EXPECT_EQ(store_->update_shard_count("s", 5).error().code, Errc::kLimitExceeded);
}

TEST_F(StreamStoreTest, DeleteRemovesAndAllowsRecreate) {
  create("s", 1);
  put("s", 3);
  ASSERT_TRUE(store_->delete_stream("s").has_value());
  for (int i = 0; i < 2000 && store_->describe("s"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(store_->describe("s").error().code, Errc::kResourceNotFound);
  create("s", 1);
  EXPECT_TRUE(read_all("s", "shardId-000000000000").empty());
}

TEST_F(StreamStoreTest, ListStreamsPaginates) {
  for (const char* n : {"a", "b", "c"}) create(n, 1);
  auto p = store_->list_streams(2, std::nullopt, std::nullopt);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->streams.size(), 2u);
  EXPECT_TRUE(p->has_more);
  ASSERT_TRUE(p->next_token.has_value());
  auto p2 = store_->list_streams(2, std::nullopt, p->next_token);
  ASSERT_EQ(p2->streams.size(), 1u);
  EXPECT_EQ(p2->streams[0].name, "c");
  clock_.advance(301 * 1000);
  EXPECT_EQ(store_->list_streams(2, std::nullopt, p->next_token).error().code, Errc::kExpiredNextToken);
}

}  // namespace
}  // namespace eddy::stream

namespace eddy::stream {
namespace {

TEST_F(StreamStoreTest, ConsumersAreKeptWithTheStreamAndSurviveARestart) {
  create("s", 1);
  auto c = store_->register_consumer("s", "reader", {{"team", "a"}});
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->arn, store_->arn("s") + "/consumer/reader:" + std::to_string(clock_.now_ms() / 1000));
  EXPECT_EQ(c->status, "ACTIVE");
  EXPECT_EQ(store_->register_consumer("s", "reader", {}).error().code, Errc::kResourceInUse);
  ASSERT_TRUE(store_->register_consumer("s", "another", {}).has_value());
  reopen();
  auto listed = store_->list_consumers("s");
  ASSERT_TRUE(listed.has_value());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, "another");  // by name
  EXPECT_EQ((*listed)[1].arn, c->arn);
  EXPECT_EQ(store_->describe("s")->consumer_count, 2u);
  // By ARN, or by stream and name; an ARN of an earlier consumer of the same name is not this one.
  EXPECT_EQ(store_->describe_consumer({std::nullopt, std::nullopt, c->arn})->name, "reader");
  EXPECT_EQ(store_->describe_consumer({"s", "reader", std::nullopt})->arn, c->arn);
  EXPECT_EQ(
      store_->describe_consumer({std::nullopt, std::nullopt, store_->arn("s") + "/consumer/reader:1"}).error().code,
      Errc::kResourceNotFound);
  EXPECT_EQ(store_->describe_consumer({std::nullopt, std::nullopt, "arn:aws:kinesis:x"}).error().code,
            Errc::kInvalidArgument);
  EXPECT_EQ(store_->describe_consumer({"s", std::nullopt, std::nullopt}).error().code, Errc::kInvalidArgument);
  // A stream with consumers is deleted only when the caller says so.
  EXPECT_EQ(store_->delete_stream("s", false).error().code, Errc::kResourceInUse);
  ASSERT_TRUE(store_->deregister_consumer({std::nullopt, std::nullopt, c->arn}).has_value());
  EXPECT_EQ(store_->describe_consumer({"s", "reader", std::nullopt}).error().code, Errc::kResourceNotFound);
  EXPECT_TRUE(store_->delete_stream("s", true).has_value());
}

TEST_F(StreamStoreTest, AStreamHoldsAtMostTwentyConsumers) {
  create("s", 1);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(store_->register_consumer("s", "c" + std::to_string(i), {}).has_value());
  EXPECT_EQ(store_->register_consumer("s", "one-more", {}).error().code, Errc::kLimitExceeded);
}

TEST_F(StreamStoreTest, ASubscriberIsWokenWhenRecordsBecomeReadable) {
  create("s", 1);
  auto cursor = store_->starting_position("s", "shardId-0", IteratorType::kLatest, std::nullopt, std::nullopt);
  ASSERT_TRUE(cursor.has_value());
  std::atomic<int> woken{0};
  auto watch = store_->watch(*cursor, [&] { woken.fetch_add(1); });
  ASSERT_TRUE(watch.has_value());
  put("s", 3);
  // Readable after the committer's next sync (interval mode): that sync wakes the watcher.
  for (int i = 0; i < 5000 && woken.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_GT(woken.load(), 0);
  auto r = store_->read_for_subscriber(*cursor, 100);
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->read.records.size(), 3u);
  EXPECT_EQ(r->read.records[0].data, "d0");
  EXPECT_EQ(r->next_offset, cursor->offset + 3);
  watch->reset();  // no more wake-ups once the watch is gone
  const int seen = woken.load();
  put("s", 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(woken.load(), seen);
}

}  // namespace
}  // namespace eddy::stream

namespace eddy::stream {
namespace {

TEST_F(StreamStoreTest, EncryptedStreamsSealRecordsAtRestAndOpenThemOnRead) {
  cipher_ = std::make_shared<const RecordCipher>(*RecordCipher::from_key(std::string(32, 'k')));
  reopen();
  create("s", 1);
  put("s", 1, "clear");
  ASSERT_TRUE(store_->start_encryption("s", "alias/aws/kinesis").has_value());
  EXPECT_EQ(store_->describe("s")->encryption_key_id, "alias/aws/kinesis");
  auto r = put("s", 2, "secret");
  // On disk: no plaintext of the sealed records.
  bool found_secret = false, found_clear = false;
  for (const auto& f : fs::recursive_directory_iterator(dir_)) {
    if (!f.is_regular_file()) continue;
    std::ifstream in(f.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    found_secret |= bytes.find("secret") != std::string::npos;
    found_clear |= bytes.find("clear0") != std::string::npos;
  }
  EXPECT_FALSE(found_secret);
  EXPECT_TRUE(found_clear);  // written before encryption started
  reopen();                  // the setting is kept with the stream
  EXPECT_EQ(store_->describe("s")->encryption_key_id, "alias/aws/kinesis");
  EXPECT_EQ(read_all("s", "shardId-000000000000"), (std::vector<std::string>{"clear0", "secret0", "secret1"}));
  // Without the key: reads and writes say what is missing instead of losing anything.
  cipher_.reset();
  reopen();
  auto it = store_->shard_iterator("s", "shardId-0", IteratorType::kTrimHorizon, std::nullopt, std::nullopt);
  EXPECT_EQ(store_->get_records(*it, 10).error().code, Errc::kKmsNotFound);
  std::vector<PutEntry> one = {{"k", "", "more"}};
  EXPECT_EQ(store_->put("s", one).error().code, Errc::kKmsNotFound);
  EXPECT_EQ(store_->start_encryption("s", "alias/aws/kinesis").error().code, Errc::kKmsNotFound);
  // Stopped (with the key back): new records are stored in clear, the old ones still open.
  cipher_ = std::make_shared<const RecordCipher>(*RecordCipher::from_key(std::string(32, 'k')));
  reopen();
  ASSERT_TRUE(store_->stop_encryption("s").has_value());
  EXPECT_EQ(store_->describe("s")->encryption_key_id, "");
  put("s", 1, "after");
  EXPECT_EQ(read_all("s", "shardId-000000000000"),
            (std::vector<std::string>{"clear0", "secret0", "secret1", "after0"}));
}

TEST_F(StreamStoreTest, AccountSettingsKeepACommitmentForAtLeastADay) {
  auto meta = std::make_shared<FileMetadataStore>(dir_ / "account", "settings.json",
                                                  [](std::string_view) -> Result<std::string> { return "account"; });
  AccountSettings account(meta, clock_);
  EXPECT_EQ(account.commitment()->status, "DISABLED");
  auto on = account.update_commitment(true);
  ASSERT_TRUE(on.has_value());
  EXPECT_EQ(on->status, "ENABLED");
  EXPECT_EQ(*on->earliest_end_ms, clock_.now_ms() + AccountSettings::kMinimumCommitmentMs);
  clock_.advance(3600 * 1000);
  auto off = account.update_commitment(false);
  EXPECT_EQ(off->status, "ENABLED_UNTIL_EARLIEST_ALLOWED_END");
  EXPECT_EQ(off->ended_ms, on->earliest_end_ms);
  AccountSettings reread(meta, clock_);  // kept in its document
  EXPECT_EQ(reread.commitment()->status, "ENABLED_UNTIL_EARLIEST_ALLOWED_END");
  clock_.advance(AccountSettings::kMinimumCommitmentMs);
  EXPECT_EQ(reread.commitment()->status, "DISABLED");
  EXPECT_EQ(reread.update_commitment(true)->started_ms, clock_.now_ms());  // a new commitment
}

}  // namespace
}  // namespace eddy::stream
