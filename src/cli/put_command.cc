#include <simdjson.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>
#include <random>
#include <thread>

#include "api/json_codec.h"
#include "cli/app.h"
#include "cli/common_options.h"
#include "cli/progress.h"
#include "common/digest.h"
#include "common/json_text.h"

namespace eddy::cli {
namespace {

struct PutOptions : ClientOptions {
  std::string stream;
  std::string key_field;
  int batch = 500;
};

std::string random_uuid(std::mt19937_64& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(36, '-');
  for (size_t i = 0; i < id.size(); ++i) {
    if (i != 8 && i != 13 && i != 18 && i != 23) id[i] = kHex[rng() & 0xf];
  }
  id[14] = '4';
  return id;
}

// The partition key of an NDJSON line: the --key-field value (string or number), else random.
std::string partition_key(const std::string& line, const std::string& field, std::mt19937_64& rng,
                          simdjson::dom::parser& parser) {
  if (!field.empty()) {
    simdjson::dom::element doc;
    if (!parser.parse(line).get(doc)) {
      simdjson::dom::element v;
      if (!doc[field].get(v)) {
        if (v.is_string()) return std::string(std::string_view(v));
        if (v.is_number() || v.is_bool()) return simdjson::minify(v);
      }
    }
  }
  return random_uuid(rng);
}

struct Pending {
  std::string data;
  std::string key;
};

int put(const PutOptions& o) {
  std::string error;
  auto client = make_client(o, error);
  if (!client) return fail(error);
  std::mt19937_64 rng{std::random_device{}()};
  simdjson::dom::parser parser;
  Progress progress("put");
  uint64_t sent = 0, failed = 0, line_no = 0;
  std::vector<Pending> batch;
  size_t batch_bytes = 0;

  auto flush = [&]() -> bool {
    // Retries only the entries that failed (throttling), with backoff; bounded attempts.
    for (int attempt = 0; !batch.empty() && attempt < 8; ++attempt) {
      if (attempt) std::this_thread::sleep_for(std::chrono::milliseconds(50 << std::min(attempt, 5)));
      std::string body = "{\"StreamName\":";
      append_json_string(body, o.stream);
      body += ",\"Records\":[";
      for (size_t i = 0; i < batch.size(); ++i) {
        if (i) body += ',';
        body += "{\"Data\":\"";
        base64_encode_append(batch[i].data, body);
        body += "\",\"PartitionKey\":";
        append_json_string(body, batch[i].key);
        body += '}';
      }
      body += "]}";
      auto r = client->call(std::string(kKinesis) + "PutRecords", body);
      if (!r) {
        error = r.error().message;
        return false;
      }
      const auto j = nlohmann::json::parse(*r);
      std::vector<Pending> retry;
      const auto& results = j["Records"];
      for (size_t i = 0; i < results.size() && i < batch.size(); ++i) {
        if (results[i].contains("ErrorCode"))
          retry.push_back(std::move(batch[i]));
        else
          ++sent;
      }
      batch = std::move(retry);
      progress.update(sent, failed);
    }
    failed += batch.size();
    batch.clear();
    batch_bytes = 0;
    return true;
  };

  std::string line;
  while (std::getline(std::cin, line)) {
    ++line_no;
    if (line.empty()) continue;
    if (line.size() > 1024 * 1024) {
      std::cerr << "eddy: line " << line_no << " is larger than 1 MiB, the Kinesis record limit; skipped\n";
      ++failed;
      continue;
    }
    auto key = partition_key(line, o.key_field, rng, parser);
    const size_t size = line.size() + key.size();
    if (batch.size() == static_cast<size_t>(o.batch) || batch_bytes + size > 5u * 1024 * 1024) {
      if (!flush()) return fail(error + " (after " + std::to_string(sent) + " records)");
    }
    batch.push_back({std::move(line), std::move(key)});
    batch_bytes += size;
  }
  if (!flush()) return fail(error + " (after " + std::to_string(sent) + " records)");
  progress.finish(sent, failed);
  std::cout << nlohmann::json({{"record_count", sent}, {"failed", failed}}).dump() << "\n";
  return failed == 0 ? 0 : 2;
}

}  // namespace

void add_put_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<PutOptions>();
  auto* cmd = app.add_subcommand("put", "Send NDJSON lines from stdin to a stream (PutRecords batches)");
  cmd->add_option("stream", o->stream, "Stream name")->required();
  cmd->add_option("--key-field", o->key_field, "JSON field whose value is the partition key (default: random)");
  cmd->add_option("--batch", o->batch, "Records per PutRecords call")->capture_default_str()->check(CLI::Range(1, 500));
  cmd->add_option("--endpoint", o->endpoint, "Server URL (env EDDY_ENDPOINT)")->capture_default_str();
  cmd->callback([o, &exit_code] { exit_code = put(*o); });
}

}  // namespace eddy::cli
