// The bucket directory as readers see it: whole objects under their keys, never a temporary file,
// even while objects are being written.
#include "delivery/bucket_sink.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace eddy::delivery {
namespace {

namespace fs = std::filesystem;

class BucketSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("eddy-bucket-test-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // Every regular file under the bucket, relative to it.
  std::set<std::string> files(const std::string& bucket) const {
    std::set<std::string> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root_ / bucket, ec); !ec && it != fs::end(it); it.increment(ec)) {
      if (it->is_regular_file(ec)) out.insert(fs::relative(it->path(), root_ / bucket).string());
    }
    return out;
  }
  static std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  fs::path root_;
};

TEST_F(BucketSinkTest, ObjectsAppearUnderTheirKeysOnly) {
  BucketSink sink(root_);
  ASSERT_TRUE(sink.put("b", "out/2021/01/31/a", "one\n").has_value());
  ASSERT_TRUE(sink.put("b", "out/2021/01/31/a", "one\n").has_value());  // a retried flush rewrites it
  ASSERT_TRUE(sink.put("b", "err/x", "two\n").has_value());
  EXPECT_EQ(files("b"), (std::set<std::string>{"out/2021/01/31/a", "err/x"}));
  EXPECT_EQ(read(sink.path("b", "out/2021/01/31/a")), "one\n");
  // Nothing stays staged, and the staging directory is no bucket (no bucket name starts with '.').
  EXPECT_TRUE(fs::is_empty(root_ / ".eddy-staging"));
}

TEST_F(BucketSinkTest, BadKeysAreRefused) {
  BucketSink sink(root_);
  for (const char* key : {"", "/abs", "a/../../etc", ".."}) {
    auto st = sink.put("b", key, "x");
    ASSERT_FALSE(st.has_value()) << key;
    EXPECT_EQ(st.error().code, Errc::kInvalidArgument) << key;
  }
}

TEST_F(BucketSinkTest, ReadersNeverSeeAPartialOrTemporaryFile) {
  BucketSink sink(root_);
  const std::string body(256 * 1024, 'r');
  constexpr int kObjects = 60;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < kObjects; ++i) ASSERT_TRUE(sink.put("b", "p/" + std::to_string(i), body).has_value());
    done = true;
  });
  // A reader walking the bucket while the objects are written (as a consumer of the directory
  // would): every name it meets is an object key, and every object it opens is whole.
  std::set<std::string> strangers;
  size_t partial = 0, walks = 0;
  while (!done && walks < 1'000'000) {
    ++walks;
    for (const auto& f : files("b")) {
      if (!f.starts_with("p/") || f.find_first_not_of("0123456789", 2) != std::string::npos) {
        strangers.insert(f);
        continue;
      }
      const auto text = read(root_ / "b" / f);
      if (!text.empty() && text.size() != body.size()) ++partial;  // empty: renamed away meanwhile
    }
  }
  writer.join();
  EXPECT_TRUE(strangers.empty()) << "first: " << *strangers.begin();
  EXPECT_EQ(partial, 0u);
  EXPECT_EQ(files("b").size(), static_cast<size_t>(kObjects));
}

TEST_F(BucketSinkTest, WhatACrashLeftStagedIsDiscarded) {
  fs::create_directories(root_ / ".eddy-staging");
  std::ofstream(root_ / ".eddy-staging" / "123-0") << "half an obj";
  BucketSink sink(root_);
  sink.discard_staged();
  EXPECT_FALSE(fs::exists(root_ / ".eddy-staging"));
  ASSERT_TRUE(sink.put("b", "k", "v").has_value());
  EXPECT_EQ(files("b"), (std::set<std::string>{"k"}));
}

}  // namespace
}  // namespace eddy::delivery
