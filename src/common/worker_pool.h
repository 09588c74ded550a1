// A fixed set of threads that run the parts of one job at a time: run(n, fn) calls fn(0..n-1),
// part 0 on the calling thread and the others on the workers, and returns when all are done.
// For data-parallel stages that must hand their results back in order (parsing a batch of
// records), where starting threads per batch would cost as much as the work.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace eddy {

class WorkerPool {
 public:
  explicit WorkerPool(size_t threads);  // threads in all, the caller's included (1: no workers)
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  size_t size() const { return workers_.size() + 1; }
  // fn(part) for part in [0, parts), parts <= size(); exceptions are not allowed to escape fn.
  void run(size_t parts, std::function<void(size_t)> fn) {
    start(parts, std::move(fn));
    finish();
  }
  // The same in two steps, so that the caller can do other work while the workers run parts
  // 1..parts-1: start() returns at once; finish() runs part 0 on the caller and waits for all.
  // One job at a time: every start() is followed by its finish().
  void start(size_t parts, std::function<void(size_t)> fn);
  void finish();

 private:
  void loop(size_t index);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_, done_;
  std::function<void(size_t)> fn_;
  size_t parts_ = 0;
  size_t pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

}  // namespace eddy
