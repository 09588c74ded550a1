// The limit to beat for the seed query on the seed's event shape: a plain simdjson program that
// parses every event (DOM, `parse_many`), reads all four fields, converts evnt_time to epoch
// milliseconds and sums sales per store per 60 s window, with nothing a SQL engine needs (no
// schema, no error stream, no checkpoints). bench/seed_shape.sh compiles and runs it beside eddy.
//
//   simdjson_seed_limit EVENTS.ndjson
//
// Prints `SIMDJSON parse_seconds=.. sum_seconds=.. events=.. groups=.. revenue=..`: parse_seconds
// is a pass that only reads every field; sum_seconds a second pass that also aggregates. Each
// pass includes reading the file (from the page cache) in blocks, as eddy's run does.
#include <simdjson.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {  // H. Hinnant's algorithm
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

int digits(std::string_view s, size_t at, size_t n) {
  int v = 0;
  for (size_t i = 0; i < n; ++i) v = v * 10 + (s[at + i] - '0');
  return v;
}

// "yyyy-MM-ddTHH:mm:ss.ffffff" -> epoch ms (the producer's fixed format; no validation).
int64_t epoch_ms(std::string_view s) {
  if (s.size() < 19) return 0;
  const int64_t days = days_from_civil(digits(s, 0, 4), digits(s, 5, 2), digits(s, 8, 2));
  int64_t ms = ((days * 24 + digits(s, 11, 2)) * 60 + digits(s, 14, 2)) * 60000 + digits(s, 17, 2) * 1000;
  if (s.size() >= 23) ms += digits(s, 20, 3);
  return ms;
}

struct Window {
  int64_t start = INT64_MIN;
  float revenue = 0;
  int64_t orders = 0;
};

// Reads the file in 1 MiB blocks of whole lines into one reused buffer (as eddy reads its input:
// loading the whole file into fresh memory would time the page faults, not the parse).
template <typename OnEvent>
bool each_event(const char* path, OnEvent&& on_event) {
  std::FILE* f = std::fopen(path, "rb");
  if (!f) return false;
  constexpr size_t kBlock = 1 << 20;
  std::vector<char> buf(kBlock + simdjson::SIMDJSON_PADDING);
  size_t have = 0;  // bytes in buf: a partial line carried over, then the next read
  simdjson::dom::parser parser;
  bool ok = true;
  for (;;) {
    const size_t got = std::fread(buf.data() + have, 1, kBlock - have, f);
    have += got;
    if (have == 0) break;
    size_t lines = have;  // whole lines; at the end of the file, everything
    if (got != 0) {
      while (lines > 0 && buf[lines - 1] != '\n') --lines;
      if (lines == 0) {
        ok = false;  // a line longer than a block
        break;
      }
    }
    simdjson::dom::document_stream docs;
    if (parser.parse_many(buf.data(), lines, lines + 1).get(docs)) {
      ok = false;
      break;
    }
    for (auto doc : docs) {
      simdjson::dom::object o;
      if (doc.get(o)) continue;
      std::string_view category, store, time;
      double sales = 0;
      if (o["category"].get(category) || o["store_id"].get(store) || o["evnt_time"].get(time) ||
          o["sales"].get(sales)) {
        continue;
      }
      on_event(category, store, epoch_ms(time), sales);
    }
    std::memmove(buf.data(), buf.data() + lines, have - lines);
    have -= lines;
    if (got == 0) break;
  }
  std::fclose(f);
  return ok;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: simdjson_seed_limit EVENTS.ndjson\n");
    return 2;
  }
  // Pass 1: parse and read every field.
  auto t0 = std::chrono::steady_clock::now();
  uint64_t events = 0, checksum = 0;
  if (!each_event(argv[1], [&](std::string_view c, std::string_view s, int64_t ms, double v) {
        ++events;
        checksum += c.size() + s.size() + static_cast<uint64_t>(ms) + static_cast<uint64_t>(v);
      })) {
    std::fprintf(stderr, "simdjson_seed_limit: cannot read or parse %s\n", argv[1]);
    return 1;
  }
  const double parse_seconds = seconds_since(t0);

  // Pass 2: the same, summing per store per 60 s window (windows close as time passes them).
  t0 = std::chrono::steady_clock::now();
  std::unordered_map<std::string, Window> open;
  uint64_t groups = 0;
  double revenue = 0;
  auto close = [&](Window& w) {
    if (w.orders == 0) return;
    ++groups;
    revenue += w.revenue;
    w = Window{};
  };
  each_event(argv[1], [&](std::string_view, std::string_view store, int64_t ms, double v) {
    const int64_t start = ms - ms % 60000;
    auto it = open.find(std::string(store));  // std::string(...) of a short id: no allocation (SSO)
    if (it == open.end()) it = open.emplace(std::string(store), Window{}).first;
    Window& w = it->second;
    if (w.start != start) {
      close(w);
      w.start = start;
    }
    w.revenue += static_cast<float>(v);
    ++w.orders;
  });
  for (auto& [store, w] : open) close(w);
  const double sum_seconds = seconds_since(t0);
  std::printf("SIMDJSON parse_seconds=%.3f sum_seconds=%.3f events=%llu groups=%llu revenue=%.2f check=%llu\n",
              parse_seconds, sum_seconds, static_cast<unsigned long long>(events),
              static_cast<unsigned long long>(groups), revenue, static_cast<unsigned long long>(checksum % 1000));
  return 0;
}
