#include "runtime/group_index.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace eddy::runtime {
namespace {

std::vector<Value> key(int64_t window, const std::string& store) { return {Value::integer(window), Value::text(store)}; }

// Checked against std::map over enough keys to grow the table several times, with keys that
// differ only in the integer, only in the text, or only in the kind.
TEST(GroupIndex, FindsWhatWasAddedAcrossGrowth) {
  GroupIndex index;
  std::map<std::vector<Value>, size_t, bool (*)(const std::vector<Value>&, const std::vector<Value>&)> expected(
      [](const std::vector<Value>& a, const std::vector<Value>& b) {
        for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
          if (a[i].kind != b[i].kind) return a[i].kind < b[i].kind;
          if (const int c = compare_values(a[i], b[i]); c != 0) return c < 0;
        }
        return a.size() < b.size();
      });
  EXPECT_EQ(index.find(key(0, "a")), GroupIndex::npos);
  for (int64_t w = 0; w < 40; ++w) {
    for (int s = 0; s < 25; ++s) {
      auto k = key(w * 60000, "store_" + std::to_string(s));
      ASSERT_EQ(index.find(k), GroupIndex::npos);
      index.emplace(k, expected.size());
      expected.emplace(k, expected.size());
    }
  }
  const std::vector<Value> null_key{Value::null(), Value::null()};
  const std::vector<Value> real_key{Value::real(0), Value::text("store_0")};
  EXPECT_EQ(index.find(null_key), GroupIndex::npos);
  EXPECT_EQ(index.find(real_key), GroupIndex::npos);  // 0.0 is not the integer 0
  index.emplace(null_key, expected.size());
  expected.emplace(null_key, expected.size());
  EXPECT_EQ(index.size(), expected.size());
  for (const auto& [k, g] : expected) EXPECT_EQ(index.find(k), g);
  EXPECT_EQ(index.find(key(0, "store_25")), GroupIndex::npos);
  EXPECT_EQ(index.find(key(60000 * 40, "store_0")), GroupIndex::npos);
  EXPECT_EQ(index.find({Value::integer(0)}), GroupIndex::npos);  // a prefix of a key is another key

  GroupIndex moved = std::move(index);
  EXPECT_EQ(moved.find(null_key), expected.at(null_key));
  moved.clear();
  EXPECT_EQ(moved.size(), 0u);
  EXPECT_EQ(moved.find(null_key), GroupIndex::npos);
  moved.emplace(null_key, 7);
  EXPECT_EQ(moved.find(null_key), 7u);
}

}  // namespace
}  // namespace eddy::runtime
