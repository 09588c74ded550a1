#include "stream/account_settings.h"

#include <nlohmann/json.hpp>

namespace eddy::stream {

namespace {

constexpr const char* kDocument = "account";

nlohmann::json to_json(const BillingCommitment& c) {
  nlohmann::json j = {{"name", kDocument}, {"status", c.status}};
  if (c.started_ms) j["started_ms"] = *c.started_ms;
  if (c.earliest_end_ms) j["earliest_end_ms"] = *c.earliest_end_ms;
  if (c.ended_ms) j["ended_ms"] = *c.ended_ms;
  return j;
}

std::optional<TimestampMs> optional_ms(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_number_integer()) return std::nullopt;
  return j[key].get<TimestampMs>();
}

}  // namespace

Result<std::pair<BillingCommitment, uint64_t>> AccountSettings::read() const {
  auto doc = store_->get(kDocument);
  if (!doc) return tl::unexpected(doc.error());
  if (!*doc) return std::pair{BillingCommitment{}, uint64_t{0}};
  const auto j = nlohmann::json::parse((*doc)->value, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error(Errc::kCorruption, "the account settings are unreadable");
  BillingCommitment c;
  c.status = j.value("status", std::string("DISABLED"));
  c.started_ms = optional_ms(j, "started_ms");
  c.earliest_end_ms = optional_ms(j, "earliest_end_ms");
  c.ended_ms = optional_ms(j, "ended_ms");
  return std::pair{std::move(c), (*doc)->revision};
}

Result<BillingCommitment> AccountSettings::commitment() const {
  auto r = read();
  if (!r) return tl::unexpected(r.error());
  BillingCommitment c = std::move(r->first);
  // A commitment disabled early ends at its earliest allowed end.
  if (c.status == "ENABLED_UNTIL_EARLIEST_ALLOWED_END" && c.earliest_end_ms && clock_.now_ms() >= *c.earliest_end_ms)
    c.status = "DISABLED";
  return c;
}

Result<BillingCommitment> AccountSettings::update_commitment(bool enable) {
  auto r = read();
  if (!r) return tl::unexpected(r.error());
  auto [c, revision] = std::move(*r);
  const TimestampMs now = clock_.now_ms();
  const bool running = c.status == "ENABLED" || (c.status == "ENABLED_UNTIL_EARLIEST_ALLOWED_END" &&
                                                 c.earliest_end_ms && now < *c.earliest_end_ms);
  if (enable) {
    if (!running) {
      c.started_ms = now;
      c.earliest_end_ms = now + kMinimumCommitmentMs;
    }
    c.status = "ENABLED";
    c.ended_ms.reset();
  } else if (running) {
    if (c.earliest_end_ms && now < *c.earliest_end_ms) {
      c.status = "ENABLED_UNTIL_EARLIEST_ALLOWED_END";
      c.ended_ms = *c.earliest_end_ms;
    } else {
      c.status = "DISABLED";
      c.ended_ms = now;
    }
  }
  auto put = store_->put(kDocument, to_json(c).dump(), revision);
  if (!put && put.error().code == Errc::kConcurrentModification) {
    return make_error(Errc::kLimitExceeded, "The account settings are being changed by another request; retry.");
  }
  if (!put) return tl::unexpected(put.error());
  return c;
}

}  // namespace eddy::stream
