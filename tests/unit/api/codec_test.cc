#include <gtest/gtest.h>

#include "api/cbor_codec.h"
#include "api/json_codec.h"
#include "api/service_model.h"

namespace eddy::embedded {
std::string_view kinesis_model();
}

namespace eddy::api {
namespace {

Value parse(const std::string& json) {
  std::string padded = json;
  padded.reserve(json.size() + 64);
  auto v = parse_json(padded.data(), padded.size(), padded.capacity());
  EXPECT_TRUE(v.has_value()) << json;
  return *v;
}

TEST(JsonCodec, ParsesAndRejects) {
  auto v = parse(R"({"StreamName":"s","Limit":5,"Nested":{"A":[1,2.5,true,null]}})");
  EXPECT_EQ(v.get("StreamName")->text, "s");
  EXPECT_EQ(v.get("Limit")->integer, 5);
  EXPECT_EQ(v.get("Nested")->get("A")->items.size(), 4u);
  std::string bad = "{bad";
  auto r = parse_json(bad.data(), bad.size(), bad.capacity());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::kSerialization);
  std::string arr = "[1,2]";
  EXPECT_FALSE(parse_json(arr.data(), arr.size(), arr.capacity()).has_value());
}

TEST(JsonCodec, WriterEscapesAndFormatsTimestamps) {
  JsonWriter w;
  w.begin_object();
  w.field("S", "a\"b\\c\n");
  w.key("T");
  w.timestamp(1459799926480);
  w.key("B");
  w.blob("hello");
  w.end_object();
  EXPECT_EQ(w.buffer(), R"({"S":"a\"b\\c\u000a","T":1459799926.480,"B":"aGVsbG8="})");
}

TEST(CborCodec, RoundTrip) {
  CborWriter w;
  w.begin_object();
  w.field("Name", "stream");
  w.field("Count", int64_t{-7});
  w.field("Big", int64_t{1'700'000'000'123});
  w.key("Data");
  w.blob(std::string("\0\1\2", 3));
  w.key("List");
  w.begin_array();
  w.boolean(true);
  w.end_array();
  w.end_object();
  auto v = parse_cbor(w.buffer());
  ASSERT_TRUE(v.has_value()) << v.error().message;
  EXPECT_EQ(v->get("Name")->text, "stream");
  EXPECT_EQ(v->get("Count")->integer, -7);
  EXPECT_EQ(v->get("Big")->integer, 1'700'000'000'123);
  EXPECT_EQ(v->get("Data")->type, Value::Type::kBytes);
  EXPECT_EQ(v->get("Data")->text, std::string("\0\1\2", 3));
  EXPECT_TRUE(v->get("List")->items[0].boolean);
}

TEST(CborCodec, DefiniteLengthsFloatsAndErrors) {
  // {"a": 1.5 (float64), "b": h'0102'}
  static const char kBytes[] =
      "\xa2\x61"
      "a"
      "\xfb\x3f\xf8\x00\x00\x00\x00\x00\x00"
      "\x61"
      "b"
      "\x42\x01\x02";
  const std::string bytes(kBytes, sizeof(kBytes) - 1);
  auto v = parse_cbor(bytes);
  ASSERT_TRUE(v.has_value());
  EXPECT_DOUBLE_EQ(v->get("a")->number, 1.5);
  EXPECT_EQ(v->get("b")->text, "\x01\x02");
  EXPECT_FALSE(parse_cbor("\xa2\x61").has_value());                                              // truncated
  EXPECT_FALSE(parse_cbor(std::string("\x5b\xff\xff\xff\xff\xff\xff\xff\xff", 9)).has_value());  // absurd length
  EXPECT_FALSE(parse_cbor("\x01").has_value());                                                  // not a map
}

class ModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = ServiceModel::load(embedded::kinesis_model());
    ASSERT_TRUE(m.has_value());
    model_ = std::move(*m);
  }
  Status check(const std::string& op, const std::string& json) {
    Value v = parse(json);
    if (auto st = model_->normalize(op, v, Protocol::kJson); !st) return st;
    return model_->validate(op, v);
  }
  std::unique_ptr<ServiceModel> model_;
};

TEST_F(ModelTest, AwsValidationMessages) {
  EXPECT_TRUE(check("CreateStream", R"({"StreamName":"ok-name_1.x","ShardCount":1})").has_value());
  auto r = check("CreateStream", R"({"StreamName":"bad name!","ShardCount":1})");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::kValidation);
  EXPECT_EQ(r.error().message,
            "1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy constraint: Member must "
            "satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
  r = check("CreateStream", R"({"StreamName":")" + std::string(129, 'a') + R"(","ShardCount":0})");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("2 validation errors detected"), std::string::npos);
  EXPECT_NE(r.error().message.find("Member must have length less than or equal to 128"), std::string::npos);
  EXPECT_NE(r.error().message.find("Member must have value greater than or equal to 1"), std::string::npos);
  r = check("GetShardIterator", R"({"StreamName":"s"})");
  EXPECT_NE(r.error().message.find("Value null at 'shardId' failed to satisfy constraint: Member must not be null"),
            std::string::npos);
  r = check("GetRecords", R"({"ShardIterator":"x","Limit":10001})");
  EXPECT_NE(r.error().message.find("Member must have value less than or equal to 10000"), std::string::npos);
}

TEST_F(ModelTest, ListLengthAndNestedPaths) {
  std::string records;
  for (int i = 0; i < 501; ++i) records += std::string(i ? "," : "") + R"({"Data":"YQ==","PartitionKey":"k"})";
  auto r = check("PutRecords", R"({"StreamName":"s","Records":[)" + records + "]}");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find(
                "at 'records' failed to satisfy constraint: Member must have length less than or equal to 500"),
            std::string::npos);
  r = check("PutRecords", R"({"StreamName":"s","Records":[{"Data":"YQ==","PartitionKey":""}]})");
  EXPECT_NE(r.error().message.find("'records.1.member.partitionKey'"), std::string::npos);
}

TEST_F(ModelTest, NormalizesBlobsAndTimestamps) {
  Value v = parse(R"({"StreamName":"s","ShardId":"x","ShardIteratorType":"AT_TIMESTAMP","Timestamp":1459799926.48})");
  ASSERT_TRUE(model_->normalize("GetShardIterator", v, Protocol::kJson).has_value());
  EXPECT_EQ(v.get("Timestamp")->integer, 1459799926480);
  Value p = parse(R"({"StreamName":"s","Data":"aGVsbG8=","PartitionKey":"k"})");
  ASSERT_TRUE(model_->normalize("PutRecord", p, Protocol::kJson).has_value());
  EXPECT_EQ(p.get("Data")->text, "hello");
  Value bad = parse(R"({"StreamName":"s","Data":"not base64!","PartitionKey":"k"})");
  EXPECT_EQ(model_->normalize("PutRecord", bad, Protocol::kJson).error().code, Errc::kSerialization);
  auto wrong_type = check("CreateStream", R"({"StreamName":5})");
  EXPECT_EQ(wrong_type.error().code, Errc::kSerialization);
}

}  // namespace
}  // namespace eddy::api
