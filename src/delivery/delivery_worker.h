// One delivery stream's worker, one round at a time (step()): it first writes again the object of
// a round a crash or a stop interrupted (intent.json), then, each round, reads the source into the
// buffer and, when the buffering hints say so, makes one object of the buffer: its keys fixed in
// an intent, the processors applied, written to the destination, positions saved, intent removed.
// A round that cannot be finished (the positions cannot be saved, records a stream refused cannot
// be backed up) is finished by the next rounds before anything else is read.
//
// The host runs step() on a thread of the worker's own (waiting when a round did nothing), or,
// in manual stepping mode, a test calls it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "delivery/delivery_buffer.h"
#include "delivery/delivery_state.h"
#include "delivery/delivery_step.h"
#include "delivery/destination.h"
#include "delivery/destination_writer.h"
#include "delivery/record_processing.h"
#include "delivery/source_reader.h"
#include "delivery/state_files.h"
#include "log/group_commit.h"
#include "stream/stream_store.h"

namespace eddy::delivery {

struct WorkerSetup {
  std::string name;
  nlohmann::json config;                       // the stored CreateDeliveryStream request
  std::shared_ptr<log::ShardStorage> journal;  // direct put; else the Kinesis source in `config`
  int64_t version = 1;
  std::shared_ptr<const StateFiles> files;  // state.json and intent.json
  std::string delivery_arn;
  LambdaSetup lambda;
  ObjectStore objects;
  stream::StreamStore* store = nullptr;
  log::GroupCommitter* committer = nullptr;
  const Clock* clock = nullptr;
  std::function<bool()> cancelled;  // the worker is being stopped: blocking retries give up
  // Whether this node surely still runs the delivery stream (its lease is valid for a while):
  // checked before each object is written, so that a node that lost it writes nothing more.
  std::function<bool()> owns;
};

class DeliveryWorker {
 public:
  explicit DeliveryWorker(WorkerSetup setup);
  ~DeliveryWorker();

  DeliveryStep step();

 private:
  struct Parts;
  enum class Phase { kStart, kRecover, kRounds, kStopped };
  enum class Round { kDone, kFailed, kUnfinished };
  // A round whose object is written but whose positions are not saved yet.
  struct Unfinished {
    SourceRanges ranges;
    size_t records = 0;
    std::optional<FailedObject> failed;  // still to be written first
  };
  // The interrupted round being written again.
  struct Recovery {
    Intent intent;
    std::vector<SourceRecord> records;
  };

  // The next phase: kRecover once started, kStart to try again (the state cannot be claimed or
  // read now), kStopped if the configuration cannot be delivered.
  Phase start();
  // Writes the interrupted round again; false while it must be retried.
  bool recover(DeliveryStep& out);
  void round(DeliveryStep& out);
  Round deliver(Intent intent, std::vector<SourceRecord> records, DeliveryStep& out);
  Round finish(DeliveryStep& out);

  WorkerSetup setup_;
  Phase phase_ = Phase::kStart;
  std::unique_ptr<Parts> parts_;
  std::optional<Recovery> recovery_;
  std::optional<Unfinished> unfinished_;
  bool reading_ = false;  // the buffer reads on from the saved positions
};

}  // namespace eddy::delivery
