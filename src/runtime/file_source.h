// A bounded input read into an application as if it were a stream (`eddy sql run`): records one
// per line, JSON or CSV as input 0's schema says, from a file or a pipe, pushed into input 0 in
// line order with their line numbers (from 1) as origins. Each record arrives at the time in a
// field of its own, or at the wall clock's time when it is read.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/error.h"
#include "runtime/application.h"

namespace eddy::runtime {

struct FileSourceOptions {
  // The field (CSV: 1-based column) holding each record's arrival time = ROWTIME, as
  // yyyy-MM-dd HH:mm:ss.SSS, ISO-8601 or epoch ms; empty: the wall clock.
  std::string arrival_field;
  // Threads that parse and map JSON records; the pumps run on one at a time, in record order, so
  // the results are the same for any count. CSV is read on one.
  int parallelism = 1;
  // Called with the records pushed so far: every 65,536 records on one thread, after every block
  // on several.
  std::function<void(uint64_t records)> progress;
};

struct FileSourceEnd {
  uint64_t records = 0;         // records pushed (lines that are not empty)
  int64_t missing_arrival = 0;  // the line of a record without an arrival time, where reading stopped; 0: none
};

// Reads `fd` (not closed) to its end, or to a record without an arrival time, into input 0 of
// `app`; does not flush the application. An error is the read's.
Result<FileSourceEnd> run_file_source(int fd, Application& app, const FileSourceOptions& options);

}  // namespace eddy::runtime
