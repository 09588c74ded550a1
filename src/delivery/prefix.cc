#include "delivery/prefix.h"

#include <simdjson.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <variant>
#include <vector>

#include "common/path_names.h"

namespace eddy::delivery {
namespace {

constexpr std::string_view kDefaultTime = "!{timestamp:yyyy/MM/dd/HH/}";
constexpr TimestampMs kSampleTime = 1612101947190;  // 2021-01-31 14:05:47.190: only digits vary with time

struct Expression {
  std::string ns, value;
};

// Splits a prefix into literal text and !{ns:value} expressions; nullopt if `!{` starts something
// that is not a well-formed expression (rule 2).
std::optional<std::vector<std::variant<std::string, Expression>>> parse(const std::string& p) {
  std::vector<std::variant<std::string, Expression>> out;
  size_t i = 0;
  std::string lit;
  while (i < p.size()) {
    if (p.compare(i, 2, "!{") == 0) {
      const size_t end = p.find('}', i);
      if (end == std::string::npos) return std::nullopt;
      const std::string body = p.substr(i + 2, end - i - 2);
      const size_t colon = body.find(':');
      if (colon == std::string::npos) return std::nullopt;
      if (!lit.empty()) out.emplace_back(std::move(lit));
      lit.clear();
      out.emplace_back(Expression{body.substr(0, colon), body.substr(colon + 1)});
      i = end + 1;
    } else {
      lit.push_back(p[i++]);
    }
  }
  if (!lit.empty()) out.emplace_back(std::move(lit));
  return out;
}

tl::unexpected<Error> invalid(const std::string& m) {
  return make_error(Errc::kInvalidArgument, m);
}

}  // namespace

std::string format_java_time(const std::string& pattern, TimestampMs ts) {
  using namespace std::chrono;
  const auto tp = sys_time<milliseconds>{milliseconds{ts}};
  const auto dp = floor<days>(tp);
  const year_month_day ymd{dp};
  const hh_mm_ss hms{tp - dp};
  std::string out;
  auto num = [&out](long v, size_t width) {
    char buf[24];
    std::snprintf(buf, sizeof(buf), "%0*ld", static_cast<int>(width), v);
    out += buf;
  };
  for (size_t i = 0; i < pattern.size();) {
    const char c = pattern[i];
    if (c == '\'') {
      const size_t end = pattern.find('\'', i + 1);
      out += pattern.substr(i + 1, (end == std::string::npos ? pattern.size() : end) - i - 1);
      i = end == std::string::npos ? pattern.size() : end + 1;
      continue;
    }
    size_t n = 1;
    while (i + n < pattern.size() && pattern[i + n] == c) ++n;
    switch (c) {
      case 'y':
      case 'u':
        num(n == 2 ? static_cast<int>(ymd.year()) % 100 : static_cast<int>(ymd.year()), n == 2 ? 2 : n);
        break;
      case 'M':
        num(static_cast<unsigned>(ymd.month()), n);
        break;
      case 'd':
        num(static_cast<unsigned>(ymd.day()), n);
        break;
      case 'H':
        num(hms.hours().count(), n);
        break;
      case 'm':
        num(hms.minutes().count(), n);
        break;
      case 's':
        num(hms.seconds().count(), n);
        break;
      case 'S':
        num(hms.subseconds().count(), 3);
        break;
      default:
        out.append(n, c);
    }
    i += n;
  }
  return out;
}

Result<Prefixes> resolve_prefixes(const std::string& prefix, const std::optional<std::string>& error_prefix) {
  auto p = parse(prefix);
  if (!p) return invalid("Invalid input: '!{' in Prefix must start an expression such as !{timestamp:yyyy}");
  bool has_expr = false, has_time = false;
  for (const auto& part : *p) {
    if (const auto* e = std::get_if<Expression>(&part)) {
      has_expr = true;
      if (e->ns == "timestamp")
        has_time = true;
      else if (e->ns == "firehose" && e->value == "error-output-type") {
        return invalid("Invalid input: Prefix must not contain !{firehose:error-output-type}");
      } else if (!(e->ns == "firehose" && e->value == "random-string") && e->ns != "partitionKeyFromQuery" &&
                 e->ns != "partitionKeyFromLambda") {
        return invalid("Invalid input: unknown expression !{" + e->ns + ":" + e->value + "} in Prefix");
      }
    }
  }
  if (prefix.size() > 1024) return invalid("Invalid input: Prefix is longer than 1024 characters");
  Prefixes out;
  out.prefix = has_time ? prefix : prefix + std::string(kDefaultTime);
  if (!error_prefix || error_prefix->empty()) {
    if (has_expr) return invalid("Invalid input: ErrorOutputPrefix can't be null when Prefix contains expressions");
    out.error_prefix = prefix + "!{firehose:error-output-type}/" + std::string(kDefaultTime);
    if (auto st = check_prefix_forms_keys("Prefix", out.prefix, "x"); !st) return tl::unexpected(st.error());
    return out;
  }
  auto e = parse(*error_prefix);
  if (!e) return invalid("Invalid input: '!{' in ErrorOutputPrefix must start an expression");
  bool e_expr = false, e_type = false, e_time = false;
  for (const auto& part : *e) {
    if (const auto* x = std::get_if<Expression>(&part)) {
      e_expr = true;
      if (x->ns == "firehose" && x->value == "error-output-type")
        e_type = true;
      else if (x->ns == "timestamp")
        e_time = true;
      else if (!(x->ns == "firehose" && x->value == "random-string")) {
        return invalid("Invalid input: unknown expression !{" + x->ns + ":" + x->value + "} in ErrorOutputPrefix");
      }
    }
  }
  if (e_expr && !e_type) {
    return invalid(
        "Invalid input: ErrorOutputPrefix must contain !{firehose:error-output-type} when it contains expressions");
  }
  out.error_prefix = e_time ? *error_prefix : *error_prefix + std::string(kDefaultTime);
  if (auto st = check_prefix_forms_keys("Prefix", out.prefix, "x"); !st) return tl::unexpected(st.error());
  if (auto st = check_prefix_forms_keys("ErrorOutputPrefix", out.error_prefix, "x"); !st)
    return tl::unexpected(st.error());
  return out;
}

Status check_prefix_forms_keys(std::string_view what, const std::string& prefix, std::string_view object_name,
                               const std::map<std::string, std::string>* partition_keys) {
  std::map<std::string, std::string> named;
  if (!partition_keys) {
    if (auto parts = parse(prefix)) {
      for (const auto& part : *parts) {
        if (const auto* e = std::get_if<Expression>(&part)) {
          if (e->ns == "partitionKeyFromQuery") named["query:" + e->value] = "k";
          if (e->ns == "partitionKeyFromLambda") named["lambda:" + e->value] = "k";
        }
      }
    }
    partition_keys = &named;
  }
  const std::string key =
      evaluate_prefix(
          prefix, kSampleTime, [] { return std::string(11, '0'); }, "processing-failed", partition_keys) +
      std::string(object_name);
  if (auto st = check_object_key(key); !st) {
    return invalid("Invalid input: " + std::string(what) +
                   " does not lead to a valid object key: " + st.error().message);
  }
  return {};
}

std::string evaluate_prefix(const std::string& prefix, TimestampMs ts, const std::function<std::string()>& random,
                            const std::string& error_type, const std::map<std::string, std::string>* partition_keys) {
  auto parts = parse(prefix);
  if (!parts) return prefix;
  std::string out;
  for (const auto& part : *parts) {
    if (const auto* lit = std::get_if<std::string>(&part)) {
      out += *lit;
      continue;
    }
    const auto& e = std::get<Expression>(part);
    if (e.ns == "timestamp")
      out += format_java_time(e.value, ts);
    else if (e.ns == "firehose" && e.value == "random-string")
      out += random();
    else if (e.ns == "firehose" && e.value == "error-output-type")
      out += error_type;
    else if (partition_keys && (e.ns == "partitionKeyFromQuery" || e.ns == "partitionKeyFromLambda")) {
      auto it = partition_keys->find((e.ns == "partitionKeyFromQuery" ? "query:" : "lambda:") + e.value);
      if (it != partition_keys->end()) out += it->second;
    }
  }
  return out;
}

Result<PartitionQuery> parse_partition_query(const std::string& query) {
  std::string q = query;
  auto trim = [](std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(s.begin());
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    return s;
  };
  q = trim(q);
  if (q.size() < 2 || q.front() != '{' || q.back() != '}') {
    return make_error(Errc::kInvalidArgument,
                      "MetadataExtractionQuery must look like {name: .field, other: .a.b}, got " + query);
  }
  PartitionQuery out;
  std::string body = q.substr(1, q.size() - 2);
  size_t start = 0;
  while (start <= body.size()) {
    const size_t comma = std::min(body.find(',', start), body.size());
    const std::string item = trim(body.substr(start, comma - start));
    start = comma + 1;
    if (item.empty()) {
      if (comma >= body.size()) break;
      continue;
    }
    const size_t colon = item.find(':');
    if (colon == std::string::npos)
      return make_error(Errc::kInvalidArgument, "MetadataExtractionQuery item '" + item + "' has no ':'");
    const std::string name = trim(item.substr(0, colon));
    const std::string path = trim(item.substr(colon + 1));
    if (name.empty() || path.size() < 2 || path[0] != '.') {
      return make_error(Errc::kInvalidArgument, "MetadataExtractionQuery item '" + item + "' must be name: .path");
    }
    std::vector<std::string> segs;
    size_t p = 1;
    while (p <= path.size()) {
      const size_t dot = std::min(path.find('.', p), path.size());
      segs.push_back(path.substr(p, dot - p));
      p = dot + 1;
    }
    out.fields.emplace_back(name, std::move(segs));
    if (comma >= body.size()) break;
  }
  if (out.fields.empty()) return make_error(Errc::kInvalidArgument, "MetadataExtractionQuery names no key");
  return out;
}

std::optional<std::map<std::string, std::string>> extract_partition_keys(const PartitionQuery& q,
                                                                         std::string_view record) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(record.data(), record.size()).get(doc)) return std::nullopt;
  std::map<std::string, std::string> out;
  for (const auto& [name, segs] : q.fields) {
    simdjson::dom::element e = doc;
    for (const auto& s : segs) {
      simdjson::dom::object obj;
      if (e.get(obj) || obj.at_key(s).get(e)) return std::nullopt;
    }
    if (e.is_null()) return std::nullopt;
    out["query:" + name] = e.is_string() ? std::string(std::string_view(e)) : simdjson::minify(e);
  }
  return out;
}

}  // namespace eddy::delivery
