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

// Compares two decimal strings as integers (56 digits do not fit in 128 bits).
bool less_as_integers(const std::string& a, const std::string& b) {
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

TEST(SequenceNumber, FiftySixDigitsStrictlyIncreasingPerShardAndDecodable) {
  std::string prev;
  for (uint32_t shard : {0u, 3u, 4294967295u}) {
    for (log::Offset o : {0ull, 1ull, 2ull, 9ull, 10ull, 1000000ull, 18446744073709551615ull}) {
      const auto s = encode_sequence_number(shard, o);
      EXPECT_EQ(s.size(), 56u) << s;
      EXPECT_EQ(s.find_first_not_of("0123456789"), std::string::npos) << s;
      if (!prev.empty()) {
        EXPECT_TRUE(less_as_integers(prev, s)) << prev << " then " << s;
      }
      prev = s;
      const auto pos = decode_sequence_number(s);
      ASSERT_TRUE(pos.has_value()) << s;
      EXPECT_EQ(pos->shard_index, shard);
      EXPECT_EQ(pos->offset, o);
    }
  }
  // The older shape (the number without the leading digit and padding) still names its record,
  // and orders below every new one.
  const std::string legacy = to_decimal(uint128{4} << 64 | 9);
  const auto pos = decode_sequence_number(legacy);
  ASSERT_TRUE(pos.has_value());
  EXPECT_EQ(pos->shard_index, 3u);
  EXPECT_EQ(pos->offset, 9u);
  EXPECT_TRUE(less_as_integers(legacy, encode_sequence_number(0, 0)));
  EXPECT_FALSE(decode_sequence_number("12").has_value());  // high part 0: not ours
  EXPECT_FALSE(decode_sequence_number("abc").has_value());
  EXPECT_FALSE(decode_sequence_number("").has_value());
  EXPECT_FALSE(decode_sequence_number("4" + std::string(55, '0')).has_value());
  std::string other_lead = encode_sequence_number(1, 1);
  other_lead[0] = '5';
  EXPECT_FALSE(decode_sequence_number(other_lead).has_value());
  EXPECT_FALSE(decode_sequence_number(encode_sequence_number(1, 1) + "0").has_value());
  EXPECT_FALSE(decode_sequence_number("4" + std::string(55, '9')).has_value()) << "beyond 128 bits";
}

TEST(ShardId, Format) {
  EXPECT_EQ(shard_id(7), "shardId-000000000007");
  EXPECT_EQ(parse_shard_id("shardId-000000000007"), 7u);
  // Kinesis reads the number after the last hyphen: these name shard 7 too.
  for (const char* alias : {"shardId-7", "shardId-0007", "foo-bar-7", "7", "-7", "shardId-000000000000000000007"})
    EXPECT_EQ(parse_shard_id(alias), 7u) << alias;
  for (const char* bad : {"shardId-00000000000x", "shardId-", "shardId", "", "shardId-7a", "shardId--",
                          "shardId-4294967296", "shardId-+7", "shardId- 7", "shardId-999999999999999999999"})
    EXPECT_FALSE(parse_shard_id(bad).has_value()) << bad;
  EXPECT_EQ(parse_shard_id("shardId-4294967295"), 4294967295u);
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
