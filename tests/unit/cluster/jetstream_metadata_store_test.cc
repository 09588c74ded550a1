// The metadata seam on a real JetStream key-value bucket: a nats-server (Debian's, installed by
// make deps) started on a free loopback port for each test, its store in a temporary folder.
#include "cluster/jetstream_metadata_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "nats_test_server.h"

namespace eddy::cluster {
namespace {

using nats_test::free_port;
using nats_test::nats_server_path;
using nats_test::NatsServer;

class JetStreamMetadataStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // make deps installs it: a machine without it is not set up, and the test says so rather than
    // passing without having run.
    ASSERT_FALSE(nats_server_path().empty()) << "nats-server is not installed: run make deps";
    server_ = std::make_unique<NatsServer>(::testing::UnitTest::GetInstance()->current_test_info()->name());
    nats_ = server_->connect();
    ASSERT_TRUE(nats_) << "nats-server did not start at " << server_->url();
  }
  std::unique_ptr<JetStreamMetadataStore> open(NatsConnection& nats, const std::string& kind = "apps") {
    auto m = JetStreamMetadataStore::open(nats, "eddy_meta", kind, 1);
    EXPECT_TRUE(m.has_value()) << m.error().message;
    return m ? std::move(*m) : nullptr;
  }
  std::unique_ptr<NatsServer> server_;
  std::unique_ptr<NatsConnection> nats_;
};

TEST(KeyTokens, AnyNameIsOneReversibleToken) {
  const std::vector<std::string> names = {
      "sales", "..", "a/b", "x.y", "a b", "=41", "store_1-2", "\xc3\xbc", std::string("n\0l", 3)};
  for (const auto& name : names) {
    const std::string token = encode_key_token(name);
    EXPECT_EQ(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-="),
              std::string::npos)
        << token;
    EXPECT_EQ(decode_key_token(token), name);
  }
  EXPECT_EQ(encode_key_token("x.y"), "x=2Ey");
  EXPECT_FALSE(decode_key_token("x=4"));
  EXPECT_FALSE(decode_key_token("x=ZZ"));
  EXPECT_FALSE(decode_key_token("a.b"));
}

TEST_F(JetStreamMetadataStoreTest, CreateUpdateAndRemoveByCompareAndSet) {
  auto m = open(*nats_);
  ASSERT_TRUE(m);
  auto r1 = m->put("app", "v1", 0);
  ASSERT_TRUE(r1.has_value()) << r1.error().message;
  auto again = m->put("app", "other", 0);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, Errc::kResourceInUse) << again.error().message;
  auto r2 = m->put("app", "v2", *r1);
  ASSERT_TRUE(r2.has_value()) << r2.error().message;
  EXPECT_GT(*r2, *r1);
  auto stale = m->put("app", "v3", *r1);
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code, Errc::kConcurrentModification) << stale.error().message;
  auto doc = m->get("app");
  ASSERT_TRUE(doc.has_value() && doc->has_value());
  EXPECT_EQ((*doc)->value, "v2");
  EXPECT_EQ((*doc)->revision, *r2);
  auto refused = m->remove("app", *r1);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, Errc::kConcurrentModification);
  ASSERT_TRUE(m->remove("app", *r2).has_value());
  EXPECT_FALSE(m->get("app")->has_value());
  EXPECT_TRUE(m->names()->empty());
  EXPECT_TRUE(m->put("app", "v4", 0).has_value());  // created again
}

TEST_F(JetStreamMetadataStoreTest, NamesAreDataAndKindsDoNotMix) {
  auto apps = open(*nats_, "apps");
  auto streams = open(*nats_, "streams");
  ASSERT_TRUE(apps && streams);
  for (const char* name : {"b", "..", "a/b", "x.y"}) ASSERT_TRUE(apps->put(name, "{}", 0).has_value()) << name;
  ASSERT_TRUE(streams->put("s", "{}", 0).has_value());
  EXPECT_EQ(*apps->names(), (std::vector<std::string>{"..", "a/b", "b", "x.y"}));
  EXPECT_EQ(*streams->names(), (std::vector<std::string>{"s"}));
  EXPECT_FALSE(streams->get("b")->has_value());
}

// Two nodes (two connections) create the same names at once: each name is created once, and the
// other node is told it already exists.
TEST_F(JetStreamMetadataStoreTest, TwoNodesRacingToCreateANameGetOneSuccessAndOneResourceInUse) {
  auto other_nats = server_->connect();
  ASSERT_TRUE(other_nats);
  auto a = open(*nats_), b = open(*other_nats);
  ASSERT_TRUE(a && b);
  constexpr int kNames = 40;
  std::atomic<int> created{0}, in_use{0}, other{0};
  auto race = [&](JetStreamMetadataStore& m, const char* node) {
    for (int i = 0; i < kNames; ++i) {
      auto r = m.put("stream-" + std::to_string(i), node, 0);
      if (r)
        ++created;
      else if (r.error().code == Errc::kResourceInUse)
        ++in_use;
      else
        ++other;
    }
  };
  std::thread ta(race, std::ref(*a), "a"), tb(race, std::ref(*b), "b");
  ta.join();
  tb.join();
  EXPECT_EQ(created, kNames);
  EXPECT_EQ(in_use, kNames);
  EXPECT_EQ(other, 0);
  EXPECT_EQ(a->names()->size(), static_cast<size_t>(kNames));
}

TEST(NatsConnection, AnUnreachableClusterIsOneErrorNamingTheUrls) {
  const std::string u1 = "nats://127.0.0.1:" + std::to_string(free_port());
  const std::string u2 = "nats://127.0.0.1:" + std::to_string(free_port());
  auto c = NatsConnection::connect({.urls = {u1, u2}, .timeout_ms = 500});
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().message.find(u1 + "," + u2), std::string::npos) << c.error().message;
  EXPECT_EQ(c.error().message.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace eddy::cluster
