// Delivery streams shared by two nodes over a real nats-server (cluster mode's backends behind the
// delivery host): a document created on one node reaches the other, a direct put on either is
// journaled once, the node that takes a delivery stream over writes an interrupted object again
// under the same key, and the node that lost it can no longer record an intent or save positions.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "cluster/jetstream_blob_store.h"
#include "cluster/jetstream_metadata_store.h"
#include "cluster/jetstream_shard.h"
#include "delivery/delivery_host.h"
#include "nats_test_server.h"

namespace eddy::cluster {
namespace {

namespace fs = std::filesystem;
using delivery::DeliveryHost;
using delivery::DeliveryStep;
using nats_test::nats_server_path;
using nats_test::NatsServer;

// Which node runs the delivery streams, as the test tells each node (nodes may disagree for a
// while, as when a lease has expired but its holder has not noticed yet).
class ChosenNode final : public Placement {
 public:
  explicit ChosenNode(std::string self, std::shared_ptr<std::string> owner)
      : self_(std::move(self)), owner_(std::move(owner)) {}
  bool runs_here(WorkKind, const std::string&) const override { return *owner_ == self_; }

 private:
  std::string self_;
  std::shared_ptr<std::string> owner_;
};

class SharedDeliveryTest : public ::testing::Test {
 protected:
  struct Node {
    std::unique_ptr<NatsConnection> nats;
    std::unique_ptr<DeliveryHost> host;
  };

  void SetUp() override {
    ASSERT_FALSE(nats_server_path().empty()) << "nats-server is not installed: run make deps";
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    server_ = std::make_unique<NatsServer>(test);
    dir_ = fs::temp_directory_path() / ("eddy-shared-delivery-test-" + std::to_string(::getpid()) + "-" + test);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    stream::StoreOptions o;
    o.dir = dir_ / "streams";
    o.retention_check_ms = 1'000'000'000;
    store_ = std::move(*stream::StreamStore::open(o, clock_, committer_));
    // Node a's bucket directory is a file: its object writes fail, as if it died mid-round.
    std::ofstream(dir_ / "broken-bucket") << "not a directory";
    open_node(a_, "a", dir_ / "broken-bucket", a_sees_);
    open_node(b_, "b", dir_ / "bucket", b_sees_);
  }
  void TearDown() override {
    a_.host.reset();
    b_.host.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  void open_node(Node& n, const std::string& id, const fs::path& bucket, std::shared_ptr<std::string> owner) {
    n.nats = server_->connect();
    ASSERT_TRUE(n.nats) << "nats-server did not start at " << server_->url();
    auto meta = JetStreamMetadataStore::open(*n.nats, "eddy_meta", "deliveries", 1);
    ASSERT_TRUE(meta.has_value()) << meta.error().message;
    auto state = JetStreamBlobStore::open(*n.nats, "dlv", 1);
    ASSERT_TRUE(state.has_value()) << state.error().message;
    n.host = std::make_unique<DeliveryHost>(dir_ / id / "deliveries", bucket, *store_, committer_, clock_);
    n.host->step_manually();
    NatsConnection* nats = n.nats.get();
    n.host->set_shared({.metadata = std::shared_ptr<MetadataStore>(std::move(*meta)),
                        .state = std::shared_ptr<BlobStore>(std::move(*state)),
                        .open_journal = [nats, id](const std::string& name,
                                                   uint64_t incarnation) -> Result<std::shared_ptr<log::ShardStorage>> {
                          auto s = JetStreamShard::open(*nats, {.stream = journal_stream_name(incarnation),
                                                                .subject = journal_subject(incarnation),
                                                                .description = name,
                                                                .writer_id = id});
                          if (!s) return tl::unexpected(s.error());
                          return std::shared_ptr<log::ShardStorage>(std::move(*s));
                        },
                        .node_id = id});
    n.host->set_placement(std::make_shared<ChosenNode>(id, std::move(owner)));
    auto loaded = n.host->load();
    ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  }

  void create(Node& n, const std::string& name) {
    nlohmann::json req = {
        {"DeliveryStreamName", name},
        {"ExtendedS3DestinationConfiguration",
         {{"RoleARN", "arn:aws:iam::000000000000:role/r"},
          {"BucketARN", "arn:aws:s3:::b"},
          {"BufferingHints", {{"SizeInMBs", 5}, {"IntervalInSeconds", 1}}},
          {"ProcessingConfiguration", {{"Enabled", true}, {"Processors", {{{"Type", "AppendDelimiterToRecord"}}}}}}}}};
    auto s = n.host->create(req);
    ASSERT_TRUE(s.has_value()) << s.error().message;
  }
  void put(Node& n, const std::vector<std::string>& records) {
    std::vector<std::string_view> views(records.begin(), records.end());
    auto r = n.host->put("d", views);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    ASSERT_EQ(r->record_ids.size(), records.size());
  }
  DeliveryStep step(Node& n) {
    clock_.advance(1000);
    auto s = n.host->step("d");
    EXPECT_TRUE(s.has_value()) << s.error().message;
    return s.value_or(DeliveryStep{});
  }
  // The objects in the good bucket directory: key -> lines.
  std::map<std::string, std::vector<std::string>> objects() {
    std::map<std::string, std::vector<std::string>> out;
    if (!fs::exists(dir_ / "bucket" / "b")) return out;
    for (const auto& e : fs::recursive_directory_iterator(dir_ / "bucket" / "b")) {
      if (!e.is_regular_file()) continue;
      std::ifstream in(e.path());
      auto& lines = out[fs::relative(e.path(), dir_ / "bucket" / "b").string()];
      for (std::string line; std::getline(in, line);) lines.push_back(line);
    }
    return out;
  }

  ManualClock clock_{1'700'000'000'000};
  log::GroupCommitter committer_{{log::FsyncMode::kInterval, 50}};
  std::unique_ptr<NatsServer> server_;
  fs::path dir_;
  std::unique_ptr<stream::StreamStore> store_;
  // Who runs "d", as a and as b see it.
  std::shared_ptr<std::string> a_sees_ = std::make_shared<std::string>("a");
  std::shared_ptr<std::string> b_sees_ = std::make_shared<std::string>("a");
  Node a_, b_;
};

TEST_F(SharedDeliveryTest, AnOwnerChangeWritesTheInterruptedObjectOnceAndFencesTheOldOwner) {
  create(a_, "d");
  ASSERT_TRUE(b_.host->reload("d").has_value());
  ASSERT_TRUE(b_.host->describe("d").has_value());
  EXPECT_FALSE(b_.host->step("d").has_value());  // no worker on b: it runs on a

  put(b_, {"r1", "r2"});
  put(a_, {"r3"});  // both nodes journal into one journal
  // a reads all three, records its intent, and cannot write the object.
  DeliveryStep s = step(a_);
  EXPECT_EQ(s.read, 3u);
  EXPECT_EQ(s.delivered, 0u);
  EXPECT_TRUE(objects().empty());

  // b takes over: it writes the interrupted object again, from the intent a recorded.
  *b_sees_ = "b";
  b_.host->placement_changed("d");
  s = step(b_);
  EXPECT_EQ(s.delivered, 3u);
  auto first = objects();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first.begin()->second, (std::vector<std::string>{"r1", "r2", "r3"}));

