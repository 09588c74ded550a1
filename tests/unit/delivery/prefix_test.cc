#include "delivery/prefix.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/time_format.h"

namespace eddy::delivery {
namespace {

TimestampMs at(const char* iso) {
  return *parse_iso8601_ms(iso);
}

std::string eval(const std::string& p, const char* iso, const std::string& type = "") {
  int n = 0;
  return evaluate_prefix(
      p, at(iso), [&n] { return std::string("rand") + std::to_string(n++) + "xxxxxx"; }, type);
}

TEST(Prefix, DefaultTimePathIsAppended) {
  auto p = resolve_prefixes("myFirehosePrefix/", std::nullopt);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(eval(p->prefix, "2018-08-27T10:30:00Z"), "myFirehosePrefix/2018/08/27/10/");
  EXPECT_EQ(eval(p->error_prefix, "2018-08-27T10:30:00Z", "processing-failed"),
            "myFirehosePrefix/processing-failed/2018/08/27/10/");
  EXPECT_EQ(eval(resolve_prefixes("", std::nullopt)->prefix, "2024-05-06T07:08:09Z"), "2024/05/06/07/");
}

TEST(Prefix, DocumentedExamples) {
  // firehose.md §3, at 10:30 UTC 2018-08-27.
  auto p = resolve_prefixes("myFirehose/DeliveredYear=!{timestamp:yyyy}/anyMonth/rand=!{firehose:random-string}",
                            "myFirehoseFailures/!{firehose:error-output-type}/");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(eval(p->prefix, "2018-08-27T10:30:00Z"), "myFirehose/DeliveredYear=2018/anyMonth/rand=rand0xxxxxx");
  EXPECT_EQ(eval("myPrefix/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/",
                 "2018-07-06T23:05:00Z"),
            "myPrefix/year=2018/month=07/day=06/hour=23/");
  EXPECT_EQ(eval("!{timestamp:'year='yyyy'/month='MM}/", "2018-07-06T23:05:00Z"), "year=2018/month=07/");
  EXPECT_EQ(eval(p->error_prefix, "2018-08-27T10:30:00Z", "processing-failed"),
            "myFirehoseFailures/processing-failed/2018/08/27/10/");
}

TEST(Prefix, ValidationRules) {
  auto no_error_prefix = resolve_prefixes("x/!{timestamp:yyyy/MM/dd}", std::nullopt);
  ASSERT_FALSE(no_error_prefix.has_value());
  EXPECT_EQ(no_error_prefix.error().message,
            "Invalid input: ErrorOutputPrefix can't be null when Prefix contains expressions");
  EXPECT_EQ(resolve_prefixes("x/!{timestamp:yyyy", "e/").error().code, Errc::kInvalidArgument);  // rule 2
  EXPECT_FALSE(resolve_prefixes("x/!{firehose:error-output-type}/", "e/").has_value());          // rule 5
  EXPECT_FALSE(resolve_prefixes("x/!{timestamp:yyyy}/", "e/!{timestamp:yyyy}/").has_value());    // rule 4
  EXPECT_FALSE(resolve_prefixes("x/!{nope:value}/", "e/!{firehose:error-output-type}").has_value());
  EXPECT_TRUE(resolve_prefixes("x/!{timestamp:yyyy}/", "e/!{firehose:error-output-type}/").has_value());
  EXPECT_FALSE(resolve_prefixes(std::string(1025, 'a'), std::nullopt).has_value());
}

TEST(Prefix, RefusesPrefixesThatLeaveTheBucket) {
  for (const std::string& p :
       std::vector<std::string>{"../escape/", "a/../../b/", "/abs/", "a//b/", "./x/", "!{timestamp:'..'}/"}) {
    auto r = resolve_prefixes(p, "e/!{firehose:error-output-type}/");
    EXPECT_FALSE(r.has_value()) << p;
    if (!r) {
      EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
    }
  }
  EXPECT_FALSE(resolve_prefixes("ok/", "../e/").has_value());
  EXPECT_TRUE(resolve_prefixes("a..b/", std::nullopt).has_value());
  EXPECT_TRUE(resolve_prefixes("p/!{partitionKeyFromQuery:k}/", "e/!{firehose:error-output-type}/").has_value());
}

TEST(Prefix, PartitionKeyValuesMustFormAKey) {
  const std::string prefix = "p/!{partitionKeyFromQuery:k}/!{partitionKeyFromLambda:l}/";
  auto check = [&](const std::string& k, const std::string& l) {
    const std::map<std::string, std::string> keys = {{"query:k", k}, {"lambda:l", l}};
    return bool(check_prefix_forms_keys("keys", prefix, "sales-1-2021-01-31-14-05-47-uuid", &keys));
  };
  EXPECT_TRUE(check("store_3", "x"));
  EXPECT_TRUE(check("a/b", "x"));  // a value may add a level, as on AWS
  for (const std::string& bad :
       std::vector<std::string>{"..", ".", "", "a/../b", "/x", std::string(300, 'x'), std::string("a\0b", 3)})
    EXPECT_FALSE(check(bad, "x")) << bad;
  EXPECT_FALSE(check("ok", ".."));
  // The object name counts: a segment that only fits without it is refused.
  EXPECT_TRUE(check(std::string(200, 'x'), "x"));
  EXPECT_FALSE(check_prefix_forms_keys("Prefix", "p/" + std::string(200, 'x'), std::string(60, 'n')));
}

TEST(Prefix, JavaTimeFormat) {
  EXPECT_EQ(format_java_time("yyyy-MM-dd-HH-mm-ss", at("2024-05-06T07:08:09.123Z")), "2024-05-06-07-08-09");
  EXPECT_EQ(format_java_time("yy/M/d 'at' HH:mm:ss.SSS", at("2024-05-06T07:08:09.123Z")), "24/5/6 at 07:08:09.123");
}

}  // namespace
}  // namespace eddy::delivery
