#include "cli/event_generator.h"

#include <cstdio>
#include <ctime>

#include "api/json_codec.h"
#include "common/json_text.h"
#include "common/time_format.h"

namespace eddy::cli {
namespace {

// A version-4 UUID from 122 random bits of `rng`.
std::string random_uuid(std::mt19937_64& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  const uint64_t hi = rng(), lo = rng();
  std::string id(36, '-');
  int bit = 0;
  for (size_t i = 0; i < id.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;
    const uint64_t word = bit < 64 ? hi : lo;
    id[i] = kHex[(word >> (bit % 64)) & 0xf];
    bit += 4;
  }
  id[14] = '4';
  id[19] = kHex[8 | (lo & 0x3)];
  return id;
}

// "12.34" for 1234 cents: exactly two decimals, as the seed's round(x, 2) values.
std::string decimal_text(int64_t cents) {
  std::string s = std::to_string(cents / 100) + '.';
  const int64_t frac = cents % 100;
  if (frac < 10) s += '0';
  s += std::to_string(frac);
  return s;
}

}  // namespace

const std::vector<std::string>& default_categories() {
  static const std::vector<std::string> kTwo = {"Books", "Electronics"};
  return kTwo;
}

const std::vector<std::string>& all_categories() {
  static const std::vector<std::string> kSixteen = {
      "Books",  "Electronics", "Clothing", "Garden", "Toys",   "Grocery",      "Sports",  "Beauty",
      "Health", "Automotive",  "Music",    "Movies", "Office", "Pet Supplies", "Jewelry", "Home"};
  return kSixteen;
}

const std::vector<std::string>& tickers() {
  static const std::vector<std::string> kTickers = {"AMZN", "GOOG", "AZRE", "ORCL", "BABA"};
  return kTickers;
}

EventGenerator::EventGenerator(GeneratorOptions options) : options_(std::move(options)), rng_(options_.seed) {
  if (options_.categories.empty()) options_.categories = default_categories();
  if (options_.stores < 1) options_.stores = 1;
}

GeneratedRecord EventGenerator::next(int64_t now_us) {
  const int64_t event_us =
      options_.start_us ? *options_.start_us + static_cast<int64_t>(index_) * options_.spacing_us : now_us;
  ++index_;
  GeneratedRecord rec;
  // A uniform amount in [0, 100) with two decimals: 0.00 .. 99.99. (The modulo bias of 10,000 on
  // 2^64 is below 1e-15.)
  const auto pick = [this](uint64_t n) { return static_cast<size_t>(rng_() % n); };
  if (options_.kind == EventKind::kSales) {
    const size_t store = pick(static_cast<uint64_t>(options_.stores));
    const std::string& category = options_.categories[pick(options_.categories.size())];
    rec.cents = static_cast<int64_t>(pick(10000));
    rec.partition_key = random_uuid(rng_);
    rec.data = "{\"store_id\":\"store_" + std::to_string(store + 1) + "\",\"category\":";
    append_json_string(rec.data, category);
    rec.data += ",\"sales\":" + decimal_text(rec.cents) + ",\"evnt_time\":\"" + format_event_time_us(event_us) + "\"}";
  } else {
    const std::string& ticker = tickers()[pick(tickers().size())];
    rec.cents = static_cast<int64_t>(pick(10000));
    rec.partition_key = ticker;
    rec.data = "{\"EVENT_TIME\":\"" + format_event_time_us(event_us) + "\",\"TICKER\":\"" + ticker +
               "\",\"PRICE\":" + decimal_text(rec.cents) + "}";
  }
  return rec;
}

std::string format_event_time_us(int64_t utc_us) {
  int64_t secs = utc_us / 1'000'000, frac = utc_us % 1'000'000;
  if (frac < 0) {
    frac += 1'000'000;
    --secs;
  }
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(frac));
  return buf;
}

std::optional<int64_t> parse_event_time_us(std::string_view text) {
  auto ms = parse_iso8601_ms(text);
  if (!ms) return std::nullopt;
  return *ms * 1000;
}

}  // namespace eddy::cli
