// A stream's settings that Terraform, CloudFormation and the SDKs set and read back:
// UpdateStreamMode, UpdateMaxRecordSize, UpdateStreamWarmThroughput, Enable/DisableEnhancedMonitoring
// and the resource policy. Each change needs an ACTIVE stream and is kept in its document; a change
// that cannot be saved leaves the stream as it was.

#include <nlohmann/json.hpp>

#include <algorithm>
#include <functional>
#include <set>
#include <utility>

#include "common/json_limits.h"
#include "stream/stream_store.h"

namespace eddy::stream {

namespace {

constexpr const char* kShardLevelMetrics[] = {"IncomingBytes",
                                              "IncomingRecords",
                                              "OutgoingBytes",
                                              "OutgoingRecords",
                                              "WriteProvisionedThroughputExceeded",
                                              "ReadProvisionedThroughputExceeded",
                                              "IteratorAgeMilliseconds"};

// AWS's bound on a resource policy document.
constexpr size_t kMaxPolicyBytes = 20480;

// Applies `change` to `field` and saves the stream; on a failed save the old value comes back.
template <class T>
Status change_and_persist(Stream& s, T& field, T value, const std::function<Status(Stream&)>& persist) {
  T old = std::exchange(field, std::move(value));
  Status st = persist(s);
  if (!st) field = std::move(old);
  return st;
}

}  // namespace

Status StreamStore::update_mode(const std::string& name, StreamMode mode, std::optional<uint32_t> warm_mibps) {
  if (warm_mibps && mode != StreamMode::kOnDemand) {
    return make_error(Errc::kInvalidArgument, "WarmThroughputMiBps can only be set for streams in ON_DEMAND mode.");
  }
  auto s = require_active(name);
  if (!s) return tl::unexpected(s.error());
  std::unique_lock lock((*s)->mu);
  Stream& st = **s;
  const StreamMode old_mode = st.mode;
  const auto old_warm = st.warm_throughput_mibps;
  st.mode = mode;
  if (mode == StreamMode::kOnDemand) {
    if (warm_mibps) st.warm_throughput_mibps = warm_mibps;
  } else {
    st.warm_throughput_mibps.reset();  // provisioned streams have shards, not a warm throughput
  }
  Status saved = persist(st);
  if (!saved) {
    st.mode = old_mode;
    st.warm_throughput_mibps = old_warm;
  }
  return saved;
}

Status StreamStore::update_max_record_size(const std::string& name, uint32_t kib) {
  auto s = require_active(name);
  if (!s) return tl::unexpected(s.error());
  std::unique_lock lock((*s)->mu);
  return change_and_persist<uint32_t>(**s, (*s)->max_record_kib, kib, [this](Stream& x) { return persist(x); });
}

Status StreamStore::update_warm_throughput(const std::string& name, uint32_t mibps) {
  auto s = require_active(name);
  if (!s) return tl::unexpected(s.error());
  std::unique_lock lock((*s)->mu);
  if ((*s)->mode != StreamMode::kOnDemand) {
    return make_error(Errc::kInvalidArgument, "Warm throughput can only be set for streams in ON_DEMAND mode; stream " +
                                                  name + " is PROVISIONED.");
  }
  return change_and_persist<std::optional<uint32_t>>(**s, (*s)->warm_throughput_mibps, mibps,
                                                     [this](Stream& x) { return persist(x); });
}

Result<StreamStore::MonitoringChange> StreamStore::change_monitoring(const std::string& name,
                                                                     const std::vector<std::string>& metrics,
                                                                     bool enable) {
  std::set<std::string> named;
  for (const auto& m : metrics) {
    if (m == "ALL") {
      named.insert(std::begin(kShardLevelMetrics), std::end(kShardLevelMetrics));
    } else if (std::find(std::begin(kShardLevelMetrics), std::end(kShardLevelMetrics), m) !=
               std::end(kShardLevelMetrics)) {
      named.insert(m);
    } else {
      return make_error(Errc::kInvalidArgument, "Unknown shard-level metric " + m + ".");
    }
  }
  auto s = require_active(name);
  if (!s) return tl::unexpected(s.error());
  std::unique_lock lock((*s)->mu);
  MonitoringChange change;
  change.before = (*s)->shard_level_metrics;
  std::set<std::string> after(change.before.begin(), change.before.end());
  for (const auto& m : named) {
    if (enable)
      after.insert(m);
    else
      after.erase(m);
  }
  change.after.assign(after.begin(), after.end());
  auto st = change_and_persist(**s, (*s)->shard_level_metrics, change.after, [this](Stream& x) { return persist(x); });
  if (!st) return tl::unexpected(st.error());
  return change;
}

Status StreamStore::put_resource_policy(const std::string& name, const std::string& policy) {
  if (policy.size() > kMaxPolicyBytes) {
    return make_error(Errc::kInvalidArgument, "The resource policy is " + std::to_string(policy.size()) +
                                                  " bytes; at most " + std::to_string(kMaxPolicyBytes) +
                                                  " are allowed.");
  }
  // A policy is an IAM policy document: a JSON object with a Statement. eddy keeps and returns it;
  // it does not evaluate it (its callers authenticate with access keys, docs/security.md).
  const bool shallow = json_nesting_within(policy);
  const auto doc = shallow ? nlohmann::json::parse(policy, nullptr, false) : nlohmann::json();
  if (!shallow || !doc.is_object() || !doc.contains("Statement")) {
    return make_error(Errc::kInvalidArgument,
                      "The resource policy is not a valid policy document: a JSON object with a Statement.");
  }
  auto s = require_active(name);
  if (!s) return tl::unexpected(s.error());
  std::unique_lock lock((*s)->mu);
  return change_and_persist(**s, (*s)->resource_policy, policy, [this](Stream& x) { return persist(x); });
}

Result<std::string> StreamStore::resource_policy(const std::string& name) const {
  auto s = find(name);
  if (!s) return not_found(name);
  std::shared_lock lock(s->mu);
  return s->resource_policy.empty() ? std::string("{}") : s->resource_policy;
}

Status StreamStore::delete_resource_policy(const std::string& name) {
  auto s = require_active(name);
  if (!s) return tl::unexpected(s.error());
  std::unique_lock lock((*s)->mu);
  if ((*s)->resource_policy.empty()) {
    return make_error(Errc::kResourceNotFound, "Stream " + name + " has no resource policy.");
  }
  return change_and_persist<std::string>(**s, (*s)->resource_policy, "", [this](Stream& x) { return persist(x); });
}

}  // namespace eddy::stream
