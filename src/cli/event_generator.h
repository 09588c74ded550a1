// The events `eddy gen` produces, modelled on the seed projects' producers: sales events
// (store_id, category, sales, evnt_time; a random UUID partition key) and stock trades
// (EVENT_TIME, TICKER, PRICE; the ticker as partition key).
//
// Reproducibility: every random choice comes from one std::mt19937_64 (whose output sequence the
// C++ standard fixes) mapped by plain modulo arithmetic, so a seed gives the same values on every
// platform. Event times are either the wall clock (live) or synthetic: start + i * spacing, so a
// seeded run with synthetic times is reproducible byte for byte.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace eddy::cli {

enum class EventKind { kSales, kTrades };

struct GeneratorOptions {
  EventKind kind = EventKind::kSales;
  uint64_t seed = 0;
  int stores = 5;                       // store_1 .. store_N
  std::vector<std::string> categories;  // empty: the default two
  std::optional<int64_t> start_us;      // synthetic event times start here (UTC microseconds)...
  int64_t spacing_us = 0;               // ...and advance this much per record
};

struct GeneratedRecord {
  std::string data;  // the JSON document
  std::string partition_key;
  int64_t cents = 0;  // sales amount or price, in hundredths
};

class EventGenerator {
 public:
  explicit EventGenerator(GeneratorOptions options);

  // The next record; `now_us` (UTC microseconds) is its event time unless times are synthetic.
  GeneratedRecord next(int64_t now_us);

 private:
  GeneratorOptions options_;
  std::mt19937_64 rng_;
  uint64_t index_ = 0;
};

// The seed producer's two categories, and the 16-item list `--categories all` selects.
const std::vector<std::string>& default_categories();
const std::vector<std::string>& all_categories();
const std::vector<std::string>& tickers();

// "2026-11-22T06:40:00.123456": ISO-8601 with microseconds and no zone, as Python's
// datetime.isoformat() prints a naive UTC time (what the seed producers send).
std::string format_event_time_us(int64_t utc_us);
// "2026-11-22T06:40:00Z", "2026-11-22 06:40:00.5" (UTC; an offset is applied): microseconds.
std::optional<int64_t> parse_event_time_us(std::string_view text);

}  // namespace eddy::cli
