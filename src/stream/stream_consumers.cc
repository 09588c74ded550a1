// Enhanced fan-out consumers: RegisterStreamConsumer, DescribeStreamConsumer,
// ListStreamConsumers and DeregisterStreamConsumer. A consumer lives in its stream's document, so
// it survives restarts and every cluster node sees it; its ARN is
// `<stream ARN>/consumer/<name>:<creation time in seconds>`, as AWS forms it.

#include <algorithm>

#include "stream/stream_store.h"

namespace eddy::stream {

namespace {

// AWS's limit of registered consumers per stream.
constexpr size_t kMaxConsumersPerStream = 20;

}  // namespace

ConsumerSnapshot StreamStore::consumer_snapshot(const Stream& s, const Consumer& c) const {
  ConsumerSnapshot out;
  out.name = c.name;
  out.stream_name = s.name;
  out.stream_arn = arn(s.name);
  out.stream_id = s.id;
  out.created_ms = c.created_ms;
  out.arn = out.stream_arn + "/consumer/" + c.name + ":" + std::to_string(c.created_ms / 1000);
  out.status = clock_.now_ms() < c.created_ms + options_.status_delay_ms ? "CREATING" : "ACTIVE";
  return out;
}

Result<std::pair<std::shared_ptr<Stream>, std::string>> StreamStore::resolve_consumer(const ConsumerRef& ref) const {
  std::string stream_name, consumer_name;
  std::optional<TimestampMs> created_s;
  if (ref.arn) {
    // <stream ARN>/consumer/<name>:<seconds>
    const std::string& a = *ref.arn;
    const size_t at = a.find("/consumer/");
    const size_t colon = a.rfind(':');
    if (at == std::string::npos || colon == std::string::npos || colon < at) {
      return make_error(Errc::kInvalidArgument, "Invalid ConsumerARN: " + a);
    }
    auto name = name_from_arn(a.substr(0, at));
    if (!name) return tl::unexpected(name.error());
    stream_name = *name;
    consumer_name = a.substr(at + 10, colon - at - 10);
    const std::string seconds = a.substr(colon + 1);
    if (seconds.empty() || seconds.size() > 12 || !std::all_of(seconds.begin(), seconds.end(), ::isdigit)) {
      return make_error(Errc::kInvalidArgument, "Invalid ConsumerARN: " + a);
    }
    created_s = std::stoll(seconds);
    if (ref.stream && *ref.stream != stream_name) {
      return make_error(Errc::kInvalidArgument, "ConsumerARN " + a + " does not belong to stream " + *ref.stream + ".");
    }
    if (ref.name && *ref.name != consumer_name) {
      return make_error(Errc::kInvalidArgument, "ConsumerARN " + a + " does not name consumer " + *ref.name + ".");
    }
  } else {
    if (!ref.stream || !ref.name) {
      return make_error(Errc::kInvalidArgument, "Either ConsumerARN or both StreamARN and ConsumerName must be given.");
    }
    stream_name = *ref.stream;
    consumer_name = *ref.name;
  }
  auto s = find(stream_name);
  auto missing = [&] {
    return make_error(Errc::kResourceNotFound, "Consumer " + consumer_name + " under stream " + stream_name +
                                                   " under account " + options_.account + " not found.");
  };
  if (!s) return missing();
  std::shared_lock lock(s->mu);
  if (s->status == StreamStatus::kDeleting) return missing();
  for (const auto& c : s->consumers) {
    // A consumer registered again under the same name is another consumer: its ARN differs.
    if (c.name == consumer_name && (!created_s || c.created_ms / 1000 == *created_s)) {
      return std::pair{s, consumer_name};
    }
  }
  return missing();
}

Result<ConsumerSnapshot> StreamStore::register_consumer(const std::string& stream, const std::string& name,
                                                        std::map<std::string, std::string> tags) {
  auto s = require(stream);
  if (!s) return tl::unexpected(s.error());
  std::unique_lock lock((*s)->mu);
  Stream& st = **s;
  if (st.status != StreamStatus::kActive) return not_active(st);
  for (const auto& c : st.consumers) {
    if (c.name == name) {
      return make_error(Errc::kResourceInUse, "Consumer " + consumer_snapshot(st, c).arn + " already exists.");
    }
  }
  if (st.consumers.size() >= kMaxConsumersPerStream) {
    return make_error(Errc::kLimitExceeded, "Stream " + stream + " under account " + options_.account +
                                                " already has " + std::to_string(kMaxConsumersPerStream) +
                                                " registered consumers, the limit.");
  }
  Consumer c{name, clock_.now_ms(), std::move(tags)};
  auto at = std::lower_bound(st.consumers.begin(), st.consumers.end(), name,
                             [](const Consumer& x, const std::string& n) { return x.name < n; });
  at = st.consumers.insert(at, c);
  if (auto saved = persist(st); !saved) {
    st.consumers.erase(at);
    return tl::unexpected(saved.error());
  }
  return consumer_snapshot(st, c);
}

Result<ConsumerSnapshot> StreamStore::describe_consumer(const ConsumerRef& ref) const {
  auto found = resolve_consumer(ref);
  if (!found) return tl::unexpected(found.error());
  const auto& [s, name] = *found;
  std::shared_lock lock(s->mu);
  for (const auto& c : s->consumers) {
    if (c.name == name) return consumer_snapshot(*s, c);
  }
  return make_error(Errc::kResourceNotFound, "Consumer " + name + " was deregistered meanwhile.");
}

Result<std::vector<ConsumerSnapshot>> StreamStore::list_consumers(const std::string& stream) const {
  auto s = require(stream);
  if (!s) return tl::unexpected(s.error());
  std::shared_lock lock((*s)->mu);
  std::vector<ConsumerSnapshot> out;
  for (const auto& c : (*s)->consumers) out.push_back(consumer_snapshot(**s, c));
  return out;
}

Status StreamStore::deregister_consumer(const ConsumerRef& ref) {
  auto found = resolve_consumer(ref);
  if (!found) return tl::unexpected(found.error());
  const auto& [s, name] = *found;
  std::unique_lock lock(s->mu);
  auto it = std::find_if(s->consumers.begin(), s->consumers.end(), [&](const Consumer& c) { return c.name == name; });
  if (it == s->consumers.end()) return {};
  Consumer gone = *it;
  const auto index = it - s->consumers.begin();
  s->consumers.erase(it);
  if (auto saved = persist(*s); !saved) {
    s->consumers.insert(s->consumers.begin() + index, std::move(gone));
    return saved;
  }
  return {};
}

}  // namespace eddy::stream
