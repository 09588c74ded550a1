#include "api/event_stream.h"

#include <gtest/gtest.h>

namespace eddy::api {
namespace {

TEST(EventStream, AnEmptyMessageMatchesAwsTestVector) {
  // aws-c-event-stream's "empty_message" vector: prelude, its CRC and the message CRC.
  const std::string expected("\x00\x00\x00\x10\x00\x00\x00\x00\x05\xc2\x48\xeb\x7d\x98\xc8\xff", 16);
  EXPECT_EQ(encode_event_message({}, ""), expected);
}

TEST(EventStream, MessagesRoundTripAndCarryTheirHeaders) {
  const std::string bytes = event_message("SubscribeToShardEvent", "application/json", R"({"Records":[]})") +
                            exception_message("ResourceInUseException", "application/json", R"({"message":"x"})");
  auto first = decode_event_message(bytes);
  ASSERT_TRUE(first.has_value() && first->has_value());
  const auto& [m, used] = **first;
  EXPECT_EQ(m.header(":event-type"), "SubscribeToShardEvent");
  EXPECT_EQ(m.header(":message-type"), "event");
  EXPECT_EQ(m.header(":content-type"), "application/json");
  EXPECT_EQ(m.payload, R"({"Records":[]})");
  auto second = decode_event_message(std::string_view(bytes).substr(used));
  ASSERT_TRUE(second.has_value() && second->has_value());
  EXPECT_EQ((*second)->first.header(":exception-type"), "ResourceInUseException");
  EXPECT_EQ((*second)->first.header(":message-type"), "exception");
  EXPECT_EQ((*second)->second, bytes.size() - used);
}

TEST(EventStream, APartialMessageWaitsAndACorruptOneIsRefused) {
  const std::string bytes = event_message("initial-response", "application/json", "{}");
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto partial = decode_event_message(std::string_view(bytes).substr(0, n));
    if (n >= 12) {
      ASSERT_TRUE(partial.has_value()) << n;
    }
    if (partial) {
      EXPECT_FALSE(partial->has_value()) << n;
    }
  }
  std::string flipped = bytes;
  flipped[bytes.size() - 6] ^= 1;  // in the payload: the message CRC no longer matches
  EXPECT_FALSE(decode_event_message(flipped).has_value());
  std::string bad_prelude = bytes;
  bad_prelude[2] ^= 1;
  EXPECT_FALSE(decode_event_message(bad_prelude).has_value());
}

}  // namespace
}  // namespace eddy::api
