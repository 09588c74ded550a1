// The trades seed's Flink job as an eddy C++ job: trades keyed by ticker, a sliding window of
// 90 s every 60 s on event time, the maximum price per ticker, written to another stream as
// lines "EVENT_TIME ==> TICKER : Stock Value: PRICE".
//
// As in Flink, max("PRICE") keeps the other fields of the window's first trade (so EVENT_TIME
// is that trade's); max_by("PRICE") would keep the whole trade that had the maximum.
//
// Build:  g++ -std=c++20 -O2 -shared -fPIC -I<eddy>/src trades_max_job.cc -o libtrades_max.so
//         (or `cmake --build` of eddy: build/<preset>/examples/trades-max/libtrades_max.so)
// Deploy: eddy jobs deploy libtrades_max.so
//             --property-group TradesMax inputStreamName=trades outputStreamName=trades-max
#include <cstdio>
#include <string>

#include "job/job.h"

using eddy::job::Element;

EDDY_JOB(env) {
  const auto& p = env.properties();
  const std::string input = p.get("TradesMax", "inputStreamName", "trades");
  const std::string output = p.get("TradesMax", "outputStreamName", "trades-max");
  const int64_t size_s = std::stoll(p.get("TradesMax", "windowSizeSeconds", "90"));
  const int64_t slide_s = std::stoll(p.get("TradesMax", "windowSlideSeconds", "60"));
  const auto start = p.get("TradesMax", "startingPosition", "LATEST") == "TRIM_HORIZON"
                         ? eddy::job::StartingPosition::kTrimHorizon
                         : eddy::job::StartingPosition::kLatest;

  env.from_stream(input, start)
      .assign_timestamps("EVENT_TIME")
      .key_by("TICKER")
      .window(eddy::job::sliding_event_time(size_s * 1000, slide_s * 1000))
      .max("PRICE")
      .sink_to_stream(output, [](const Element& e) {
        char price[64];
        std::snprintf(price, sizeof price, "%g", e.at("PRICE").get<double>());
        return e.at("EVENT_TIME").get<std::string>() + " ==> " + e.at("TICKER").get<std::string>() +
               " : Stock Value: " + price;
      });
}
