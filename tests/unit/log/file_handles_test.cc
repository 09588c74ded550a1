#include "log/file_handles.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <vector>

#include "log/shard_log.h"

namespace eddy::log {
namespace {

namespace fs = std::filesystem;

class FileHandlesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("eddy-handles-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A file holding its own name; its descriptor, open O_RDWR.
  int make_file(const std::string& name) {
    std::ofstream(dir_ / name) << name;
    return ::open((dir_ / name).c_str(), O_RDWR | O_CLOEXEC);
  }

  static std::string read_all(int fd) {
    char buf[64];
    const ssize_t n = ::pread(fd, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

  fs::path dir_;
};

TEST_F(FileHandlesTest, IdleDescriptorsAreClosedPastTheLimitAndReopenedOnLease) {
  FileHandles handles(3);
  std::vector<uint64_t> ids;
  for (int i = 0; i < 10; ++i)
    ids.push_back(handles.add(dir_ / ("f" + std::to_string(i)), make_file("f" + std::to_string(i))));
  EXPECT_EQ(handles.open_count(), 3u);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 10; ++i) {
      auto lease = handles.lease(ids[static_cast<size_t>(i)]);
      ASSERT_TRUE(lease.has_value()) << lease.error().message;
      EXPECT_EQ(read_all(lease->fd()), "f" + std::to_string(i));  // the right file, reopened
      EXPECT_LE(handles.open_count(), 3u);
    }
  }
  for (auto id : ids) handles.remove(id);
  EXPECT_EQ(handles.open_count(), 0u);
}

TEST_F(FileHandlesTest, LeasedDescriptorsStayOpenEvenPastTheLimit) {
  FileHandles handles(2);
  std::vector<uint64_t> ids;
  for (int i = 0; i < 4; ++i)
    ids.push_back(handles.add(dir_ / ("f" + std::to_string(i)), make_file("f" + std::to_string(i))));
  std::vector<FileHandles::Lease> held;
  for (auto id : ids) held.push_back(std::move(*handles.lease(id)));
  EXPECT_EQ(handles.open_count(), 4u);  // none idle: none closed under a reader
  for (size_t i = 0; i < held.size(); ++i) EXPECT_EQ(read_all(held[i].fd()), "f" + std::to_string(i));
  held.clear();  // released: back under the limit
  EXPECT_EQ(handles.open_count(), 2u);
  handles.set_limit(1);
  EXPECT_EQ(handles.open_count(), 1u);
}

TEST_F(FileHandlesTest, AFileThatIsGoneCannotBeLeasedAgain) {
  FileHandles handles(1);
  const uint64_t a = handles.add(dir_ / "a", make_file("a"));
  const uint64_t b = handles.add(dir_ / "b", make_file("b"));  // closes a's descriptor
  fs::remove(dir_ / "a");
  auto lease = handles.lease(a);
  ASSERT_FALSE(lease.has_value());
  EXPECT_NE(lease.error().message.find("reopen"), std::string::npos);
  EXPECT_TRUE(handles.lease(b).has_value());
  EXPECT_FALSE(handles.lease(12345).has_value());
}

// Many shard logs under a limit far below their count: every one appends, syncs and reads back,
// with no more descriptors open than the limit.
TEST_F(FileHandlesTest, ShardLogsOutnumberTheDescriptorLimit) {
  FileHandles& shared = FileHandles::shared();
  const size_t saved = shared.limit();
  const size_t before = shared.open_count();
  shared.set_limit(before + 8);
  std::vector<std::unique_ptr<ShardLog>> logs;
  for (int s = 0; s < 100; ++s) {
    auto log = ShardLog::open(dir_ / ("shard-" + std::to_string(s)), LogOptions{});
    ASSERT_TRUE(log.has_value()) << log.error().message;
    logs.push_back(std::move(*log));
  }
  for (int round = 0; round < 3; ++round) {
    for (size_t s = 0; s < logs.size(); ++s) {
      const std::string data = "shard " + std::to_string(s) + " round " + std::to_string(round);
      std::vector<AppendRecord> recs{{"key", "", data}};
      ASSERT_TRUE(logs[s]->append(recs, 1000 + round).has_value());
      ASSERT_TRUE(logs[s]->sync().has_value());
      EXPECT_LE(shared.open_count(), before + 8);
    }
  }
  for (size_t s = 0; s < logs.size(); ++s) {
    auto r = logs[s]->read(0, 10, SIZE_MAX);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    ASSERT_EQ(r->records.size(), 3u);
    EXPECT_EQ(r->records[2].data, "shard " + std::to_string(s) + " round 2");
  }
  logs.clear();
  EXPECT_EQ(shared.open_count(), before);
  shared.set_limit(saved);
}

}  // namespace
}  // namespace eddy::log
