#include "api/kinesis_fanout.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <random>

#include "api/aws_errors.h"
#include "api/event_stream.h"
#include "api/kinesis_shapes.h"
#include "api/writer.h"
#include "common/digest.h"
#include "common/json_text.h"
#include "stream/sequence_number.h"

namespace eddy::api {

namespace {

// AWS pushes at most about 2 MiB per second per consumer and shard; an event carries what one
// read gives, as GetRecords does.
constexpr size_t kRecordsPerEvent = 10000;
// AWS: a second subscription within 5 s of a successful one is refused.
constexpr TimestampMs kTakeOverAfterMs = 5000;

std::optional<std::string> text(const Value& in, std::string_view key) {
  const Value* v = in.get(key);
  if (!v || v->type != Value::Type::kString) return std::nullopt;
  return v->text;
}

std::map<std::string, std::string> string_map(const Value* v) {
  std::map<std::string, std::string> out;
  if (!v) return out;
  for (const auto& [k, val] : v->members) out[k] = val.type == Value::Type::kString ? val.text : "";
  return out;
}

HttpResponse reply(Writer& w, Protocol protocol) {
  HttpResponse r;
  r.content_type = content_type_for(protocol);
  r.body = std::move(w.buffer());
  return r;
}

void write_consumer(Writer& w, const stream::ConsumerSnapshot& c, bool with_stream) {
  w.begin_object();
  w.field("ConsumerName", c.name);
  w.field("ConsumerARN", c.arn);
  w.field("ConsumerStatus", c.status);
  w.key("ConsumerCreationTimestamp");
  w.timestamp(c.created_ms);
  if (with_stream) w.field("StreamARN", c.stream_arn);
  w.end_object();
}

}  // namespace

// Holders are kept in this node's memory, and with a shared board (cluster mode) also there: a
// document per consumer and shard holding the generation and start of the subscription that holds
// it, changed by compare-and-set. A subscription on another node learns at its next look that
// it was taken over.
struct FanOut::Holders {
  struct Holder {
    uint64_t generation = 0;
    TimestampMs started_ms = 0;
    std::function<void()> wake;  // the holding subscription's (this node's)
  };
  std::shared_ptr<MetadataStore> board;
  std::mutex mu;
  std::map<std::string, Holder> by_key;  // "<consumer ARN> <shard index>"

  static uint64_t new_generation() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return rng() | 1;  // never 0
  }
  static std::string board_key(const std::string& key) { return "sub-" + to_hex(sha256(key)).substr(0, 40); }

  // The generation a new subscription holds, or nullopt if the current one is under 5 s old.
  std::optional<uint64_t> take(const std::string& key, TimestampMs now) {
    const uint64_t generation = new_generation();
    std::function<void()> wake_old;
    {
      std::lock_guard lock(mu);
      auto it = by_key.find(key);
      if (it != by_key.end() && now - it->second.started_ms < kTakeOverAfterMs) return std::nullopt;
      if (board && !take_on_board(key, generation, now)) return std::nullopt;
      if (it != by_key.end()) wake_old = std::move(it->second.wake);
      by_key[key] = Holder{generation, now, nullptr};
    }
    if (wake_old) wake_old();  // it sees it lost the subscription and ends
    return generation;
  }

