// The index from GROUP BY key values to group numbers that the windowed pumps keep per window.
// Every input row looks its group up here, so it is an open-addressing table of (hash, group)
// slots in one array: a lookup is one hash, mostly one probe and one key compare, where
// std::unordered_map cost a bucket walk through separately allocated nodes (it showed as the
// largest part of the pump in profiles of the seed query).
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/value.h"

namespace eddy::runtime {

class GroupIndex {
 public:
  static constexpr size_t npos = SIZE_MAX;

  // The group number of `keys`, or npos.
  size_t find(const std::vector<Value>& keys) const {
    return find(keys.size(), [&](size_t k) -> const Value& { return keys[k]; });
  }
  // The same with the key values where they are (a row's columns, say): nothing copied to look.
  size_t find(const std::vector<const Value*>& keys) const {
    return find(keys.size(), [&](size_t k) -> const Value& { return *keys[k]; });
  }

  // Adds `keys` (not present) as group `group`. Every key of one index has the same length.
  void emplace(const std::vector<Value>& keys, size_t group) {
    if ((groups_.size() + 1) * 4 > slots_.size() * 3) grow();
    width_ = keys.size();
    keys_.insert(keys_.end(), keys.begin(), keys.end());
    groups_.push_back(group);
    place(hash(keys), static_cast<uint32_t>(groups_.size()));
  }

  void clear() {
    slots_.clear();
    keys_.clear();
    groups_.clear();
    mask_ = 0;
  }

  size_t size() const { return groups_.size(); }

  // The hash of a key (what find and emplace use): the same for equal keys wherever they are.
  template <class KeyAt>
  static uint64_t hash(size_t n, const KeyAt& key_at) {
    uint64_t h = 0;
    for (size_t k = 0; k < n; ++k) h = h * 1000003u ^ ValueHash {}(key_at(k));
    // RowKeyHash's combination, which for an integer key is close to the integer itself: mixed
    // so that the low bits picking the slot depend on all of it.
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t entry = 0;  // 1 + the position in keys_/groups_; 0: empty
  };

  template <class KeyAt>
  size_t find(size_t n, const KeyAt& key_at) const {
    if (slots_.empty()) return npos;
    const uint64_t h = hash(n, key_at);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.entry == 0) return npos;
      if (s.hash != h) continue;
      const Value* keys = &keys_[(s.entry - 1) * width_];
      bool same = width_ == n;
      for (size_t k = 0; same && k < n; ++k) same = keys[k] == key_at(k);
      if (same) return groups_[s.entry - 1];
    }
  }

  static uint64_t hash(const std::vector<Value>& keys) {
    return hash(keys.size(), [&](size_t k) -> const Value& { return keys[k]; });
  }

  void place(uint64_t h, uint32_t entry) {
    size_t i = h & mask_;
    while (slots_[i].entry != 0) i = (i + 1) & mask_;
    slots_[i] = {h, entry};
  }

  void grow() {
    std::vector<Slot> old(slots_.empty() ? 16 : slots_.size() * 2);
    old.swap(slots_);
    mask_ = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.entry != 0) place(s.hash, s.entry);
    }
  }

  std::vector<Slot> slots_;  // a power of two long, at most 3/4 full
  size_t mask_ = 0;
  // The keys of entry e are keys_[e * width_ .. (e + 1) * width_): one array, so that comparing a
  // found slot's keys is one more memory access, not two (a vector per entry cost a cache miss
  // more per lookup in the reference-join profile).
  std::vector<Value> keys_;
  size_t width_ = 0;
  std::vector<size_t> groups_;
};

}  // namespace eddy::runtime
