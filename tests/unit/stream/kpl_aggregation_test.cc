// KPL aggregated records: read as the reference implementation writes them, written the same way,
// and every malformed aggregate refused with its reason (never a crash, never a partial result).
#include "stream/kpl_aggregation.h"

#include <gtest/gtest.h>

#include <random>

#include "common/digest.h"

namespace eddy::stream::kpl {
namespace {

using namespace std::string_literals;

std::string from_hex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

// Written by aws-kinesis-agg 4.2.8 (npm), AWS's library: aggregate() of
//   {store_3, '{"sales":22.78}'}, {store_1, '{"sales":1}', explicit hash key 2^127}, {store_3, ''}.
const std::string kReference = from_hex(
    "f3899ac20a0773746f72655f330a0773746f72655f3112273137303134313138333436303436393233313733313638373330333731353838"
    "343130353732381a1308001a0f7b2273616c6573223a32322e37387d1a11080110001a0b7b2273616c6573223a317d1a0408001a00a18fcb"
    "32411ee6931f47cd0344866304");

const std::vector<UserRecordIn> kReferenceRecords = {
    {"store_3", "", R"({"sales":22.78})"},
    {"store_1", "170141183460469231731687303715884105728", R"({"sales":1})"},
    {"store_3", "", ""},
};

// `body` as an aggregate with a correct digest: what a producer with a bug could send.
std::string sealed(std::string_view body) {
  const auto d = md5(body);
  return std::string(kMagic) + std::string(body) + std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

TEST(KplAggregation, ReadsWhatTheReferenceLibraryWrites) {
  ASSERT_TRUE(is_aggregated(kReference));
  auto records = deaggregate(kReference);
  ASSERT_TRUE(records.has_value()) << records.error().message;
  ASSERT_EQ(records->size(), kReferenceRecords.size());
  for (size_t i = 0; i < records->size(); ++i) {
    EXPECT_EQ((*records)[i].partition_key, kReferenceRecords[i].partition_key) << i;
    EXPECT_EQ((*records)[i].explicit_hash_key, kReferenceRecords[i].explicit_hash_key) << i;
    EXPECT_EQ((*records)[i].data, kReferenceRecords[i].data) << i;
  }
}

TEST(KplAggregation, WritesWhatTheReferenceLibraryWrites) {
  EXPECT_EQ(aggregate(kReferenceRecords), kReference);
}

TEST(KplAggregation, RoundTripsAnyRecords) {
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    std::vector<UserRecordIn> in;
    const int n = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      std::string data(rng() % 300, '\0');
      for (auto& c : data) c = static_cast<char>(rng());
      in.push_back({"k" + std::to_string(rng() % 5), rng() % 3 ? "" : std::to_string(rng()), std::move(data)});
    }
    const std::string packed = aggregate(in);  // the user records point into it
    auto out = deaggregate(packed);
    ASSERT_TRUE(out.has_value()) << out.error().message;
    ASSERT_EQ(out->size(), in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      EXPECT_EQ((*out)[i].partition_key, in[i].partition_key);
      EXPECT_EQ((*out)[i].explicit_hash_key, in[i].explicit_hash_key);
      EXPECT_EQ((*out)[i].data, in[i].data);
    }
  }
}

TEST(KplAggregation, PlainRecordsAreNotAggregates) {
  EXPECT_FALSE(is_aggregated(R"({"category":"Electronics"})"));
  EXPECT_FALSE(is_aggregated(""));
  EXPECT_FALSE(is_aggregated(std::string(kMagic) + "short"));  // no room for a digest
  EXPECT_FALSE(deaggregate("plain").has_value());
}

TEST(KplAggregation, MalformedAggregatesAreRefusedWithTheirReason) {
  auto reason = [](const std::string& data) {
    auto r = deaggregate(data);
    EXPECT_FALSE(r.has_value());
    return r ? std::string() : r.error().message;
  };
  std::string flipped = kReference;
  flipped[10] ^= 1;
  EXPECT_NE(reason(flipped).find("MD5"), std::string::npos);
  EXPECT_NE(reason(sealed("\x1a\x05\x08\x00"s)).find("past the end"), std::string::npos);  // truncated record
  EXPECT_NE(reason(sealed("\x1a\x02\x08\x07"s)).find("lacks"), std::string::npos);         // no data
  EXPECT_NE(reason(sealed("\x1a\x04\x08\x03\x1a\x00"s)).find("outside the table"), std::string::npos);  // no key 3
  EXPECT_NE(reason(sealed("\x0a\x01k\x1a\x06\x08\x00\x10\x01\x1a\x00"s)).find("outside the table"), std::string::npos);
  EXPECT_NE(reason(sealed("\x08\x01"s)).find("wrong type"), std::string::npos);     // field 1 as a varint
  EXPECT_NE(reason(sealed("\x23"s)).find("cannot be skipped"), std::string::npos);  // a group
  EXPECT_NE(reason(sealed("\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f"s)).find("past the end"), std::string::npos);
  EXPECT_NE(reason(sealed("\x0a\x81\x02"s + std::string(257, 'k'))).find("longer than 256"), std::string::npos);
  // Unknown fields (tags, future fields) are skipped; an empty aggregate holds no records.
  const std::string with_unknown = sealed("\x0a\x01k\x1a\x08\x08\x00\x1a\x01x\x22\x01z\x28\x05"s);
  auto skipped = deaggregate(with_unknown);
  ASSERT_TRUE(skipped.has_value()) << skipped.error().message;
  ASSERT_EQ(skipped->size(), 1u);
  EXPECT_EQ((*skipped)[0].data, "x");
  auto empty = deaggregate(sealed(""));
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());
}

TEST(KplAggregation, RandomBodiesNeverCrash) {
  std::mt19937 rng(11);
  size_t parsed = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string body(rng() % 64, '\0');
    for (auto& c : body) c = static_cast<char>(rng() % 4 ? rng() % 0x30 : rng());
    if (auto r = deaggregate(sealed(body))) parsed += r->size();
  }
  SUCCEED() << parsed << " user records parsed from random bodies";
}

}  // namespace
}  // namespace eddy::stream::kpl