  bool take_on_board(const std::string& key, uint64_t generation, TimestampMs now) {
    const std::string name = board_key(key);
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto doc = board->get(name);
      if (!doc) return false;  // the board cannot answer: refuse rather than allow two holders
      uint64_t revision = 0;
      if (*doc) {
        const auto j = nlohmann::json::parse((*doc)->value, nullptr, false);
        if (j.is_object() && now - j.value("started_ms", TimestampMs{0}) < kTakeOverAfterMs) return false;
        revision = (*doc)->revision;
      }
      const nlohmann::json mine = {{"name", name}, {"generation", generation}, {"started_ms", now}};
      if (board->put(name, mine.dump(), revision)) return true;
    }
    return false;
  }

  void set_wake(const std::string& key, uint64_t generation, std::function<void()> wake) {
    std::lock_guard lock(mu);
    auto it = by_key.find(key);
    if (it != by_key.end() && it->second.generation == generation) it->second.wake = std::move(wake);
  }

  // `ask_board`: also check the shared board (a round trip: subscriptions do it once a look).
  bool holds(const std::string& key, uint64_t generation, bool ask_board) {
    {
      std::lock_guard lock(mu);
      auto it = by_key.find(key);
      if (it == by_key.end() || it->second.generation != generation) return false;
    }
    if (!board || !ask_board) return true;
    auto doc = board->get(board_key(key));
    if (!doc || !*doc) return static_cast<bool>(doc);  // unreadable: keep going until it answers
    const auto j = nlohmann::json::parse((**doc).value, nullptr, false);
    return j.is_object() && j.value("generation", uint64_t{0}) == generation;
  }

  // The start stays: a new subscription within 5 s of this one's start is refused, as AWS does,
  // even once this one has ended.
  void release(const std::string& key, uint64_t generation) {
    std::lock_guard lock(mu);
    auto it = by_key.find(key);
    if (it != by_key.end() && it->second.generation == generation) {
      it->second.generation = 0;
      it->second.wake = nullptr;
    }
  }
};

namespace {

// One SubscribeToShard response in progress: the producer behind its EventStream.
class Subscription {
 public:
  Subscription(stream::StreamStore& store, const Clock& clock, const FanOutOptions& options,
               std::shared_ptr<FanOut::Holders> holders, std::string key, uint64_t generation,
               stream::ConsumerRef consumer, stream::ShardCursor cursor, Protocol protocol)
      : store_(store),
        clock_(clock),
        options_(options),
        holders_(std::move(holders)),
        key_(std::move(key)),
        generation_(generation),
        consumer_(std::move(consumer)),
        cursor_(cursor),
        protocol_(protocol),
        deadline_ms_(clock.now_ms() + options.subscription_length.count()) {}
  ~Subscription() { holders_->release(key_, generation_); }

  // The EventStream's `next`.
  std::optional<std::string> next(EventStream& events) {
    if (finished_) return std::nullopt;
    const TimestampMs now = clock_.now_ms();
    if (!started_) {
      started_ = true;
      const auto wake = events.wake;
      holders_->set_wake(key_, generation_, wake);
      auto watch = store_.watch(cursor_, wake);
      if (watch) watch_ = std::move(*watch);
      last_event_ms_ = now;
      // Before the first event: the SDKs read the operation's output from it (empty here).
      return event_message("initial-response", content_type(), protocol_ == Protocol::kJson ? "{}" : "\xa0");
    }
    const bool ask_board = now - last_board_check_ms_ >= options_.look_interval.count();
    if (ask_board) last_board_check_ms_ = now;
    if (!holders_->holds(key_, generation_, ask_board)) {
      return end_with("ResourceInUseException", "Another SubscribeToShard call took over this subscription.");
    }
    if (now >= deadline_ms_) {
      finished_ = true;
      return std::nullopt;  // as AWS: the response ends after 5 minutes; the client subscribes again
    }
    if (auto c = store_.describe_consumer(consumer_); !c) return end_with(c.error());
    auto r = store_.read_for_subscriber(cursor_, kRecordsPerEvent);
    if (!r) return end_with(r.error());
    const bool at_end = r->child_shards.size() > 0 || (!r->next_iterator && r->read.records.empty());
    if (r->read.records.empty() && !at_end && now - last_event_ms_ < options_.heartbeat.count()) return "";
    if (!r->read.records.empty()) last_delivered_ = r->read.records.back().offset;
    cursor_.offset = r->next_offset;
    last_event_ms_ = now;
    if (at_end) finished_ = true;  // ChildShards are the last event of a closed shard
    return event_message("SubscribeToShardEvent", content_type(), payload(*r, at_end));
  }

