#include "runtime/group_index.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace eddy::runtime {
namespace {

std::vector<Value> key(int64_t window, const std::string& store) {
  return {Value::integer(window), Value::text(store)};
}

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

// A text's hash picks its key group, which checkpoints hold: it must stay what it was when the
// tail bytes were shifted in one at a time, for every length and byte value.
TEST(ValueHash, TextHashIsTheByteAtATimeDefinition) {
  auto reference = [](const std::string& s) -> size_t {
    auto mix = [](uint64_t x) {
      x ^= x >> 33;
      x *= 0xff51afd7ed558ccdULL;
      x ^= x >> 33;
      return x;
    };
    const size_t n = s.size();
    uint64_t h = n * 0x9e3779b97f4a7c15ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t w = 0;
      for (size_t k = 0; k < 8; ++k) w |= static_cast<uint64_t>(static_cast<unsigned char>(s[i + k])) << (8 * k);
      h = mix(h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    }
    uint64_t tail = 0;
    for (size_t k = 0; i + k < n; ++k) tail |= static_cast<uint64_t>(static_cast<unsigned char>(s[i + k])) << (8 * k);
    return mix(h ^ tail);
  };
  uint32_t x = 12345;
  for (size_t n = 0; n <= 40; ++n) {
    for (int round = 0; round < 20; ++round) {
      std::string s(n, '\0');
      for (auto& c : s) {
        x = x * 1664525u + 1013904223u;
        c = static_cast<char>(x >> 24);
      }
      ASSERT_EQ(ValueHash{}(Value::text(s)), reference(s)) << "length " << n;
    }
  }
  EXPECT_EQ(ValueHash{}(Value::text("store_3")), reference("store_3"));
}

}  // namespace
}  // namespace eddy::runtime
