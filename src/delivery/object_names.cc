#include "delivery/object_names.h"

#include <cstring>
#include <random>

#include "common/digest.h"
#include "delivery/prefix.h"

namespace eddy::delivery {

namespace {

constexpr char kHex[] = "0123456789abcdef";

std::mt19937_64 seeded(const std::array<uint8_t, 16>& digest) {
  uint64_t seed;
  std::memcpy(&seed, digest.data(), sizeof(seed));
  return std::mt19937_64(seed);
}

// !{firehose:random-string} values, from `rng`.
auto random_strings(std::mt19937_64& rng) {
  return [&rng] {
    std::string s(11, '0');
    for (auto& c : s) c = kHex[rng() % 16];
    return s;
  };
}

std::string uuid_of(const std::array<uint8_t, 16>& digest) {
  std::string uuid = to_hex(digest);
  uuid.insert(8, "-").insert(13, "-").insert(18, "-").insert(23, "-");
  return uuid;
}

}  // namespace

Intent round_keys(const Destination& d, const std::string& name, int64_t version, const SourceRanges& ranges,
                  TimestampMs oldest) {
  std::string seed_text = name + "/" + std::to_string(version);
  for (const auto& [s, r] : ranges)
    seed_text += "/" + std::to_string(s) + ":" + std::to_string(r.first) + "-" + std::to_string(r.second);
  auto rng = seeded(md5(seed_text));
  std::string uuid(36, '-');
  for (size_t i = 0; i < uuid.size(); ++i) {
    if (i != 8 && i != 13 && i != 18 && i != 23) uuid[i] = kHex[rng() % 16];
  }
  const auto random = random_strings(rng);
  const std::string suffix =
      name + "-" + std::to_string(version) + "-" + format_java_time("yyyy-MM-dd-HH-mm-ss", oldest) + "-" + uuid;
  Intent out;
  out.key = evaluate_prefix(d.prefix, oldest, random) + suffix + d.extension;
  out.error_key = evaluate_prefix(d.error_prefix, oldest, random, "processing-failed") + suffix;
  out.ranges = ranges;
  return out;
}

std::string partition_key_of(const Destination& d, const std::string& name, int64_t version, const std::string& key,
                             int part, const std::map<std::string, std::string>& keys, TimestampMs oldest) {
  const auto digest = md5(key + "#" + std::to_string(part));
  auto rng = seeded(digest);
  return evaluate_prefix(d.prefix, oldest, random_strings(rng), "", &keys) + name + "-" + std::to_string(version) +
         "-" + format_java_time("yyyy-MM-dd-HH-mm-ss", oldest) + "-" + uuid_of(digest) + d.extension;
}

std::string request_id(const std::string& key, size_t part) {
  return uuid_of(md5(key + "#" + std::to_string(part)));
}

std::string failed_key(const Destination& d, TimestampMs arrival, const std::string& error_type,
                       const std::string& key) {
  return evaluate_prefix(
             d.error_prefix, arrival, [] { return std::string("00000000000"); }, error_type) +
         key.substr(key.rfind('/') + 1);
}

}  // namespace eddy::delivery
