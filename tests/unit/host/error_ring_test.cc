#include "host/error_ring.h"

#include <gtest/gtest.h>

namespace eddy::host {
namespace {

TEST(ErrorRing, KeepsTheNewestRowsUpToTheCount) {
  ErrorRing ring;
  for (size_t i = 0; i < ErrorRing::kMaxRows + 50; ++i) ring.push(std::to_string(i));
  const auto rows = ring.rows();
  ASSERT_EQ(rows.size(), ErrorRing::kMaxRows);
  EXPECT_EQ(rows.front(), "50");
  EXPECT_EQ(rows.back(), std::to_string(ErrorRing::kMaxRows + 49));
}

TEST(ErrorRing, LargeRowsAreBoundedByBytes) {
  // Error rows that carry 1 MiB records: the ring (and so one dashboard answer) stays within
  // kMaxBytes, and the rows it keeps are the newest ones.
  ErrorRing ring;
  const std::string big(1u << 20, 'x');
  for (int i = 0; i < 50; ++i) ring.push(std::to_string(i) + big);
  EXPECT_LE(ring.bytes(), ErrorRing::kMaxBytes);
  const auto rows = ring.rows();
  ASSERT_FALSE(rows.empty());
  EXPECT_LT(rows.size(), 5u);
  EXPECT_TRUE(rows.back().starts_with("49"));
  size_t total = 0;
  for (const auto& r : rows) total += r.size();
  EXPECT_EQ(total, ring.bytes());
}

TEST(ErrorRing, KeepsTheNewestRowEvenIfItAloneIsOverTheBudget) {
  ErrorRing ring;
  ring.push("small");
  ring.push(std::string(ErrorRing::kMaxBytes + 1, 'y'));
  const auto rows = ring.rows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows.front().size(), ErrorRing::kMaxBytes + 1);
}

}  // namespace
}  // namespace eddy::host
