#include "delivery/delivery_state.h"

#include <algorithm>
#include <stdexcept>

#include "common/fault_log.h"

namespace eddy::delivery {

using nlohmann::json;

Result<DeliveryPositions> DeliveryPositions::load(const StateFiles& files, const std::string& name,
                                                  const Clock& clock) {
  DeliveryPositions out(files, name, clock);
  json state = json::object();
  auto text = files.read("state.json");
  if (!text) return tl::unexpected(text.error());
  if (*text) {
    try {
      state = json::parse(**text);
      const json positions_text = state.is_object() ? state.value("positions", json::object()) : json();
      const json finished_text = state.is_object() ? state.value("finished", json::array()) : json();
      if (!positions_text.is_object() || !finished_text.is_array())
        throw std::runtime_error("not an object of positions and finished shards");
      for (const auto& [k, v] : positions_text.items()) {
        if (k.empty() || k.size() > 9 || k.find_first_not_of("0123456789") != std::string::npos ||
            !v.is_number_unsigned())
          throw std::runtime_error("position " + k + " is not a shard index with an offset");
      }
      for (const auto& f : finished_text) {
        if (!f.is_number_unsigned() || f.get<uint64_t>() > UINT32_MAX)
          throw std::runtime_error("finished shards are not shard indexes");
      }
    } catch (const std::exception& ex) {
      state = json::object();
      log_fault("reading the positions of delivery stream " + name,
                std::string(ex.what()) + "; " + files.keep_aside("state.json", **text, clock.now_ms()) +
                    "; delivery starts again from the oldest retained record");
    }
  }
  const json saved = state.value("positions", json::object());
  for (auto it = saved.begin(); it != saved.end(); ++it)
    out.positions[static_cast<uint32_t>(std::stoul(it.key()))] = it->get<uint64_t>();
  for (const auto& f : state.value("finished", json::array())) out.finished.insert(f.get<uint32_t>());
  out.state_ = std::move(state);
  return out;
}

void DeliveryPositions::count_failed(const std::string& lines) {
  failed_since_save_ += static_cast<uint64_t>(std::count(lines.begin(), lines.end(), '\n'));
}

bool DeliveryPositions::save(uint64_t add_objects, uint64_t add_records) {
  json next = state_;
  next["failed_records"] = next.value("failed_records", uint64_t{0}) + failed_since_save_;
  json pos = json::object();
  for (const auto& [s, p] : positions) pos[std::to_string(s)] = p;
  next["positions"] = pos;
  next["finished"] = finished;
  next["objects"] = next.value("objects", uint64_t{0}) + add_objects;
  next["records"] = next.value("records", uint64_t{0}) + add_records;
  if (add_objects) next["last_delivery_ms"] = clock_->now_ms();
  if (auto st = files_.write("state.json", next.dump()); !st) {
    log_fault("saving the positions of delivery stream " + name_, st.error().message + "; retrying");
    return false;
  }
  state_ = std::move(next);
  failed_since_save_ = 0;
  return true;
}

bool IntentRecord::write(const Intent& intent) const {
  json j = {{"key", intent.key}, {"error_key", intent.error_key}, {"ranges", json::array()}};
  for (const auto& [s, r] : intent.ranges) j["ranges"].push_back({s, r.first, r.second});
  return files_.write(kFile, j.dump()).has_value();
}

Result<std::optional<Intent>> IntentRecord::read() const {
  auto text = files_.read(kFile);
  if (!text) return tl::unexpected(text.error());
  if (!*text) return std::optional<Intent>();
  const auto j = json::parse(**text);
  Intent out;
  for (const auto& r : j.at("ranges")) {
    out.ranges[r.at(0).get<uint32_t>()] = {r.at(1).get<uint64_t>(), r.at(2).get<uint64_t>()};
  }
  out.key = j.at("key").get<std::string>();
  out.error_key = j.value("error_key", "");
  return std::optional<Intent>(std::move(out));
}

std::optional<std::map<uint32_t, uint64_t>> IntentRecord::target_marks() const {
  auto text = files_.read(kFile);
  if (!text) throw std::runtime_error(text.error().message);
  const auto j = json::parse(text->value_or("{}"));
  if (!j.contains("target")) return std::nullopt;
  std::map<uint32_t, uint64_t> marks;
  for (const auto& [shard, end] : j["target"].items())
    marks[static_cast<uint32_t>(std::stoul(shard))] = end.get<uint64_t>();
  return marks;
}

bool IntentRecord::write_target_marks(const std::map<uint32_t, uint64_t>& marks) const {
  auto text = files_.read(kFile);
  if (!text) return false;
  json j = json::parse(text->value_or("{}"), nullptr, false);
  if (j.is_discarded()) return false;
  json t = json::object();
  for (const auto& [shard, end] : marks) t[std::to_string(shard)] = end;
  j["target"] = t;
  return files_.write(kFile, j.dump()).has_value();
}

bool IntentRecord::remove() const {
  return files_.remove(kFile).has_value();
}

std::string IntentRecord::keep_aside(TimestampMs now) const {
  auto text = files_.read(kFile);
  return files_.keep_aside(kFile, text && *text ? **text : std::string(), now);
}

}  // namespace eddy::delivery
