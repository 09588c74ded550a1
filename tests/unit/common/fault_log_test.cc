// Server faults are rate-limited in bursts: a handful of different faults all reach the log, a
// flood does not, and the line after a flood says how many were left out.
#include "common/fault_log.h"

#include <gtest/gtest.h>

#include <string>

namespace eddy {
namespace {

using namespace std::chrono_literals;

TEST(FaultLog, ABurstIsLoggedAndAFloodIsCapped) {
  const auto t0 = FaultLines::Clock::time_point{} + 1h;
  FaultLines lines(t0);
  for (int i = 0; i < 5; ++i) {  // five rare faults: each one logged
    auto line = lines.line("saving application a" + std::to_string(i), "No space left on device", t0);
    ASSERT_TRUE(line);
    EXPECT_EQ(*line, "saving application a" + std::to_string(i) + " failed: No space left on device");
  }
  int logged = 0;
  for (int i = 0; i < 1000; ++i) logged += lines.line("appending to stream s", "No space left on device", t0) ? 1 : 0;
  EXPECT_EQ(logged, 15);  // what was left of the burst of 20
  // A second later one more line, counting those left out.
  auto next = lines.line("appending to stream s", "No space left on device", t0 + 1s);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, "appending to stream s failed: No space left on device (and 985 more faults since the last line)");
  EXPECT_FALSE(lines.line("appending to stream s", "No space left on device", t0 + 1s));
  // Quiet for a minute: the whole burst again.
  logged = 0;
  for (int i = 0; i < 30; ++i) logged += lines.line("x", "y", t0 + 61s) ? 1 : 0;
  EXPECT_EQ(logged, 20);
}

TEST(FaultLog, AReasonIsCutAt500Bytes) {
  FaultLines lines(FaultLines::Clock::now());
  auto line = lines.line("w", std::string(40000, 'r'), FaultLines::Clock::now());
  ASSERT_TRUE(line);
  EXPECT_EQ(line->size(), std::string("w failed: ").size() + 500);
}

}  // namespace
}  // namespace eddy
