#include "api/router.h"

#include <gtest/gtest.h>

namespace eddy::api {
namespace {

TEST(Router, NamesLoopback) {
  for (const char* v : {"127.0.0.1:4567", "127.0.0.1", "localhost", "LOCALHOST:80", "[::1]:4567", "[::1]",
                        "127.1.2.3:1", "app.localhost:3000", "http://localhost:4567", "https://127.0.0.1"}) {
    EXPECT_TRUE(names_loopback(v)) << v;
  }
  for (const char* v : {"evil.example", "evil.example:4567", "127.0.0.1.evil.example", "localhost.evil.example",
                        "10.0.0.1:4567", "0.0.0.0", "[::2]", "http://evil.example", "null", "file://", "127.0.0.1:x",
                        "127.0.0.1:4567@evil", "ftp://localhost", "", "127.0.0.256x", "[::1]x"}) {
    EXPECT_FALSE(names_loopback(v)) << v;
  }
}

}  // namespace
}  // namespace eddy::api