 private:
  const char* content_type() const { return content_type_for(protocol_); }

  // ContinuationSequenceNumber: the last record delivered, so that AFTER_SEQUENCE_NUMBER resumes
  // after it. Before any, the position just before the cursor: offset 0's predecessor is the
  // largest offset, which AFTER_SEQUENCE_NUMBER wraps to 0.
  std::string continuation() const {
    const log::Offset last = last_delivered_ ? *last_delivered_ : cursor_.offset - 1;
    return stream::encode_sequence_number(cursor_.shard_index, last);
  }

  std::string payload(const stream::GetRecordsResult& r, bool at_end) const {
    if (protocol_ == Protocol::kJson) {
      std::string out;
      write_records_json(r, out);
      if (!at_end) {
        out += R"(,"ContinuationSequenceNumber":)";
        append_json_string(out, continuation());
      }
      out += R"(,"MillisBehindLatest":)" + std::to_string(r.millis_behind_latest);
      append_child_shards_json(out, r.child_shards);
      out += '}';
      return out;
    }
    auto w = make_writer(protocol_);
    w->begin_object();
    write_records(*w, r);
    if (!at_end) w->field("ContinuationSequenceNumber", continuation());
    w->field("MillisBehindLatest", r.millis_behind_latest);
    write_child_shards(*w, r.child_shards);
    w->end_object();
    return std::move(w->buffer());
  }

  std::string end_with(const Error& e) { return end_with(aws_error_type(e.code), e.message); }
  std::string end_with(std::string_view type, std::string_view message) {
    finished_ = true;
    auto w = make_writer(protocol_);
    w->begin_object();
    w->field("message", message);
    w->end_object();
    return exception_message(type, content_type(), w->buffer());
  }

  stream::StreamStore& store_;
  const Clock& clock_;
  const FanOutOptions& options_;
  std::shared_ptr<FanOut::Holders> holders_;
  const std::string key_;
  const uint64_t generation_;
  const stream::ConsumerRef consumer_;
  stream::ShardCursor cursor_;
  const Protocol protocol_;
  const TimestampMs deadline_ms_;
  bool started_ = false;
  bool finished_ = false;
  TimestampMs last_event_ms_ = 0;
  TimestampMs last_board_check_ms_ = 0;
  std::optional<log::Offset> last_delivered_;
  std::unique_ptr<stream::ShardWatch> watch_;
};

}  // namespace

FanOut::FanOut(stream::StreamStore& store, const Clock& clock, FanOutOptions options)
    : store_(store), clock_(clock), options_(options), holders_(std::make_shared<Holders>()) {
  holders_->board = options_.holders;
}
FanOut::~FanOut() = default;

bool FanOut::handles(std::string_view op) {
  return op == "RegisterStreamConsumer" || op == "DescribeStreamConsumer" || op == "ListStreamConsumers" ||
         op == "DeregisterStreamConsumer" || op == "SubscribeToShard";
}

