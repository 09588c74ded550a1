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
#include "stream/kpl_aggregation.h"

namespace eddy::cli {
namespace {

struct PutOptions : ClientOptions {
  std::string stream;
  std::string key_field;
  int batch = 500;
  int aggregate = 0;  // user records per KPL aggregate; 0: one Kinesis record per line
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
  uint64_t user_records = 1;  // lines in it (more than one in a KPL aggregate)
};

// What one Kinesis record may hold: its data and key count against 1 MiB.
constexpr size_t kMaxRecordBytes = 1024 * 1024;

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
          sent += batch[i].user_records;
      }
      batch = std::move(retry);
      progress.update(sent, failed);
    }
    for (const auto& p : batch) failed += p.user_records;
    batch.clear();
    batch_bytes = 0;
    return true;
  };
  auto enqueue = [&](Pending p) -> bool {
    const size_t size = p.data.size() + p.key.size();
    if (batch.size() == static_cast<size_t>(o.batch) || batch_bytes + size > 5u * 1024 * 1024) {
      if (!flush()) return false;
    }
    batch_bytes += size;
    batch.push_back(std::move(p));
    return true;
  };
  // --aggregate: lines packed as the KPL packs user records; the Kinesis record takes the first
  // line's key (the KPL would also group by shard, which needs the shard map: here the lines of one
  // aggregate are stored together in the first one's shard, each keeping its own key).
  std::vector<stream::kpl::UserRecordIn> packing;
  size_t packing_bytes = 0;
  auto pack = [&]() -> bool {
    if (packing.empty()) return true;
    Pending p{stream::kpl::aggregate(packing), packing.front().partition_key, packing.size()};
    packing.clear();
    packing_bytes = 0;
    return enqueue(std::move(p));
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
    bool ok = true;
    if (o.aggregate > 0) {
      // A user record costs its data and key plus a few bytes of framing (16 is generous).
      const size_t cost = line.size() + key.size() + 16;
      const size_t room = kMaxRecordBytes - stream::kpl::kMagic.size() - 16 - 256;  // digest, the record's key
      if (!packing.empty() && (packing.size() == static_cast<size_t>(o.aggregate) || packing_bytes + cost > room))
        ok = pack();
      packing.push_back({std::move(key), "", std::move(line)});
      packing_bytes += cost;
    } else {
      ok = enqueue({std::move(line), std::move(key)});
    }
    if (!ok) return fail(error + " (after " + std::to_string(sent) + " records)");
  }
  if (!pack() || !flush()) return fail(error + " (after " + std::to_string(sent) + " records)");
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
  cmd->add_option("--aggregate", o->aggregate,
                  "Pack up to N lines into one Kinesis record in the KPL's aggregated format (consumers that "
                  "de-aggregate, as the KCL does, see the lines)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--endpoint", o->endpoint,
                  "Server URL (env EDDY_ENDPOINT, AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL)")
      ->capture_default_str();
  cmd->callback([o, &exit_code] { exit_code = put(*o); });
}

}  // namespace eddy::cli
