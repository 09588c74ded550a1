// Carries out a plan through the server's APIs, in the plan's order, waiting until streams are
// ACTIVE and applications RUNNING (or deletions finished). It stops at the first failure and
// reports exactly which changes were made and which were not.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "pipeline/model.h"
#include "pipeline/plan.h"
#include "pipeline/server.h"

namespace eddy::pipeline {

struct ExecutionReport {
  std::vector<std::string> done;      // changes made, as Change::text()
  std::string failed;                 // the change that failed (empty if none)
  std::string error;                  // why
  std::vector<std::string> not_done;  // changes not attempted after the failure
  std::vector<std::string> warnings;  // e.g. state an updated application could not keep
  bool ok() const { return failed.empty(); }
  std::string summary() const;  // what a user needs after a failure
};

// Writes the files a desired state needs on this machine (inline Lambda code) before applying.
Status write_files(const DesiredState& desired);

// `progress` receives one line per finished step.
ExecutionReport execute(Server& server, const Plan& plan, const DesiredState& desired, const LiveState& live,
                        const std::function<void(const std::string&)>& progress);

}  // namespace eddy::pipeline
