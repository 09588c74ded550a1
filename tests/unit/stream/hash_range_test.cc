#include "stream/hash_range.h"

#include <gtest/gtest.h>

#include "common/digest.h"
#include "stream/sequence_number.h"
#include "stream/stream.h"
#include "stream/tokens.h"

namespace eddy::stream {
namespace {

TEST(HashRange, TwoShardsAsKinesisComputesThem) {
  const auto r = split_evenly(2);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(to_decimal(r[0].start), "0");
  EXPECT_EQ(to_decimal(r[0].end), "170141183460469231731687303715884105727");
  EXPECT_EQ(to_decimal(r[1].start), "170141183460469231731687303715884105728");
  EXPECT_EQ(to_decimal(r[1].end), "340282366920938463463374607431768211455");
}

TEST(HashRange, CoversKeySpaceWithoutGaps) {
  for (uint32_t n : {1u, 3u, 5u, 7u, 64u, 500u}) {
    const auto r = split_evenly(n);
    ASSERT_EQ(r.size(), n);
    EXPECT_EQ(r.front().start, uint128{0});
    EXPECT_EQ(r.back().end, kUint128Max);
    for (size_t i = 1; i < r.size(); ++i) EXPECT_EQ(r[i].start, r[i - 1].end + 1);
  }
}

TEST(HashRange, PartitionKeysLandOnKinesisShards) {
  Stream s;
  for (uint32_t i = 0; i < 2; ++i) {
    auto shard = std::make_shared<Shard>();
    shard->info.index = i;
    shard->info.range = split_evenly(2)[i];
    s.shards.push_back(shard);
  }
  s.rebuild_open_shards();
  EXPECT_EQ(s.route(partition_key_hash("a"))->info.index, 0u);
  EXPECT_EQ(s.route(partition_key_hash("pk-1"))->info.index, 1u);
  EXPECT_EQ(s.route(0)->info.index, 0u);
  EXPECT_EQ(s.route(kUint128Max)->info.index, 1u);
}

TEST(SequenceNumber, StrictlyIncreasingPerShardAndDecodable) {
  std::string prev;
  for (log::Offset o : {0ull, 1ull, 2ull, 9ull, 10ull, 1000000ull, 18446744073709551615ull}) {
    const auto s = encode_sequence_number(3, o);
    const auto v = parse_decimal_u128(s);
    ASSERT_TRUE(v.has_value());
    if (!prev.empty()) {
      EXPECT_GT(*v, *parse_decimal_u128(prev));
    }
    prev = s;
    const auto pos = decode_sequence_number(s);
    ASSERT_TRUE(pos.has_value());
    EXPECT_EQ(pos->shard_index, 3u);
    EXPECT_EQ(pos->offset, o);
  }
  EXPECT_FALSE(decode_sequence_number("12").has_value());  // high part 0: not ours
  EXPECT_FALSE(decode_sequence_number("abc").has_value());
}

TEST(ShardId, Format) {
  EXPECT_EQ(shard_id(7), "shardId-000000000007");
  EXPECT_EQ(parse_shard_id("shardId-000000000007"), 7u);
  EXPECT_FALSE(parse_shard_id("shardId-7").has_value());
  EXPECT_FALSE(parse_shard_id("shardId-00000000000x").has_value());
}

TEST(Tokens, IteratorRoundTripAndTamperDetection) {
  IteratorToken t{123456789, 4, 99, 1700000000000};
  const auto text = encode_iterator(t);
  EXPECT_LE(text.size(), 512u);
  const auto back = decode_iterator(text);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->stream_id, t.stream_id);
  EXPECT_EQ(back->shard_index, 4u);
  EXPECT_EQ(back->offset, 99u);
  EXPECT_EQ(back->issued_ms, t.issued_ms);
  std::string bad = text;
  bad[5] = bad[5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(decode_iterator(bad).has_value());
  EXPECT_FALSE(decode_iterator("garbage").has_value());
  EXPECT_FALSE(decode_page_token(text).has_value());  // a different kind of token
}

}  // namespace
}  // namespace eddy::stream
