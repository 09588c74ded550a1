// The metadata seam's local implementation: compare-and-set on revisions, names from the
// documents, and folders of an older eddy moved to their entries.
#include "common/metadata_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "common/file_util.h"

namespace eddy {
namespace {

namespace fs = std::filesystem;

class MetadataStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("eddy-metadata-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::unique_ptr<FileMetadataStore> open() {
    // A document here is "<name>\n<body>".
    return std::make_unique<FileMetadataStore>(dir_, "doc.txt", [](std::string_view text) -> Result<std::string> {
      const size_t nl = text.find('\n');
      if (nl == std::string_view::npos) return make_error(Errc::kCorruption, "no name line");
      return std::string(text.substr(0, nl));
    });
  }
  fs::path dir_;
};

TEST_F(MetadataStoreTest, CreateUpdateAndRemoveByCompareAndSet) {
  auto m = open();
  auto r1 = m->put("app", "app\nv1", 0);
  ASSERT_TRUE(r1.has_value());
  EXPECT_EQ(*r1, 1u);
  auto again = m->put("app", "app\nother", 0);  // a second create loses
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, Errc::kResourceInUse);
  auto r2 = m->put("app", "app\nv2", 1);
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(*r2, 2u);
  auto stale = m->put("app", "app\nv3", 1);  // an update from an old read loses
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code, Errc::kConcurrentModification);
  auto doc = m->get("app");
  ASSERT_TRUE(doc.has_value() && doc->has_value());
  EXPECT_EQ((*doc)->value, "app\nv2");
  EXPECT_EQ((*doc)->revision, 2u);
  EXPECT_EQ(m->remove("app", 1).error().code, Errc::kConcurrentModification);
  ASSERT_TRUE(m->remove("app", 2).has_value());
  EXPECT_FALSE(m->get("app")->has_value());
  EXPECT_FALSE(fs::exists(m->folder("app")));
  EXPECT_TRUE(m->put("app", "app\nv4", 0).has_value());  // created again
}

TEST_F(MetadataStoreTest, NamesAreDataAndSurviveARestart) {
  {
    auto m = open();
    ASSERT_TRUE(m->put("..", "..\nx", 0).has_value());
    ASSERT_TRUE(m->put("a/b", "a/b\ny", 0).has_value());
    EXPECT_TRUE(m->folder("..").parent_path() == dir_);
  }
  // An older eddy's folder, named after the raw name: found through its document, and moved.
  fs::create_directories(dir_ / ".hidden");
  ASSERT_TRUE(write_file_atomic(dir_ / ".hidden" / "doc.txt", ".hidden\nz").has_value());
  auto m = open();
  auto names = m->names();
  ASSERT_TRUE(names.has_value());
  EXPECT_EQ(*names, (std::vector<std::string>{"..", ".hidden", "a/b"}));
  EXPECT_TRUE(fs::exists(m->folder(".hidden") / "doc.txt"));
  EXPECT_FALSE(fs::exists(dir_ / ".hidden"));
  // Revisions of documents written by an earlier process start at 1.
  EXPECT_EQ(m->get("a/b")->value().revision, 1u);
  EXPECT_EQ(m->put("a/b", "a/b\nw", 0).error().code, Errc::kResourceInUse);
  EXPECT_TRUE(m->put("a/b", "a/b\nw", 1).has_value());
}

// A removal renames the folder away first: a crash after the rename never brings the entity
// back, and the next start clears what was left.
TEST_F(MetadataStoreTest, ARemovalInterruptedByACrashIsFinishedAtTheNextStart) {
  {
    auto m = open();
    ASSERT_TRUE(m->put("gone", "gone\nx", 0).has_value());
    ASSERT_TRUE(write_file_atomic(m->folder("gone") / "other-file", "y").has_value());
  }
  fs::rename(dir_ / "gone", dir_ / ".removing~7-1");  // where a crash mid-removal leaves it
  auto m = open();
  EXPECT_TRUE(m->names()->empty());
  EXPECT_FALSE(fs::exists(dir_ / ".removing~7-1"));
  EXPECT_TRUE(m->put("gone", "gone\nnew", 0).has_value());
}

TEST_F(MetadataStoreTest, AnUnreadableDocumentIsAnErrorNotSkipped) {
  fs::create_directories(dir_ / "x");
  ASSERT_TRUE(write_file_atomic(dir_ / "x" / "doc.txt", "no newline").has_value());
  auto names = open()->names();
  ASSERT_FALSE(names.has_value());
  EXPECT_EQ(names.error().code, Errc::kCorruption);
}

}  // namespace
}  // namespace eddy
