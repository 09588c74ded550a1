#include "common/record_cipher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace eddy {
namespace {

RecordCipher cipher(char fill) {
  return *RecordCipher::from_key(std::string(32, fill));
}

TEST(RecordCipher, SealsAndOpensAndHidesThePlaintext) {
  const RecordCipher c = cipher('k');
  std::string sealed;
  c.seal("the sales of store_3", sealed);
  EXPECT_EQ(sealed.size(), RecordCipher::kOverhead + 20);
  EXPECT_EQ(sealed.find("store_3"), std::string::npos);
  std::string opened = "prefix:";
  ASSERT_TRUE(c.open(sealed, opened).has_value());
  EXPECT_EQ(opened, "prefix:the sales of store_3");
  // A random nonce per record: the same plaintext seals differently.
  std::string again;
  c.seal("the sales of store_3", again);
  EXPECT_NE(again, sealed);
  std::string empty;
  c.seal("", empty);
  std::string out;
  ASSERT_TRUE(c.open(empty, out).has_value());
  EXPECT_EQ(out, "");
}

TEST(RecordCipher, RefusesTamperingAndTellsAnotherKeyApart) {
  const RecordCipher c = cipher('k');
  std::string sealed;
  c.seal("payload", sealed);
  std::string flipped = sealed;
  flipped[RecordCipher::kOverhead - 16] ^= 1;  // a ciphertext byte
  std::string out;
  EXPECT_EQ(c.open(flipped, out).error().code, Errc::kCorruption);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(cipher('x').open(sealed, out).error().code, Errc::kKmsNotFound);
  EXPECT_EQ(c.open("short", out).error().code, Errc::kCorruption);
  EXPECT_NE(c.key_id(), cipher('x').key_id());
  EXPECT_TRUE(c.key_id().starts_with("eddy-local-"));
}

TEST(RecordCipher, ReadsAKeyFileOf64HexDigits) {
  const auto dir = std::filesystem::temp_directory_path() / ("eddy-cipher-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto write = [&](const std::string& text) {
    std::ofstream(dir / "key") << text;
    return RecordCipher::from_key_file(dir / "key");
  };
  auto ok = write(std::string(64, 'a') + "\n");
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(ok->key_id(), cipher(static_cast<char>(0xaa)).key_id());
  EXPECT_FALSE(write(std::string(63, 'a')).has_value());
  auto bad = write(std::string(62, 'a') + "zz");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("openssl rand -hex 32"), std::string::npos);
  EXPECT_FALSE(RecordCipher::from_key_file(dir / "missing").has_value());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace eddy
