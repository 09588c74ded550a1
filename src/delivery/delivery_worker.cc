#include "delivery/delivery_worker.h"

#include <algorithm>
#include <cstdio>
#include <tuple>

#include "common/fault_log.h"
#include "delivery/object_names.h"

namespace eddy::delivery {

// What the worker is made of once its destination is known, each part after those it uses.
struct DeliveryWorker::Parts {
  Parts(const WorkerSetup& s, Destination d, const std::string& source, DeliveryPositions positions)
      : dest(std::move(d)),
        reader(s.journal, *s.store, source),
        state(std::move(positions)),
        buffer(dest.size_bytes, dest.interval_ms, dest.append_newline),
        intents(*s.files),
        processing(dest, s.name, s.version, s.delivery_arn, s.journal ? "" : s.store->arn(source), *s.clock),
        writer(dest, processing, s.name, s.version, s.delivery_arn, s.objects,
               StreamSink(*s.store, *s.committer, *s.clock), target_of(s, dest), intents, *s.clock, s.cancelled) {}

  static std::optional<std::string> target_of(const WorkerSetup& s, const Destination& d) {
    if (d.stream_arn.empty()) return std::nullopt;
    auto target = s.store->name_from_arn(d.stream_arn);
    return target ? std::optional<std::string>(*target) : std::nullopt;
  }

