#include "common/path_names.h"

#include <gtest/gtest.h>

#include <vector>

#include <filesystem>
#include <fstream>
#include <set>

#include <unistd.h>

namespace eddy {
namespace {

namespace fs = std::filesystem;

TEST(PathComponent, NamesAwsAcceptsMapToThemselvesUnlessTheyStartWithADot) {
  EXPECT_EQ(path_component("sales"), "sales");
  EXPECT_EQ(path_component("a..b"), "a..b");
  EXPECT_EQ(path_component("Sales_2021-01.v2"), "Sales_2021-01.v2");
  EXPECT_EQ(path_component("..."), "%2E..");
  EXPECT_EQ(path_component("."), "%2E");
  EXPECT_EQ(path_component(".."), "%2E.");
  EXPECT_EQ(path_component(".hidden"), "%2Ehidden");
}

TEST(PathComponent, NeverAPathAndNeverTheServersOwnDotNames) {
  for (const std::string& name :
       std::vector<std::string>{"a/b", "../x", "/etc", std::string("a\0b", 3), "%2E", "x y", "\xff", ""}) {
    const auto c = path_component(name);
    EXPECT_EQ(c.find('/'), std::string::npos) << c;
    EXPECT_EQ(c.find('\0'), std::string::npos) << c;
    EXPECT_FALSE(c.empty());
    EXPECT_NE(c.front(), '.') << c;
    EXPECT_EQ(fs::path(c).filename().string(), c);
  }
}

TEST(PathComponent, IsInjective) {
  std::set<std::string> seen;
  const std::vector<std::string> names = {".", "..", "%2E", "%2E.", ".a", "%2Ea", "a", "A", "a%", "a%25", "", "%"};
  for (const auto& n : names) EXPECT_TRUE(seen.insert(path_component(n)).second) << n;
}

TEST(CheckObjectKey, AcceptsWhatFirehoseWrites) {
  EXPECT_TRUE(check_object_key("sales/2021/01/31/14/sales-1-2021-01-31-14-05-47-abc.gz"));
  EXPECT_TRUE(check_object_key("p/store_3/x"));
  EXPECT_TRUE(check_object_key("a..b/c"));
  EXPECT_TRUE(check_object_key("caf\xc3\xa9/x"));
}

TEST(CheckObjectKey, RefusesWhatCouldLeaveTheBucket) {
  for (const std::string& key :
       std::vector<std::string>{"", "/etc/passwd", "..", ".", "../x", "a/../../b", "a/./b", "a//b", "a/", "a/..",
                                std::string("a\0b", 3), "a\nb", "\xc0\xaf", "\xed\xa0\x80"}) {
    EXPECT_FALSE(check_object_key(key)) << key;
  }
  EXPECT_FALSE(check_object_key(std::string(256, 'x')));
  EXPECT_TRUE(check_object_key(std::string(255, 'x')));
  EXPECT_FALSE(check_object_key(std::string(600, 'x') + "/" + std::string(600, 'x')));
}

TEST(BucketFromArn, RefusesNamesThatAreNotDirectories) {
  EXPECT_EQ(*bucket_from_arn("arn:aws:s3:::sales-results"), "sales-results");
  EXPECT_EQ(*bucket_from_arn("arn:aws:s3:::My_Bucket.1"), "My_Bucket.1");
  for (const std::string& arn : std::vector<std::string>{
           "arn:aws:s3:::", "arn:aws:s3:::.", "arn:aws:s3:::..", "arn:aws:s3:::.x", "arn:aws:s3:::x.",
           "arn:aws:s3:::a/b", "arn:aws:s3:::a b", "s3://x", "arn:aws:s3:::" + std::string(256, 'a')}) {
    auto r = bucket_from_arn(arn);
    EXPECT_FALSE(r) << arn;
    if (!r) {
      EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
    }
  }
}

TEST(BucketObjectPath, StaysInsideTheBucketDirectory) {
  const fs::path root = "/data/bucket";
  EXPECT_EQ(*bucket_object_path(root, "arn:aws:s3:::b", "dir/file.ndjson"), root / "b" / "dir" / "file.ndjson");
  EXPECT_FALSE(bucket_object_path(root, "arn:aws:s3:::b", "/etc/passwd"));
  EXPECT_FALSE(bucket_object_path(root, "arn:aws:s3:::b", "../../etc/passwd"));
  EXPECT_FALSE(bucket_object_path(root, "arn:aws:s3:::..", "etc/passwd"));
}

TEST(MoveToEntry, MovesAnOldFolderToItsEntryOnce) {
  const fs::path dir = fs::temp_directory_path() / ("eddy-path-names-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / ".hidden");
  std::ofstream(dir / ".hidden" / "stream.json") << "{}";
  ASSERT_TRUE(move_to_entry(dir / ".hidden", dir / path_component(".hidden")));
  EXPECT_TRUE(fs::exists(dir / "%2Ehidden" / "stream.json"));
  EXPECT_FALSE(fs::exists(dir / ".hidden"));
  EXPECT_TRUE(move_to_entry(dir / "%2Ehidden", dir / "%2Ehidden"));  // already in place
  fs::create_directories(dir / ".hidden");
  EXPECT_FALSE(move_to_entry(dir / ".hidden", dir / "%2Ehidden"));  // both exist: refuse, move nothing
  EXPECT_TRUE(fs::exists(dir / "%2Ehidden" / "stream.json"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace eddy
