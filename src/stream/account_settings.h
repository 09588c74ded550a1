// The account's Kinesis settings (DescribeAccountSettings, UpdateAccountSettings): the minimum
// throughput billing commitment of on-demand streams. eddy bills nothing, but tools set and read
// it back, so it is kept, as one document for the account, with AWS's rule that a commitment
// lasts at least 24 hours: disabled earlier, it reads ENABLED_UNTIL_EARLIEST_ALLOWED_END until then.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/error.h"
#include "common/metadata_store.h"

namespace eddy::stream {

struct BillingCommitment {
  std::string status = "DISABLED";  // ENABLED, DISABLED or ENABLED_UNTIL_EARLIEST_ALLOWED_END
  std::optional<TimestampMs> started_ms, earliest_end_ms, ended_ms;
};

class AccountSettings {
 public:
  static constexpr TimestampMs kMinimumCommitmentMs = 24LL * 3600 * 1000;

  AccountSettings(std::shared_ptr<MetadataStore> store, const Clock& clock) : store_(std::move(store)), clock_(clock) {}

  Result<BillingCommitment> commitment() const;
  Result<BillingCommitment> update_commitment(bool enable);

 private:
  Result<std::pair<BillingCommitment, uint64_t>> read() const;  // with its revision

  std::shared_ptr<MetadataStore> store_;
  const Clock& clock_;
};

}  // namespace eddy::stream
