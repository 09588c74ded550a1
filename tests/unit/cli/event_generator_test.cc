#include "cli/event_generator.h"
#include "cli/token_bucket.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>

namespace eddy::cli {
namespace {

GeneratorOptions seeded(EventKind kind, uint64_t seed) {
  GeneratorOptions o;
  o.kind = kind;
  o.seed = seed;
  o.start_us = *parse_event_time_us("2021-01-31T14:46:00Z");
  o.spacing_us = 10'000;
  return o;
}

TEST(EventGenerator, SameSeedSameRecordsWhateverTheWallClock) {
  EventGenerator a(seeded(EventKind::kSales, 42)), b(seeded(EventKind::kSales, 42));
  for (int i = 0; i < 200; ++i) {
    const auto x = a.next(1'000'000 * i), y = b.next(7);
    EXPECT_EQ(x.data, y.data);
    EXPECT_EQ(x.partition_key, y.partition_key);
  }
  EventGenerator c(seeded(EventKind::kSales, 43));
  EventGenerator d(seeded(EventKind::kSales, 42));
  EXPECT_NE(c.next(0).data, d.next(0).data);
}

TEST(EventGenerator, SalesRecordsHaveTheSeedsShape) {
  auto o = seeded(EventKind::kSales, 1);
  EventGenerator g(o);
  std::set<std::string> stores, categories, keys;
  for (int i = 0; i < 500; ++i) {
    const auto r = g.next(0);
    const auto j = nlohmann::json::parse(r.data);
    ASSERT_EQ(j.size(), 4u) << r.data;
    stores.insert(j["store_id"].get<std::string>());
    categories.insert(j["category"].get<std::string>());
    const double sales = j["sales"].get<double>();
    EXPECT_GE(sales, 0);
    EXPECT_LT(sales, 100);
    EXPECT_DOUBLE_EQ(sales * 100, static_cast<double>(r.cents));
    EXPECT_EQ(r.partition_key.size(), 36u);
    EXPECT_EQ(r.partition_key[14], '4');
    keys.insert(r.partition_key);
    if (i == 0) {
      EXPECT_EQ(j["evnt_time"], "2021-01-31T14:46:00.000000");
    }
    if (i == 3) {
      EXPECT_EQ(j["evnt_time"], "2021-01-31T14:46:00.030000");
    }
  }
  EXPECT_EQ(stores, (std::set<std::string>{"store_1", "store_2", "store_3", "store_4", "store_5"}));
  EXPECT_EQ(categories, (std::set<std::string>{"Books", "Electronics"}));
  EXPECT_EQ(keys.size(), 500u);
}

TEST(EventGenerator, StoresAndCategoriesOptions) {
  auto o = seeded(EventKind::kSales, 9);
  o.stores = 2;
  o.categories = all_categories();
  EventGenerator g(o);
  std::set<std::string> stores, categories;
  for (int i = 0; i < 2000; ++i) {
    const auto j = nlohmann::json::parse(g.next(0).data);
    stores.insert(j["store_id"].get<std::string>());
    categories.insert(j["category"].get<std::string>());
  }
  EXPECT_EQ(stores.size(), 2u);
  EXPECT_EQ(all_categories().size(), 16u);
  EXPECT_EQ(categories.size(), 16u);
}

TEST(EventGenerator, TradesUseTickersAndLiveTimes) {
  GeneratorOptions o;
  o.kind = EventKind::kTrades;
  EventGenerator g(o);
  const int64_t now = *parse_event_time_us("2026-11-22T06:40:00.123Z") + 456;
  const auto r = g.next(now);
  const auto j = nlohmann::json::parse(r.data);
  EXPECT_EQ(j["EVENT_TIME"], "2026-11-22T06:40:00.123456");
  EXPECT_EQ(j["TICKER"], r.partition_key);
  EXPECT_NE(std::find(tickers().begin(), tickers().end(), r.partition_key), tickers().end());
  EXPECT_LT(j["PRICE"].get<double>(), 100);
}

TEST(EventGenerator, EventTimeText) {
  EXPECT_EQ(format_event_time_us(0), "1970-01-01T00:00:00.000000");
  EXPECT_EQ(format_event_time_us(-1), "1969-12-31T23:59:59.999999");
  EXPECT_FALSE(parse_event_time_us("yesterday"));
}

TEST(TokenBucket, PacesAtTheRateWithoutAnOpeningBurst) {
  TokenBucket b(100, 100, 0);
  EXPECT_EQ(b.take(10, 0), 0u);
  EXPECT_DOUBLE_EQ(b.wait_for(5, 0), 0.05);
  EXPECT_EQ(b.take(10, 0.05), 5u);
  // Over 10 s (and a bit) 1000 whole tokens, whatever the call pattern.
  size_t total = 5;
  for (int i = 1; i <= 1000; ++i) total += b.take(7, 0.05 + i * 0.00995);
  total += b.take(100000, 10.001);
  EXPECT_EQ(total, 1000u);
}

TEST(TokenBucket, CatchesUpAfterAStallButOnlyUpToCapacity) {
  TokenBucket b(100, 50, 0);
  EXPECT_EQ(b.take(1000, 5.0), 50u);  // five seconds stalled: only a capacity's worth
  EXPECT_EQ(b.take(1000, 5.25), 25u);
}

}  // namespace
}  // namespace eddy::cli
