// The worker pool runs every part of a job exactly once, and with start()/finish() the caller
// works on something else while the workers run their parts (sql run's two-stage pipeline).
#include "common/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace eddy {
namespace {

TEST(WorkerPool, RunsEveryPartOnce) {
  for (size_t threads : {1u, 2u, 4u}) {
    WorkerPool pool(threads);
    for (int job = 0; job < 200; ++job) {
      std::vector<std::atomic<int>> hits(pool.size());
      pool.run(pool.size(), [&](size_t part) { hits[part].fetch_add(1); });
      for (size_t p = 0; p < pool.size(); ++p) ASSERT_EQ(hits[p].load(), 1) << threads << " threads, job " << job;
    }
  }
}

TEST(WorkerPool, StartLetsTheCallerWorkUntilFinish) {
  WorkerPool pool(3);
  for (int job = 0; job < 200; ++job) {
    std::atomic<size_t> next{0};
    std::vector<std::atomic<int>> taken(1000);
    auto take = [&](size_t) {
      for (size_t i; (i = next.fetch_add(1)) < taken.size();) taken[i].fetch_add(1);
    };
    pool.start(pool.size(), take);
    int mine = 0;
    for (int i = 0; i < 1000; ++i) mine += i;  // the caller's own work meanwhile
    pool.finish();                             // part 0 takes what the workers left
    EXPECT_EQ(mine, 499500);
    for (auto& t : taken) ASSERT_EQ(t.load(), 1) << "job " << job;
  }
  // A job of one part runs only at finish(), on the caller.
  bool ran = false;
  pool.start(1, [&](size_t part) { ran = part == 0; });
  EXPECT_FALSE(ran);
  pool.finish();
  EXPECT_TRUE(ran);
}

}  // namespace
}  // namespace eddy
