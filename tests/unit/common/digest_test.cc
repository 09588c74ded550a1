#include "common/digest.h"

#include <gtest/gtest.h>

#include "common/time_format.h"
#include "common/uint128.h"

namespace eddy {
namespace {

TEST(Digest, Md5KnownValues) {
  EXPECT_EQ(to_hex(md5("a")), "0cc175b9c0f1b6a831c399e269772661");
  EXPECT_EQ(to_hex(md5("")), "d41d8cd98f00b204e9800998ecf8427e");
}

TEST(Digest, PartitionKeyHashIsBigEndianMd5) {
  EXPECT_EQ(to_decimal(partition_key_hash("a")), "16955237001963240173058271559858726497");
  // "pk-1" -> ce1395af..., in the upper half of the key space.
  EXPECT_EQ(to_hex(md5("pk-1")).substr(0, 8), "ce1395af");
  EXPECT_GT(partition_key_hash("pk-1"), kUint128Max / 2);
}

TEST(Digest, Base64RoundTripAndStrictness) {
  for (const std::string& s :
       std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\0\xff\x10", 3)}) {
    auto enc = base64_encode(s);
    auto dec = base64_decode(enc);
    ASSERT_TRUE(dec.has_value()) << enc;
    EXPECT_EQ(*dec, s);
  }
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_FALSE(base64_decode("Zm9").has_value());
  EXPECT_FALSE(base64_decode("Zm9v!mFy").has_value());
  EXPECT_FALSE(base64_decode("Z===").has_value());
}

TEST(Digest, Crc32cKnownValues) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(""), 0u);
  // Incremental use gives the same result as one call.
  EXPECT_EQ(crc32c("56789", crc32c("1234")), 0xE3069283u);
}

TEST(Uint128, ParseDecimal) {
  EXPECT_EQ(parse_decimal_u128("0"), uint128{0});
  EXPECT_EQ(to_decimal(*parse_decimal_u128("340282366920938463463374607431768211455")),
            "340282366920938463463374607431768211455");
  EXPECT_FALSE(parse_decimal_u128("340282366920938463463374607431768211456").has_value());
  EXPECT_EQ(to_decimal(uint128{1} << 64), "18446744073709551616");
  EXPECT_EQ(to_decimal(uint128{10000000000000000000ull}), "10000000000000000000");
  EXPECT_EQ(to_decimal(uint128{10000000000000000000ull} * 10 + 7), "100000000000000000007");
  EXPECT_EQ(to_decimal(uint128{5}), "5");
  EXPECT_FALSE(parse_decimal_u128("01").has_value());
  EXPECT_FALSE(parse_decimal_u128("-1").has_value());
  EXPECT_FALSE(parse_decimal_u128("").has_value());
}

TEST(TimeFormat, Iso8601) {
  EXPECT_EQ(parse_iso8601_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_iso8601_ms("2016-04-04T19:58:46.480-00:00"), 1459799926480);
  EXPECT_EQ(parse_iso8601_ms("2016-04-04T21:58:46.480+02:00"), 1459799926480);
  EXPECT_EQ(parse_iso8601_ms("2021-01-31T14:05:47.190114"), 1612101947190);
  EXPECT_FALSE(parse_iso8601_ms("2021-13-31").has_value());
  EXPECT_FALSE(parse_iso8601_ms("yesterday").has_value());
  EXPECT_EQ(format_iso8601_ms(1459799926480), "2016-04-04T19:58:46.480Z");
}

}  // namespace
}  // namespace eddy
