// Server faults are rate-limited in bursts: a handful of different faults all reach the log, a
// flood does not.
#include "common/fault_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace eddy {
namespace {

TEST(FaultLog, ABurstIsLoggedAndAFloodIsCapped) {
  testing::internal::CaptureStderr();
  for (int i = 0; i < 5; ++i) log_fault("saving application a" + std::to_string(i), "No space left on device");
  std::string out = testing::internal::GetCapturedStderr();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 5);  // five rare faults: each one logged
  EXPECT_NE(out.find("saving application a4 failed: No space left on device"), std::string::npos);

  testing::internal::CaptureStderr();
  for (int i = 0; i < 1000; ++i) log_fault("appending to stream s", "No space left on device");
  out = testing::internal::GetCapturedStderr();
  const auto lines = std::count(out.begin(), out.end(), '\n');
  EXPECT_GE(lines, 15);  // what was left of the burst (and a refill if this machine is slow)
  EXPECT_LE(lines, 20);
}

}  // namespace
}  // namespace eddy
