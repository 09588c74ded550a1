// Fuzz target: a delivery stream's Prefix and ErrorOutputPrefix (validated, then evaluated), its
// MetadataExtractionQuery over a record, and the object keys the partition values make, as the
// delivery host makes them. Fields are separated by newlines: prefix, error prefix, query, record.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/path_names.h"
#include "delivery/prefix.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace eddy::delivery;
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> f;
  size_t start = 0;
  while (f.size() < 3) {
    const size_t nl = input.find('\n', start);
    if (nl == std::string::npos) break;
    f.push_back(input.substr(start, nl - start));
    start = nl + 1;
  }
  f.resize(3);
  const std::string record = input.substr(std::min(start, input.size()));
  auto random = [] { return std::string(11, '0'); };
  auto prefixes = resolve_prefixes(f[0], f[1].empty() ? std::nullopt : std::optional<std::string>(f[1]));
  std::map<std::string, std::string> keys;
  if (auto q = parse_partition_query(f[2])) {
    if (auto extracted = extract_partition_keys(*q, record)) keys = std::move(*extracted);
  }
  keys["lambda:k"] = record.substr(0, 300);
  if (prefixes) {
    // What the host does with a record: a key is checked before it is used, and a checked key
    // must stay inside the bucket.
    if (check_prefix_forms_keys("p", prefixes->prefix, "name-1-2021-01-31-14-05-47-uuid", &keys)) {
      const std::string key = evaluate_prefix(prefixes->prefix, 1612101947190, random, "", &keys) + "object";
      auto path = eddy::object_path("/bucket/b", key);
      if (!path || path->lexically_normal().string().rfind("/bucket/b/", 0) != 0) __builtin_trap();
    }
    (void)evaluate_prefix(prefixes->error_prefix, -1, random, "processing-failed");
  }
  const std::string component = eddy::path_component(record);
  if (component.find('/') != std::string::npos || component.empty() || component[0] == '.') __builtin_trap();
  (void)eddy::bucket_from_arn(record);
  return 0;
}
