// An input's Lambda preprocessing (dev/lambda-preprocessing) in the application runner: each
// batch of source records goes through the function before the program. Ok: the answer's data,
// which may hold several records (JSON documents, or CSV rows that the input's mapping splits), in
// the source record's place; Dropped: nothing; ProcessingFailed: an error row with the original
// bytes. A failed invocation keeps the batches to try again, with backoff, as KDA does.
#include <simdjson.h>

#include "host/application_runner.h"
#include "stream/sequence_number.h"
#include "stream/stream.h"

namespace eddy::host {

namespace {

constexpr int64_t kFirstRetryMs = 500;
constexpr int64_t kLastRetryMs = 30'000;

// The JSON documents of an Ok answer's data, each as its text; the data whole when it is not a
// sequence of JSON documents (CSV rows, or bytes the input's mapping will report).
std::vector<std::string> split_documents(const std::string& data) {
  const size_t first = data.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || (data[first] != '{' && data[first] != '[')) return {data};
  simdjson::dom::parser parser;
  simdjson::padded_string padded(data);
  simdjson::dom::document_stream docs;
  if (parser.parse_many(padded, std::max<size_t>(simdjson::dom::DEFAULT_BATCH_SIZE, data.size() + 1)).get(docs))
    return {data};
  std::vector<std::string> out;
  for (auto it = docs.begin(); it != docs.end(); ++it) {
    simdjson::dom::element doc;
    if ((*it).get(doc)) return {data};
    out.emplace_back(it.source());
  }
  if (out.empty() || docs.truncated_bytes() > 0) return {data};
  return out;
}

}  // namespace

bool ApplicationRunner::preprocess(std::vector<SourceBatch>& batches) {
  if (batches.empty()) return true;  // waiting for a retry, or nothing read: the backoff stays
  for (size_t b = 0; b < batches.size(); ++b) {
    auto& batch = batches[b].records;
    std::vector<PreprocessRecord> records;
    records.reserve(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& r = batch[i];
      PreprocessRecord p;
      p.sequence_number = stream::encode_sequence_number(r.shard, r.offset);
      p.record_id = p.sequence_number + "-" + std::to_string(i);  // unique in the invocation
      p.data = r.data;
      p.shard_id = stream::shard_id(r.shard);
      p.partition_key = r.partition_key();
      p.arrival_ms = r.arrival;
      records.push_back(std::move(p));
    }
    auto outcomes = setup_.preprocess(records, stop_);
    counters_.preprocess_invocations.fetch_add(1, std::memory_order_relaxed);
    if (!outcomes || outcomes->size() != batch.size()) {
      counters_.preprocess_failed_invocations.fetch_add(1, std::memory_order_relaxed);
      const std::string why = outcomes ? "the answer does not match the records" : outcomes.error().message;
      report("ERROR", "Preprocessing_Invocation_Failed",
             "the input's preprocessing function failed (" + why + "); its records are tried again");
      retry_delay_ms_ = retry_delay_ms_ == 0 ? kFirstRetryMs : std::min(kLastRetryMs, retry_delay_ms_ * 2);
      retry_at_ = clock_.now_ms() + retry_delay_ms_;
      // This batch and those after it wait; the ones before it went through.
      pending_.assign(std::make_move_iterator(batches.begin() + static_cast<ptrdiff_t>(b)),
                      std::make_move_iterator(batches.end()));
      batches.resize(b);
      if (b > 0) return true;
      return false;
    }
    auto buffer = std::make_shared<SourceBuffer>();
    std::vector<SourceCopy> out;
    out.reserve(batch.size());
    std::vector<std::pair<size_t, std::string>> answers;  // Ok answers' documents by record, until copied
    answers.reserve(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      auto& o = (*outcomes)[i];
      auto& r = batch[i];
      switch (o.result) {
        case PreprocessOutcome::Result::kOk:
          counters_.preprocess_ok.fetch_add(1, std::memory_order_relaxed);
          for (auto& doc : split_documents(o.data)) {
            answers.emplace_back(out.size(), std::move(doc));
            out.push_back({r.arrival, r.shard, r.offset, {}, {}});
          }
          break;
        case PreprocessOutcome::Result::kDropped:
          counters_.preprocess_dropped.fetch_add(1, std::memory_order_relaxed);
          break;
        case PreprocessOutcome::Result::kFailed:
          counters_.preprocess_failed.fetch_add(1, std::memory_order_relaxed);
          out.push_back({r.arrival, r.shard, r.offset, r.data,
                         buffer->add({"the preprocessing function answered ProcessingFailed for this record",
                                      {},
                                      "Preprocessing_Failed"})});
          break;
      }
    }
    for (const auto& [at, doc] : answers) out[at].data = doc;
    copy_records(out, *buffer);
    batch = std::move(out);
    batches[b].buffers = {std::move(buffer)};
  }
  retry_delay_ms_ = 0;
  return true;
}

}  // namespace eddy::host
