// Delivery streams with an injected clock: the interval trigger fires only when the clock says so,
// the size trigger without waiting, and a restart never writes a record twice.
#include "delivery/delivery_host.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

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