void FanOut::handle(std::string_view op, const Value& in, Protocol protocol, Respond respond) {
  auto fail = [&](const Error& e) { respond(error_response(e, protocol)); };
  auto w = make_writer(protocol);
  // StreamARN, when given, names the stream by its name.
  std::optional<std::string> stream;
  if (auto arn = text(in, "StreamARN")) {
    auto name = store_.name_from_arn(*arn);
    if (!name) return fail(name.error());
    stream = *name;
  }
  const stream::ConsumerRef ref{stream, text(in, "ConsumerName"), text(in, "ConsumerARN")};
  if (op == "SubscribeToShard") return subscribe(in, protocol, std::move(respond));
  if (op == "RegisterStreamConsumer") {
    auto c = store_.register_consumer(*stream, *ref.name, string_map(in.get("Tags")));
    if (!c) return fail(c.error());
    w->begin_object();
    w->key("Consumer");
    write_consumer(*w, *c, false);
    w->end_object();
  } else if (op == "DescribeStreamConsumer") {
    auto c = store_.describe_consumer(ref);
    if (!c) return fail(c.error());
    w->begin_object();
    w->key("ConsumerDescription");
    write_consumer(*w, *c, true);
    w->end_object();
  } else if (op == "ListStreamConsumers") {
    auto all = store_.list_consumers(*stream);
    if (!all) return fail(all.error());
    // NextToken: the name of the last consumer returned (consumers are listed by name).
    const auto after = text(in, "NextToken");
    const Value* max = in.get("MaxResults");
    const size_t limit = max && max->is_number() ? static_cast<size_t>(max->as_double()) : 100;
    w->begin_object();
    w->key("Consumers");
    w->begin_array();
    size_t n = 0;
    std::optional<std::string> next;
    for (const auto& c : *all) {
      if (after && c.name <= *after) continue;
      if (n == limit) {
        next = all->at(&c - all->data() - 1).name;
        break;
      }
      write_consumer(*w, c, false);
      ++n;
    }
    w->end_array();
    if (next) w->field("NextToken", *next);
    w->end_object();
  } else {
    auto st = store_.deregister_consumer(ref);
    if (!st) return fail(st.error());
    w->begin_object();
    w->end_object();
  }
  respond(reply(*w, protocol));
}

void FanOut::subscribe(const Value& in, Protocol protocol, Respond respond) {
  auto fail = [&](const Error& e) { respond(error_response(e, protocol)); };
  const stream::ConsumerRef ref{std::nullopt, std::nullopt, text(in, "ConsumerARN")};
  const Value& pos = *in.get("StartingPosition");
  const auto type = stream::parse_iterator_type(text(pos, "Type").value_or(""));
  if (!type) return fail({Errc::kInvalidArgument, "Invalid StartingPosition.Type."});
  std::optional<TimestampMs> at;
  if (const Value* t = pos.get("Timestamp"); t && t->is_number()) at = static_cast<TimestampMs>(t->as_double());
  const std::string shard = *text(in, "ShardId");
  // The starting position's own rules first, then whether the consumer and shard exist.
  if (auto st = store_.check_position(*ref.arn, shard, *type, text(pos, "SequenceNumber"), at); !st) {
    return fail(st.error());
  }
  auto consumer = store_.describe_consumer(ref);
  if (!consumer) return fail(consumer.error());
  if (consumer->status != "ACTIVE") {
    return fail({Errc::kResourceInUse, "Consumer " + consumer->arn + " is not ACTIVE yet (it is " + consumer->status +
                                           "); subscribe once DescribeStreamConsumer shows ACTIVE."});
  }
  auto cursor = store_.starting_position(consumer->stream_name, shard, *type, text(pos, "SequenceNumber"), at);
  if (!cursor) return fail(cursor.error());
  std::string key = consumer->arn + " " + std::to_string(cursor->shard_index);
  auto generation = holders_->take(key, clock_.now_ms());
  if (!generation) {
    return fail({Errc::kResourceInUse, "Another active subscription exists for consumer " + consumer->arn +
                                           " on shard " + shard + "; a new one may take it over 5 s after it began."});
  }
  auto sub =
      std::make_shared<Subscription>(store_, clock_, options_, holders_, std::move(key), *generation,
                                     stream::ConsumerRef{std::nullopt, std::nullopt, consumer->arn}, *cursor, protocol);
  HttpResponse r;
  r.content_type = "application/vnd.amazon.eventstream";
  r.events = std::make_shared<EventStream>();
  r.events->interval = options_.look_interval;
  r.events->chunked = true;
  r.events->drain = true;
  // `next` holds the subscription; the events object holds `next`: no cycle through `wake`.
  r.events->next = [sub, events = std::weak_ptr<EventStream>(r.events)]() -> std::optional<std::string> {
    auto e = events.lock();
    if (!e) return std::nullopt;
    return sub->next(*e);
  };
  respond(std::move(r));
}

}  // namespace eddy::api
