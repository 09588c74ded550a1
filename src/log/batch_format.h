// On-disk framing of a batch: every append is one batch, checked as a unit on recovery.
//
//   u32 crc32c     of every byte after this field to the end of the batch
//   u32 body_len   bytes after the 28-byte header
//   u64 base_offset
//   i64 arrival_ms shared by every record of the batch
//   u32 count
//   count x { u32 data_len, u16 key_len, u8 hash_key_len, key, hash_key, data }
//
// hash_key_len's top bit marks a record whose data is encrypted (an explicit hash key has at
// most 39 digits, so the length needs 6 bits).
// All integers little-endian. A torn write leaves a batch whose length runs past the end of the
// file or whose CRC fails; recovery truncates there.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "log/record.h"

namespace eddy::log {

inline constexpr size_t kBatchHeaderBytes = 28;
inline constexpr size_t kRecordHeaderBytes = 7;
inline constexpr uint8_t kEncryptedFlag = 0x80;
// Sanity bound: a batch never exceeds the largest PutRecords request plus framing.
inline constexpr uint32_t kMaxBatchBodyBytes = 64u << 20;

struct BatchHeader {
  uint32_t crc;
  uint32_t body_len;
  Offset base_offset;
  TimestampMs arrival_ms;
  uint32_t count;

  size_t total_bytes() const { return kBatchHeaderBytes + body_len; }
};

void encode_batch(Offset base_offset, TimestampMs arrival_ms, std::span<const AppendRecord> records, std::string& out);

// Reads the fixed header; false if fewer than kBatchHeaderBytes are available or the length is absurd.
bool decode_batch_header(std::string_view bytes, BatchHeader& header);

// Validates a complete batch (header + body) and appends its records to `out`.
// False on CRC mismatch or malformed body.
bool decode_batch(std::string_view batch, const BatchHeader& header, std::vector<RecordView>& out);
bool verify_batch(std::string_view batch, const BatchHeader& header);

}  // namespace eddy::log
