#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <vector>

namespace eddy::host {

// An application's newest error rows, as the dashboard and `eddy serve`'s log show them. An error
// row can carry the raw record (up to 1 MiB), so the ring is bounded by bytes as well as by count:
// one unsigned dashboard GET must not build hundreds of megabytes. The newest row is always kept.
class ErrorRing {
 public:
  static constexpr size_t kMaxRows = 200;
  static constexpr size_t kMaxBytes = 4u << 20;

  void push(std::string row) {
    bytes_ += row.size();
    rows_.push_back(std::move(row));
    while (rows_.size() > 1 && (rows_.size() > kMaxRows || bytes_ > kMaxBytes)) {
      bytes_ -= rows_.front().size();
      rows_.pop_front();
    }
  }
  std::vector<std::string> rows() const { return {rows_.begin(), rows_.end()}; }
  size_t bytes() const { return bytes_; }

 private:
  std::deque<std::string> rows_;
  size_t bytes_ = 0;
};

}  // namespace eddy::host
