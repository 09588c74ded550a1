// Delivery streams with an injected clock, stepped one round at a time (manual stepping): the
// interval trigger fires only when the clock says so, the size trigger without waiting, and a
// restart never writes a record twice. The last tests run the worker threads.
#include "delivery/delivery_host.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/path_names.h"

namespace eddy::delivery {
namespace {

namespace fs = std::filesystem;

class DeliveryHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("eddy-delivery-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    stream::StoreOptions o;
    o.dir = dir_ / "streams";
    o.retention_check_ms = 1'000'000'000;
    store_ = std::move(*stream::StreamStore::open(o, clock_, committer_));
    open_host();
  }
  void TearDown() override {
    host_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  // Manual stepping (the default here): no worker threads, each step() is one round.
  void open_host(bool threads = false) {
    host_.reset();
    host_ = std::make_unique<DeliveryHost>(dir_ / "deliveries", dir_ / "bucket", *store_, committer_, clock_);
    if (!threads) host_->step_manually();
    ASSERT_TRUE(host_->load().has_value());
  }
  void create(const std::string& name, int size_mb, int interval_s) {
    nlohmann::json req = {
        {"DeliveryStreamName", name},
        {"ExtendedS3DestinationConfiguration",
         {{"RoleARN", "arn:aws:iam::000000000000:role/r"},
          {"BucketARN", "arn:aws:s3:::b"},
          {"Prefix", "p/"},
          {"BufferingHints", {{"SizeInMBs", size_mb}, {"IntervalInSeconds", interval_s}}},
          {"ProcessingConfiguration", {{"Enabled", true}, {"Processors", {{{"Type", "AppendDelimiterToRecord"}}}}}}}}};
    auto s = host_->create(req);
    ASSERT_TRUE(s.has_value()) << s.error().message;
  }
  DeliveryStep step(const std::string& name = "d") {
    auto s = host_->step(name);
    EXPECT_TRUE(s.has_value()) << s.error().message;
    return s.value_or(DeliveryStep{});
  }
  std::vector<std::string> lines() {
    std::vector<std::string> out;
    if (!fs::exists(dir_ / "bucket")) return out;
    for (const auto& e : fs::recursive_directory_iterator(dir_ / "bucket")) {
      if (!e.is_regular_file()) continue;
      std::ifstream in(e.path());
      std::string line;
      while (std::getline(in, line)) out.push_back(line);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  size_t objects() {
    size_t n = 0;
    if (!fs::exists(dir_ / "bucket")) return n;
    for (const auto& e : fs::recursive_directory_iterator(dir_ / "bucket")) n += e.is_regular_file();
    return n;
  }
  // With worker threads only: the worker runs on its own thread.
  size_t wait_for_lines(size_t n) {
    for (int i = 0; i < 300; ++i) {  // bounded
      if (lines().size() >= n) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return lines().size();
  }
  void put(const std::string& name, const std::vector<std::string>& records) {
    std::vector<std::string_view> views(records.begin(), records.end());
    auto r = host_->put(name, views);
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->record_ids.size(), records.size());
    // Readers see journaled records once durable: what the committer does every interval, now.
    ASSERT_TRUE(r->journal->sync().has_value());
  }

  ManualClock clock_{1'700'000'000'000};
  log::GroupCommitter committer_{{log::FsyncMode::kInterval, 50}};
  fs::path dir_;
  std::unique_ptr<stream::StreamStore> store_;
  std::unique_ptr<DeliveryHost> host_;
};

TEST_F(DeliveryHostTest, IntervalTriggerFollowsTheClock) {
  create("d", 5, 60);
  put("d", {"a", "b", "c"});
  auto s = step();
  EXPECT_EQ(s.read, 3u);
  EXPECT_EQ(s.delivered, 0u);
  EXPECT_EQ(s.buffered, 3u);
  EXPECT_EQ(s.buffered_bytes, 6u);  // with their newlines
  clock_.advance(59'999);
  EXPECT_EQ(step().delivered, 0u);
  EXPECT_TRUE(lines().empty());  // 60 s have not passed on the clock
  clock_.advance(1);
  s = step();
  EXPECT_EQ(s.read, 0u);
  EXPECT_EQ(s.delivered, 3u);
  EXPECT_EQ(s.buffered, 0u);
  EXPECT_EQ(lines(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(objects(), 1u);
}

TEST_F(DeliveryHostTest, SizeTriggerDoesNotWait) {
  create("d", 1, 900);
  std::vector<std::string> big(12, std::string(100'000, 'x'));  // 1.2 MB
  put("d", big);
  // 11 records (1.1 MB) reach 1 MiB and go at once; the 12th waits for the interval.
  auto s = step();
  EXPECT_EQ(s.read, 11u);
  EXPECT_EQ(s.delivered, 11u);
  EXPECT_EQ(lines().size(), 11u);
  s = step();
  EXPECT_EQ(s.read, 1u);
  EXPECT_EQ(s.delivered, 0u);
  EXPECT_EQ(s.buffered, 1u);
  EXPECT_EQ(lines().size(), 11u);
  clock_.advance(900'000);
  EXPECT_EQ(step().delivered, 1u);
  EXPECT_EQ(lines().size(), 12u);
  EXPECT_EQ(objects(), 2u);
}

TEST_F(DeliveryHostTest, RestartDeliversEveryRecordOnce) {
  create("d", 5, 1);
  std::vector<std::string> first, second;
  for (int i = 0; i < 50; ++i) first.push_back("r" + std::to_string(i));
  for (int i = 50; i < 80; ++i) second.push_back("r" + std::to_string(i));
  put("d", first);
  clock_.advance(1000);
  ASSERT_EQ(step().delivered, 50u);
  open_host();  // a restart: positions and journal come back from disk
  put("d", second);
  clock_.advance(1000);
  EXPECT_EQ(step().delivered, 30u);
  clock_.advance(1000);
  EXPECT_EQ(step().read, 0u);
  auto all = lines();
  EXPECT_EQ(all.size(), 80u);
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());  // no duplicates
}

TEST_F(DeliveryHostTest, AnUnreadableIntentIsKeptAsideAndDeliveryGoesOn) {
  create("d", 5, 1);
  put("d", {"a", "b", "c"});
  clock_.advance(1000);
  ASSERT_EQ(step().delivered, 3u);
  host_.reset();
  const fs::path entry = dir_ / "deliveries" / path_component("d");
  { std::ofstream(entry / "intent.json") << "{\"key\": \"p/x\", \"ranges\": [[0, 1"; }  // torn
  open_host();
  put("d", {"d", "e"});
  clock_.advance(1000);
  const auto s = step();  // the intent is kept aside, and the round goes on
  EXPECT_FALSE(s.retry);
  EXPECT_EQ(s.delivered, 2u);
  EXPECT_EQ(lines(), (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  EXPECT_FALSE(fs::exists(entry / "intent.json"));  // the round of d and e saved its positions
  size_t aside = 0;
  for (const auto& e : fs::directory_iterator(entry)) {
    if (e.path().filename().string().starts_with("intent.json.unreadable-")) {
      ++aside;
      std::ifstream in(e.path());
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      EXPECT_EQ(text, "{\"key\": \"p/x\", \"ranges\": [[0, 1");  // kept as it was, for a person to look at
    }
  }
  EXPECT_EQ(aside, 1u);
}

TEST_F(DeliveryHostTest, PositionsThatCannotBeSavedAreRetriedAndNothingIsWrittenTwice) {
  create("d", 5, 1);
  const fs::path entry = dir_ / "deliveries" / path_component("d");
  put("d", {"a"});
  clock_.advance(1000);
  ASSERT_EQ(step().delivered, 1u);  // written, positions saved, intent removed
  ASSERT_FALSE(fs::exists(entry / "intent.json"));
  // state.json as a non-empty folder: every save of the positions fails from now on.
  fs::remove(entry / "state.json");
  fs::create_directories(entry / "state.json" / "blocked");
  put("d", {"b", "c", "d"});
  clock_.advance(1000);
  auto s = step();
  EXPECT_EQ(s.read, 3u);
  EXPECT_EQ(s.delivered, 0u);  // the object is written; its positions are not saved
  EXPECT_TRUE(s.retry);
  EXPECT_EQ(lines().size(), 4u);
  put("d", {"late"});
  clock_.advance(1000);
  for (int i = 0; i < 3; ++i) {  // the save is retried; nothing else is read meanwhile
    s = step();
    EXPECT_TRUE(s.retry);
    EXPECT_EQ(s.read, 0u);
  }
  EXPECT_EQ(objects(), 2u);
  EXPECT_TRUE(fs::exists(entry / "intent.json"));  // kept while the positions are unsaved
  host_.reset();                                   // a stop (or a crash) in that state
  fs::remove_all(entry / "state.json");
  open_host();  // no positions: the intent's object is written again, the same one, then saved
  put("d", {"e"});
  clock_.advance(1000);
  EXPECT_EQ(step().delivered, 3u);  // the intent's round: b, c and d
  EXPECT_FALSE(fs::exists(entry / "intent.json"));
  EXPECT_EQ(objects(), 2u);         // under the same key
  EXPECT_EQ(step().delivered, 2u);  // late and e
  open_host();
  clock_.advance(1000);
  EXPECT_EQ(step().read, 0u);
  // b, c and d once: their object was written again under its own key, and finishing the intent
  // saved positions past them (and so past "a" too, though state.json had been lost).
  EXPECT_EQ(lines(), (std::vector<std::string>{"a", "b", "c", "d", "e", "late"}));
}

TEST_F(DeliveryHostTest, UnreadablePositionsAreKeptAsideAndDeliveryStartsOver) {
  create("d", 5, 1);
  put("d", {"a", "b"});
  clock_.advance(1000);
  ASSERT_EQ(step().delivered, 2u);
  const fs::path entry = dir_ / "deliveries" / path_component("d");
  // A shard index too large for stoul, a finished shard that is not a number, not JSON at all.
  const std::vector<std::string> bad = {"{\"positions\": {\"99999999999999999999\": 1}}", "{\"finished\": [\"x\"]}",
                                        "not json"};
  for (size_t i = 0; i < bad.size(); ++i) {
    SCOPED_TRACE(bad[i]);
    host_.reset();
    { std::ofstream(entry / "state.json") << bad[i]; }
    open_host();
    put("d", {"c" + std::to_string(i)});
    clock_.advance(1000);
    const auto s = step();  // the worker must not stop (on its thread it would end the process)
    EXPECT_FALSE(s.stopped);
    EXPECT_EQ(s.delivered, 3u + i);  // started over: a, b, and every c so far
  }
  size_t aside = 0;
  for (const auto& e : fs::directory_iterator(entry))
    aside += e.path().filename().string().starts_with("state.json.unreadable-");
  EXPECT_EQ(aside, 3u);
  // Started over from the oldest retained record: records may come twice, none is missing.
  const auto all = lines();
  for (const std::string want : {"a", "b", "c0", "c1", "c2"})
    EXPECT_NE(std::find(all.begin(), all.end(), want), all.end()) << want;
}

TEST_F(DeliveryHostTest, StepNamesAStreamAndNeedsManualStepping) {
  EXPECT_EQ(host_->step("missing").error().code, Errc::kResourceNotFound);
  open_host(/*threads=*/true);
  create("d", 5, 1);
  EXPECT_EQ(host_->step("d").error().code, Errc::kUnsupportedOperation);  // its thread runs the rounds
}

// Placement (common/placement.h): a delivery stream placed on another node is created and
// described here, but its worker runs there.
TEST_F(DeliveryHostTest, ADeliveryStreamPlacedElsewhereRunsNoWorkerHere) {
  struct Elsewhere : Placement {
    bool runs_here(WorkKind kind, const std::string& name) const override {
      return kind != WorkKind::kDeliveryStream || name != "there";
    }
  };
  host_->set_placement(std::make_shared<Elsewhere>());
  create("there", 5, 1);
  create("here", 5, 1);
  EXPECT_TRUE(host_->describe("there").has_value());
  EXPECT_EQ(host_->step("there").error().code, Errc::kResourceInUse);
  EXPECT_TRUE(host_->step("here").has_value());
}

// The worker threads: each loops over the rounds on its own, by the same clock.
TEST_F(DeliveryHostTest, WorkerThreadsDeliverByTheClockAndAcrossARestart) {
  open_host(/*threads=*/true);
  create("d", 5, 60);
  put("d", {"a", "b", "c"});
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_TRUE(lines().empty());  // 60 s have not passed on the clock
  clock_.advance(60'000);
  EXPECT_EQ(wait_for_lines(3), 3u);
  open_host(/*threads=*/true);  // a restart: positions and journal come back from disk
  put("d", {"d", "e"});
  clock_.advance(60'000);
  EXPECT_EQ(wait_for_lines(5), 5u);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(lines(), (std::vector<std::string>{"a", "b", "c", "d", "e"}));  // each once
}

TEST_F(DeliveryHostTest, BadConfigurationsAreRejected) {
  nlohmann::json req = {{"DeliveryStreamName", "bad"},
                        {"ExtendedS3DestinationConfiguration",
                         {{"RoleARN", "r"}, {"BucketARN", "arn:aws:s3:::b"}, {"Prefix", "x/!{timestamp:yyyy}/"}}}};
  EXPECT_EQ(host_->create(req).error().code, Errc::kInvalidArgument);
  req["ExtendedS3DestinationConfiguration"]["Prefix"] = "x/";
  req["ExtendedS3DestinationConfiguration"]["CompressionFormat"] = "Snappy";
  EXPECT_EQ(host_->create(req).error().code, Errc::kInvalidArgument);
  req["ExtendedS3DestinationConfiguration"].erase("CompressionFormat");
  req["ExtendedS3DestinationConfiguration"]["BucketARN"] = "not-an-arn";
  EXPECT_EQ(host_->create(req).error().code, Errc::kInvalidArgument);
  EXPECT_EQ(host_->put("missing", {"x"}).error().code, Errc::kResourceNotFound);
}

}  // namespace
}  // namespace eddy::delivery
