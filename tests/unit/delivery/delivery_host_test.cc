// Delivery streams with an injected clock: the interval trigger fires only when the clock says so,
// the size trigger without waiting, and a restart never writes a record twice.
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
  void open_host() {
    host_.reset();
    host_ = std::make_unique<DeliveryHost>(dir_ / "deliveries", dir_ / "bucket", *store_, committer_, clock_);
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
  size_t wait_for_lines(size_t n) {
    for (int i = 0; i < 300; ++i) {  // bounded: the worker runs on its own thread
      if (lines().size() >= n) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return lines().size();
  }
  // A round's object is written before its positions are saved and its intent removed.
  bool wait_until_gone(const fs::path& file) {
    for (int i = 0; i < 300 && fs::exists(file); ++i)  // bounded: the worker runs on its own thread
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return !fs::exists(file);
  }
  void put(const std::string& name, const std::vector<std::string>& records) {
    std::vector<std::string_view> views(records.begin(), records.end());
    auto r = host_->put(name, views);
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->record_ids.size(), records.size());
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
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_TRUE(lines().empty());  // 60 s have not passed on the clock
  clock_.advance(60'000);
  EXPECT_EQ(wait_for_lines(3), 3u);
  EXPECT_EQ(lines(), (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(DeliveryHostTest, SizeTriggerDoesNotWait) {
  create("d", 1, 900);
  std::vector<std::string> big(12, std::string(100'000, 'x'));  // 1.2 MB
  put("d", big);
  // 11 records (1.1 MB) reach 1 MiB and go at once; the 12th waits for the interval.
  EXPECT_EQ(wait_for_lines(11), 11u);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(lines().size(), 11u);
  clock_.advance(900'000);
  EXPECT_EQ(wait_for_lines(12), 12u);
}

TEST_F(DeliveryHostTest, RestartDeliversEveryRecordOnce) {
  create("d", 5, 1);
  std::vector<std::string> first, second;
  for (int i = 0; i < 50; ++i) first.push_back("r" + std::to_string(i));
  for (int i = 50; i < 80; ++i) second.push_back("r" + std::to_string(i));
  put("d", first);
  clock_.advance(1000);
  ASSERT_EQ(wait_for_lines(50), 50u);
  open_host();  // a restart: positions and journal come back from disk
  put("d", second);
  clock_.advance(1000);
  ASSERT_EQ(wait_for_lines(80), 80u);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto all = lines();
  EXPECT_EQ(all.size(), 80u);
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());  // no duplicates
}

TEST_F(DeliveryHostTest, AnUnreadableIntentIsKeptAsideAndDeliveryGoesOn) {
  create("d", 5, 1);
  put("d", {"a", "b", "c"});
  clock_.advance(1000);
  ASSERT_EQ(wait_for_lines(3), 3u);
  host_.reset();
  const fs::path entry = dir_ / "deliveries" / path_component("d");
  { std::ofstream(entry / "intent.json") << "{\"key\": \"p/x\", \"ranges\": [[0, 1"; }  // torn
  open_host();
  put("d", {"d", "e"});
  clock_.advance(1000);
  ASSERT_EQ(wait_for_lines(5), 5u);
  EXPECT_EQ(lines(), (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  // The object of d and e is written before its positions are saved and its intent removed.
  EXPECT_TRUE(wait_until_gone(entry / "intent.json"));
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
  ASSERT_EQ(wait_for_lines(1), 1u);                     // the worker runs, and has read its positions
  ASSERT_TRUE(wait_until_gone(entry / "intent.json"));  // and has saved its positions after "a"
  // state.json as a non-empty folder: every save of the positions fails from now on.
  fs::remove(entry / "state.json");
  fs::create_directories(entry / "state.json" / "blocked");
  put("d", {"b", "c", "d"});
  clock_.advance(1000);
  ASSERT_EQ(wait_for_lines(4), 4u);  // the object is written; its positions are not saved
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(fs::exists(entry / "intent.json"));  // kept while the positions are unsaved
  host_.reset();                                   // a stop (or a crash) in that state
  fs::remove_all(entry / "state.json");
  open_host();  // no positions: the intent's object is written again, the same one, then saved
  put("d", {"e"});
  clock_.advance(1000);
  ASSERT_EQ(wait_for_lines(5), 5u);
  EXPECT_TRUE(wait_until_gone(entry / "intent.json"));
  open_host();
  clock_.advance(1000);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // b, c and d once: their object was written again under its own key, and finishing the intent
  // saved positions past them (and so past "a" too, though state.json had been lost).
  EXPECT_EQ(lines(), (std::vector<std::string>{"a", "b", "c", "d", "e"}));
}

TEST_F(DeliveryHostTest, UnreadablePositionsAreKeptAsideAndDeliveryStartsOver) {
  create("d", 5, 1);
  put("d", {"a", "b"});
  clock_.advance(1000);
  ASSERT_EQ(wait_for_lines(2), 2u);
  const fs::path entry = dir_ / "deliveries" / path_component("d");
  auto delivered = [&](const std::string& line) {
    for (int i = 0; i < 300; ++i) {  // bounded: the worker runs on its own thread
      const auto now = lines();
      if (std::find(now.begin(), now.end(), line) != now.end()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  // A shard index too large for stoul, a finished shard that is not a number, not JSON at all.
  const std::vector<std::string> bad = {"{\"positions\": {\"99999999999999999999\": 1}}", "{\"finished\": [\"x\"]}",
                                        "not json"};
  for (size_t i = 0; i < bad.size(); ++i) {
    SCOPED_TRACE(bad[i]);
    host_.reset();
    { std::ofstream(entry / "state.json") << bad[i]; }
    open_host();  // the worker must not throw on its thread (that would end the process)
    put("d", {"c" + std::to_string(i)});
    clock_.advance(1000);
    EXPECT_TRUE(delivered("c" + std::to_string(i)));
  }
  size_t aside = 0;
  for (const auto& e : fs::directory_iterator(entry))
    aside += e.path().filename().string().starts_with("state.json.unreadable-");
  EXPECT_EQ(aside, 3u);
  // Started over from the oldest retained record: records may come twice, none is missing.
  for (const std::string want : {"a", "b", "c0", "c1", "c2"}) EXPECT_TRUE(delivered(want)) << want;
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
