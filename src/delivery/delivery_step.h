// What one round of a delivery stream's worker did (DeliveryHost::step).
#pragma once

#include <cstddef>
#include <cstdint>

namespace eddy::delivery {

struct DeliveryStep {
  size_t read = 0;       // records read from the source into the buffer
  size_t delivered = 0;  // records whose object was written and whose positions were saved
  size_t buffered = 0;   // records held for the next object after the round
  uint64_t buffered_bytes = 0;
  bool retry = false;    // a write or a save failed and is retried by the next round (a worker
                         // thread waits a second first)
  bool stopped = false;  // the worker cannot deliver (its destination cannot be used, or it failed
                         // in a way it cannot recover from); later rounds do nothing
};

}  // namespace eddy::delivery