  // a has not noticed yet: its worker runs on, and could write objects again (its bucket works
  // now), but since b's claim it can no longer record an intent or save positions: it writes none.
  fs::remove(dir_ / "broken-bucket");
  fs::create_directories(dir_ / "broken-bucket");
  put(a_, {"r4", "r5"});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(step(a_).delivered, 0u);
  EXPECT_TRUE(fs::is_empty(dir_ / "broken-bucket"));
  EXPECT_EQ(objects().size(), 1u);
  *a_sees_ = "b";
  a_.host->placement_changed("d");
  EXPECT_FALSE(a_.host->step("d").has_value());  // stopped on a

  s = step(b_);
  EXPECT_EQ(s.delivered, 2u);
  std::multiset<std::string> all;
  for (const auto& [key, lines] : objects()) all.insert(lines.begin(), lines.end());
  EXPECT_EQ(all, (std::multiset<std::string>{"r1", "r2", "r3", "r4", "r5"}));
  auto described = a_.host->describe("d");
  ASSERT_TRUE(described.has_value());
  EXPECT_EQ(described->records, 5u);  // figures from the shared state, on any node
  EXPECT_EQ(described->objects, 2u);
}

TEST_F(SharedDeliveryTest, CreateRacesUpdatesAndDeletesReachTheOtherNode) {
  create(a_, "d");
  // b has not heard of it: its create loses the race with the name already taken.
  nlohmann::json req = {{"DeliveryStreamName", "d"},
                        {"ExtendedS3DestinationConfiguration",
                         {{"RoleARN", "arn:aws:iam::000000000000:role/r"}, {"BucketARN", "arn:aws:s3:::other"}}}};
  auto raced = b_.host->create(req);
  ASSERT_FALSE(raced.has_value());
  EXPECT_EQ(raced.error().code, Errc::kResourceInUse);
  ASSERT_TRUE(b_.host->reload("d").has_value());
  EXPECT_EQ(b_.host->describe("d")->config["ExtendedS3DestinationConfiguration"]["BucketARN"], "arn:aws:s3:::b");

  ASSERT_TRUE(b_.host->update_destination("d", 1, "ExtendedS3", {{"BucketARN", "arn:aws:s3:::c"}, {"Prefix", "p/"}})
                  .has_value());
  ASSERT_TRUE(a_.host->reload("d").has_value());
  auto on_a = a_.host->describe("d");
  ASSERT_TRUE(on_a.has_value());
  EXPECT_EQ(on_a->version, 2);
  EXPECT_EQ(on_a->config["ExtendedS3DestinationConfiguration"]["BucketARN"], "arn:aws:s3:::c");
  // a's copy is stale no more, so an update there by the old version is refused.
  auto stale = a_.host->update_destination("d", 1, "ExtendedS3", {{"Prefix", "q/"}});
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code, Errc::kConcurrentModification);

  // Deleted on b (which does not run it): a lets go of it, and the name can be created again.
  ASSERT_TRUE(b_.host->remove("d").has_value());
  ASSERT_TRUE(a_.host->reload("d").has_value());
  EXPECT_EQ(a_.host->describe("d").error().code, Errc::kResourceNotFound);
  create(b_, "d");
  ASSERT_TRUE(a_.host->reload("d").has_value());
  auto again = a_.host->describe("d");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->version, 1);
  EXPECT_EQ(again->records, 0u);  // a new incarnation: nothing of the old one's state
  auto end = a_.host->journal_end("d");
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(*end, 0u);  // nor of its journal
}

}  // namespace
}  // namespace eddy::cluster
