// Leases on a real nats-server: work shared between nodes, taken over when a node dies, a node id
// used twice refused, and checkpoints fenced so that a node that lost an application cannot
// commit one.
#include "cluster/lease_placement.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "cluster/jetstream_blob_store.h"
#include "nats_test_server.h"

namespace eddy::cluster {
namespace {

using nats_test::nats_server_path;
using nats_test::NatsServer;

constexpr int64_t kTtlMs = 1000;

class LeasePlacementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(nats_server_path().empty()) << "nats-server is not installed: run make deps";
    server_ = std::make_unique<NatsServer>(::testing::UnitTest::GetInstance()->current_test_info()->name());
    for (auto* n : {&nats_a_, &nats_b_}) {
      *n = server_->connect();
      ASSERT_TRUE(*n) << "nats-server did not start at " << server_->url();
    }
  }
  static Result<std::unique_ptr<LeasePlacement>> start(NatsConnection& nats, const std::string& id) {
    return LeasePlacement::start(nats, {.node_id = id, .endpoint = id + ":1", .ttl_ms = kTtlMs, .margin_ms = 300});
  }
  // Waits (bounded) until `done` holds.
  static bool eventually(const std::function<bool()>& done, int64_t ms = 5000) {
    for (int64_t waited = 0; waited < ms; waited += 50) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return done();
  }

  std::unique_ptr<NatsServer> server_;
  std::unique_ptr<NatsConnection> nats_a_, nats_b_;
};

const std::vector<std::string> kApps = {"app1", "app2", "..", "x.y"};

LeasePlacement::WorkList all_apps() {
  return [] {
    std::vector<LeasePlacement::Work> w;
    for (const auto& a : kApps) w.push_back({WorkKind::kApplication, a});
    return w;
  };
}

TEST_F(LeasePlacementTest, NodesShareTheWorkAndOneTakesOverWhenTheOtherDies) {
  auto a = start(*nats_a_, "a");
  ASSERT_TRUE(a.has_value()) << a.error().message;
  auto b = start(*nats_b_, "b");
  ASSERT_TRUE(b.has_value()) << b.error().message;
  std::mutex mu;
  std::set<std::string> gained_by_b;
  (*a)->run(all_apps(), nullptr);
  (*b)->run(all_apps(), [&](WorkKind, const std::string& name, bool here) {
    std::lock_guard lock(mu);
    if (here) gained_by_b.insert(name);
  });
  auto owners = [&] {
    int a_count = 0, b_count = 0, both = 0;
    for (const auto& app : kApps) {
      const bool ha = (*a)->runs_here(WorkKind::kApplication, app), hb = (*b)->runs_here(WorkKind::kApplication, app);
      a_count += ha;
      b_count += hb;
      both += ha && hb;
    }
    return std::tuple{a_count, b_count, both};
  };
  ASSERT_TRUE(eventually([&] { return owners() == std::tuple{2, 2, 0}; })) << "each node runs its share, never both";
  EXPECT_FALSE((*a)->runs_here(WorkKind::kDeliveryStream, "app1")) << "kinds are apart";

  (*a)->stop(/*release=*/false);  // a dies: its leases expire after the TTL
  for (const auto& app : kApps) EXPECT_FALSE((*a)->runs_here(WorkKind::kApplication, app)) << app;
  ASSERT_TRUE(eventually([&] { return std::get<1>(owners()) == 4; }, 4 * kTtlMs)) << "b takes everything over";
  std::lock_guard lock(mu);
  EXPECT_EQ(gained_by_b.size(), kApps.size());
}

TEST_F(LeasePlacementTest, ALiveNodeIdCannotBeUsedTwiceButADeadOnesCan) {
  auto a = start(*nats_a_, "a");
  ASSERT_TRUE(a.has_value()) << a.error().message;
  (*a)->run(all_apps(), nullptr);
  auto twin = start(*nats_b_, "a");
  ASSERT_FALSE(twin.has_value());
  EXPECT_NE(twin.error().message.find("in use"), std::string::npos) << twin.error().message;
  (*a)->stop(/*release=*/false);
  auto again = start(*nats_b_, "a");  // waits for the dead one's key to expire
  EXPECT_TRUE(again.has_value()) << again.error().message;
}

TEST_F(LeasePlacementTest, ACleanStopHandsTheWorkOverAtOnce) {
  auto a = start(*nats_a_, "a");
  auto b = start(*nats_b_, "b");
  ASSERT_TRUE(a && b);
  (*a)->run(all_apps(), nullptr);
  ASSERT_TRUE(eventually([&] { return (*a)->runs_here(WorkKind::kApplication, "app1"); }));
  (*a)->stop();
  (*b)->run(all_apps(), nullptr);
  // Released keys are free at once: b takes all within a few ticks, well before a TTL would pass.
  EXPECT_TRUE(eventually(
      [&] {
        for (const auto& app : kApps)
          if (!(*b)->runs_here(WorkKind::kApplication, app)) return false;
        return true;
      },
      kTtlMs * 3 / 4));
}

class BlobStoreTest : public LeasePlacementTest {
 protected:
  static std::optional<std::string> read(JetStreamBlobStore& store, const std::string& name) {
    auto r = store.read(name);
    EXPECT_TRUE(r.has_value()) << r.error().message;
    return r ? *r : std::nullopt;
  }
};

TEST_F(BlobStoreTest, ChunkedWritesReadBackAndANewOwnerFencesTheOld) {
  auto first = JetStreamBlobStore::open(*nats_a_, "app", 1);
  auto second = JetStreamBlobStore::open(*nats_b_, "app", 1);
  ASSERT_TRUE(first && second);
  auto none = (*first)->read("x.y");
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(*none);
  EXPECT_FALSE((*first)->write("x.y", "unclaimed").has_value());
  ASSERT_TRUE((*first)->claim("x.y").has_value());
  EXPECT_FALSE(read(**second, "x.y")) << "a claim alone holds no blob";
  std::string big(3u << 20, '\0');  // larger than the server's default 1 MiB message limit
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 4096);
  ASSERT_TRUE((*first)->write("x.y", big).has_value());
  EXPECT_EQ(read(**second, "x.y"), big);
  ASSERT_TRUE((*first)->write("x.y", "small").has_value());
  EXPECT_EQ(read(**second, "x.y"), "small");
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  ASSERT_EQ(js_GetStreamInfo(&info, nats_a_->jetstream(), "EDDY_CKPT", nullptr, &code), NATS_OK);
  EXPECT_EQ(info->State.Msgs, 1u) << "the big checkpoint's chunks are gone";
  jsStreamInfo_Destroy(info);

  ASSERT_TRUE((*second)->claim("x.y").has_value());  // a new owner takes over
  auto fenced = (*first)->write("x.y", "stale");
  ASSERT_FALSE(fenced.has_value());
  EXPECT_EQ(fenced.error().code, Errc::kConcurrentModification) << fenced.error().message;
  EXPECT_EQ(read(**second, "x.y"), "small") << "the old owner committed nothing";
  ASSERT_TRUE((*second)->write("x.y", "new owner").has_value());
  EXPECT_EQ(read(**first, "x.y"), "new owner");

  ASSERT_TRUE((*second)->remove("x.y").has_value());
  EXPECT_FALSE(read(**first, "x.y"));
}

}  // namespace
}  // namespace eddy::cluster