  Destination dest;
  SourceReader reader;
  DeliveryPositions state;
  DeliveryBuffer buffer;
  IntentRecord intents;
  RecordProcessing processing;
  DestinationWriter writer;
};

DeliveryWorker::DeliveryWorker(WorkerSetup setup) : setup_(std::move(setup)) {}
DeliveryWorker::~DeliveryWorker() = default;

DeliveryStep DeliveryWorker::step() {
  DeliveryStep out;
  try {
    if (phase_ == Phase::kStart) {
      phase_ = start();
      if (phase_ == Phase::kStart) {
        out.retry = true;
        return out;
      }
    }
    if (phase_ == Phase::kRecover) {
      if (!recover(out)) {
        out.retry = true;
        return out;
      }
      phase_ = Phase::kRounds;
      if (out.delivered || out.retry) return out;  // the interrupted round was this round
    }
    if (phase_ == Phase::kRounds) round(out);
  } catch (const std::exception& ex) {
    // A broken state file must not take the server down; the stream stops delivering.
    std::fprintf(stderr, "eddy: delivery stream %s stopped: %s\n", setup_.name.c_str(), ex.what());
    phase_ = Phase::kStopped;
  }
  out.stopped = phase_ == Phase::kStopped;
  return out;
}

DeliveryWorker::Phase DeliveryWorker::start() {
  auto dest = destination_of_stream(setup_.config, setup_.lambda);
  if (!dest) return Phase::kStopped;
  std::string source;
  if (!setup_.journal) {
    source =
        *setup_.store->name_from_arn(setup_.config["KinesisStreamSourceConfiguration"].value("KinesisStreamARN", ""));
  }
  // From here on, a node that ran this delivery stream before can no longer write its state.
  if (auto st = setup_.files->claim(); !st) {
    log_fault("taking over delivery stream " + setup_.name, st.error().message + "; retrying");
    return Phase::kStart;
  }
  auto positions = DeliveryPositions::load(*setup_.files, setup_.name, *setup_.clock);
  if (!positions) {
    log_fault("reading the positions of delivery stream " + setup_.name, positions.error().message + "; retrying");
    return Phase::kStart;
  }
  parts_ = std::make_unique<Parts>(setup_, std::move(*dest), source, std::move(*positions));
  return Phase::kRecover;
}

// An object whose writing was interrupted is written again, identically. The intent goes only
// once that is done (deliver removes it), or when its records are gone (retention); a stop leaves
// it for the next start. An intent that cannot be read is kept aside and reported, never deleted:
// its object may have been written in part.
bool DeliveryWorker::recover(DeliveryStep& out) {
  Parts& p = *parts_;
  try {
    if (!recovery_) {
      auto intent = p.intents.read();
      if (!intent) {
        log_fault("reading the intent record of delivery stream " + setup_.name, intent.error().message + "; retrying");
        return false;
      }
      if (!*intent) return true;
      Recovery r{std::move(**intent), {}};
      for (const auto& [shard, range] : r.intent.ranges) {
        for (uint64_t at = range.first; at < range.second;) {
          const auto before = r.records.size();
          at = p.reader.read(shard, at, range.second, r.records).next;
          if (r.records.size() == before) break;
        }
      }
      if (r.records.empty()) {
        log_fault("writing again the interrupted object " + r.intent.key + " of delivery stream " + setup_.name,
                  "its records are no longer in the source (retention)");
        return p.intents.remove();
      }
      recovery_ = std::move(r);
    }
    const Round r = deliver(recovery_->intent, recovery_->records, out);
    if (r == Round::kFailed) return false;
    recovery_.reset();
    if (r == Round::kUnfinished) out.retry = true;  // finished by the next rounds
    return true;
  } catch (const std::exception& ex) {
    recovery_.reset();
    log_fault("reading the intent record of delivery stream " + setup_.name,
              std::string(ex.what()) + "; " + p.intents.keep_aside(setup_.clock->now_ms()) +
                  "; delivery goes on from the saved positions");
    return true;
  }
}

void DeliveryWorker::round(DeliveryStep& out) {
  Parts& p = *parts_;
  if (unfinished_) {
    if (finish(out) == Round::kUnfinished) out.retry = true;
  } else {
    if (!reading_) {
      p.buffer.read_again_from(p.state.positions);
      reading_ = true;
    }
    out.read = p.buffer.fill(p.reader, p.state);
    if (p.buffer.due(setup_.clock->now_ms())) {
      auto batch = p.buffer.take();
      Intent intent;
      intent.ranges = std::move(batch.ranges);
      switch (deliver(std::move(intent), std::move(batch.records), out)) {
        case Round::kDone:
          break;
        case Round::kFailed:
          // The destination refused: read the same records again next round, never drop them.
          p.buffer.read_again_from(p.state.positions);
          break;
        case Round::kUnfinished:
          out.retry = true;
          break;
      }
    }
    p.reader.apply_retention(setup_.clock->now_ms());
  }
  out.buffered = p.buffer.records();
  out.buffered_bytes = p.buffer.bytes();
}

// Writes one object covering `intent.ranges`, with its keys fixed by the intent record first
// (`intent.key` empty: a new round), so that a crash in between rewrites exactly the same object.
DeliveryWorker::Round DeliveryWorker::deliver(Intent intent, std::vector<SourceRecord> records, DeliveryStep& out) {
  Parts& p = *parts_;
  std::stable_sort(records.begin(), records.end(), [](const SourceRecord& a, const SourceRecord& b) {
    return std::tie(a.arrival, a.shard, a.offset) < std::tie(b.arrival, b.shard, b.offset);
  });
  if (intent.key.empty()) {
    intent = round_keys(p.dest, setup_.name, setup_.version, intent.ranges, records.front().arrival);
    if (!p.intents.write(intent)) return Round::kFailed;
  }
  if (setup_.owns && !setup_.owns()) return Round::kFailed;  // placed elsewhere: the new owner writes it
  std::string errors;
  std::vector<ProcessedRecord> processed = p.processing.transform(records, errors);
  const Partitions partitions = p.dest.partitioning ? p.processing.partition(processed, errors) : Partitions{};
  if (!errors.empty() && !p.writer.put(intent.error_key, errors)) return Round::kFailed;
  p.state.count_failed(errors);
  std::optional<FailedObject> left;
  if (p.writer.write(intent.key, records, processed, partitions, p.state, left) == DestinationWriter::Written::kNot)
    return Round::kFailed;
  unfinished_ = Unfinished{std::move(intent.ranges), records.size(), std::move(left)};
  return finish(out);
}

// The object is written; until the positions are saved, a new round would read its records again
// into another object. So the save is retried (by the next rounds), and a stop meanwhile leaves
// the intent for the next start, which writes this same object again and saves.
DeliveryWorker::Round DeliveryWorker::finish(DeliveryStep& out) {
  Parts& p = *parts_;
  if (unfinished_->failed) {
    if (!p.writer.write_failed(*unfinished_->failed, p.state)) return Round::kUnfinished;
    unfinished_->failed.reset();
  }
  for (const auto& [s, r] : unfinished_->ranges) p.state.positions[s] = std::max(p.state.positions[s], r.second);
  if (!p.state.save(1, unfinished_->records)) return Round::kUnfinished;
  // One left behind only makes the next start write this same object again.
  (void)p.intents.remove();
  out.delivered += unfinished_->records;
  unfinished_.reset();
  return Round::kDone;
}

}  // namespace eddy::delivery
