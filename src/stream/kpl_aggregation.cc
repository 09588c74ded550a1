#include "stream/kpl_aggregation.h"

#include <cstring>
#include <map>
#include <optional>

#include "common/digest.h"

namespace eddy::stream::kpl {

namespace {

constexpr size_t kDigestBytes = 16;
// Kinesis's own bounds: a partition key has at most 256 characters, an explicit hash key is a
// decimal number below 2^128.
constexpr size_t kMaxPartitionKeyBytes = 256;
constexpr size_t kMaxHashKeyBytes = 39;

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLength = 2, kFixed32 = 5 };

// A protobuf message read field by field; every read is bounds-checked.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool done() const { return at_ == in_.size(); }

  std::optional<uint64_t> varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at_ == in_.size()) return std::nullopt;
      const auto byte = static_cast<uint8_t>(in_[at_++]);
      if (shift == 63 && byte > 1) return std::nullopt;  // beyond 64 bits
      v |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if (!(byte & 0x80)) return v;
    }
    return std::nullopt;
  }
  std::optional<std::string_view> bytes() {
    auto n = varint();
    if (!n || *n > in_.size() - at_) return std::nullopt;
    auto out = in_.substr(at_, *n);
    at_ += *n;
    return out;
  }
  // Skips a field of `type`; false if it cannot be skipped (a group, or past the end).
  bool skip(uint32_t type) {
    switch (type) {
      case kVarint:
        return varint().has_value();
      case kFixed64:
        return advance(8);
      case kLength:
        return bytes().has_value();
      case kFixed32:
        return advance(4);
      default:
        return false;
    }
  }

 private:
  bool advance(size_t n) {
    if (n > in_.size() - at_) return false;
    at_ += n;
    return true;
  }
  std::string_view in_;
  size_t at_ = 0;
};

tl::unexpected<Error> malformed(const std::string& what) {
  return make_error(Errc::kInvalidArgument, "malformed KPL aggregated record: " + what);
}

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>(v | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

void put_bytes(std::string& out, uint32_t field, std::string_view v) {
  put_varint(out, field << 3 | kLength);
  put_varint(out, v.size());
  out += v;
}

}  // namespace

bool is_aggregated(std::string_view data) {
  return data.size() >= kMagic.size() + kDigestBytes && data.starts_with(kMagic);
}

Result<std::vector<UserRecord>> deaggregate(std::string_view data) {
  if (!is_aggregated(data)) return malformed("no magic bytes or too short");
  const std::string_view body = data.substr(kMagic.size(), data.size() - kMagic.size() - kDigestBytes);
  const auto digest = md5(body);
  if (std::memcmp(digest.data(), data.data() + data.size() - kDigestBytes, kDigestBytes) != 0)
    return malformed("the MD5 digest does not match its contents");
  std::vector<std::string_view> keys, hash_keys;
  struct Raw {
    uint64_t key = 0;
    std::optional<uint64_t> hash_key;
    std::string_view data;
  };
  std::vector<Raw> raws;
  Reader top(body);
  while (!top.done()) {
    auto tag = top.varint();
    if (!tag) return malformed("a field tag runs past the end");
    const auto field = *tag >> 3;
    const auto type = static_cast<uint32_t>(*tag & 7);
    if (field >= 1 && field <= 3 && type != kLength)
      return malformed("field " + std::to_string(field) + " has the wrong type");
    if (field == 1 || field == 2) {
      auto v = top.bytes();
      if (!v) return malformed("a key runs past the end");
      if (v->size() > (field == 1 ? kMaxPartitionKeyBytes : kMaxHashKeyBytes))
        return malformed(field == 1 ? "a partition key is longer than 256 bytes" : "an explicit hash key is too long");
      (field == 1 ? keys : hash_keys).push_back(*v);
      continue;
    }
    if (field != 3) {
      if (!top.skip(type)) return malformed("an unknown field cannot be skipped");
      continue;
    }
    auto record = top.bytes();
    if (!record) return malformed("a record runs past the end");
    if (raws.size() == kMaxUserRecords)
      return malformed("more than " + std::to_string(kMaxUserRecords) + " user records");
    Raw raw;
    bool has_key = false, has_data = false;
    Reader r(*record);
    while (!r.done()) {
      auto rtag = r.varint();
      if (!rtag) return malformed("a record's field tag runs past the end");
      const auto rfield = *rtag >> 3;
      const auto rtype = static_cast<uint32_t>(*rtag & 7);
      if ((rfield == 1 || rfield == 2) && rtype == kVarint) {
        auto v = r.varint();
        if (!v) return malformed("a record's key index is malformed");
        if (rfield == 1) {
          raw.key = *v;
          has_key = true;
        } else {
          raw.hash_key = *v;
        }
      } else if (rfield == 3 && rtype == kLength) {
        auto v = r.bytes();
        if (!v) return malformed("a record's data runs past the end");
        raw.data = *v;
        has_data = true;
      } else if (rfield >= 1 && rfield <= 3) {
        return malformed("a record's field " + std::to_string(rfield) + " has the wrong type");
      } else if (!r.skip(rtype)) {
        return malformed("a record's field cannot be skipped");
      }
    }
    if (!has_key || !has_data) return malformed("a record lacks its partition key index or its data");
    raws.push_back(raw);
  }
  // The tables may follow the records: indexes are checked once everything is read.
  std::vector<UserRecord> out;
  out.reserve(raws.size());
  for (const auto& raw : raws) {
    if (raw.key >= keys.size()) return malformed("a partition key index is outside the table");
    UserRecord u{keys[raw.key], {}, raw.data};
    if (raw.hash_key) {
      if (*raw.hash_key >= hash_keys.size()) return malformed("an explicit hash key index is outside the table");
      u.explicit_hash_key = hash_keys[*raw.hash_key];
    }
    out.push_back(u);
  }
  return out;
}

std::string aggregate(const std::vector<UserRecordIn>& records) {
  // As protobuf serializers write it: the fields in number order, table entries in order of first use.
  std::map<std::string_view, uint64_t> key_index, hash_index;
  std::string body, hash_table;
  for (const auto& r : records) {
    if (key_index.emplace(r.partition_key, key_index.size()).second) put_bytes(body, 1, r.partition_key);
    if (!r.explicit_hash_key.empty() && hash_index.emplace(r.explicit_hash_key, hash_index.size()).second)
      put_bytes(hash_table, 2, r.explicit_hash_key);
  }
  body += hash_table;
  for (const auto& r : records) {
    std::string record;
    put_varint(record, 1 << 3 | kVarint);
    put_varint(record, key_index.at(r.partition_key));
    if (!r.explicit_hash_key.empty()) {
      put_varint(record, 2 << 3 | kVarint);
      put_varint(record, hash_index.at(r.explicit_hash_key));
    }
    put_bytes(record, 3, r.data);
    put_bytes(body, 3, record);
  }
  const auto digest = md5(body);
  std::string out(kMagic);
  out += body;
  out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  return out;
}

}  // namespace eddy::stream::kpl
