// Runs a C++ job (job.h) inside the server: loads its library, asks its entry point for the
// pipeline, and interprets the steps as a runtime::Program, so the application host runs it
// like a SQL application (positions, state and output ordinals checkpointed; exactly-once sinks).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "job/job.h"
#include "runtime/program.h"

namespace eddy::job {

struct JobSink {
  std::string name;    // the output's name: sink_<step>
  std::string target;  // stream or delivery stream
  bool delivery = false;
};

struct LoadedJob {
  std::unique_ptr<runtime::Program> program;
  std::string source;
  StartingPosition start = StartingPosition::kLatest;
  std::vector<JobSink> sinks;
};

// dlopens `library` (kept open while the program lives), calls its eddy_job_main with the
// properties, and checks the pipeline (a source, at least one sink, timestamps before event-time
// windows). Errors say what is wrong with the job.
Result<LoadedJob> load_job(const std::filesystem::path& library, const Properties& properties);

// The same for a pipeline built in this process (tests, and jobs linked into a program).
// `key_groups` false keeps the stateful steps in one group even when a key_by before them would
// split them into key groups (tests compare the two).
Result<LoadedJob> make_job(const Pipeline& pipeline, std::shared_ptr<void> library = nullptr, bool key_groups = true);

}  // namespace eddy::job
