// The audit spool's file handling (store/audit_spool.h): what one process
// appends the next one reads back in order; a record cut short or zeros at
// the end of a file are cut (that call was never answered), damage inside
// refuses to start with the file and offset named; one process per
// directory; files rotate and go once the database has them; a write that
// fails (file too large) is refused and leaves the file readable.
#include "store/audit_spool.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace crm::store {
namespace {

namespace fs = std::filesystem;

crm::v1::AuditEvent Event(int i) {
  crm::v1::AuditEvent e;
  e.set_action("records.get");
  e.set_resource(absl::StrCat("accounts/a", i));
  e.set_outcome(crm::v1::ALLOWED);
  e.set_request_id(absl::StrCat("req-", i));
  e.mutable_time()->set_seconds(1700000000 + i);
  return e;
}

std::vector<std::string> SpoolFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name != "LOCK") out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

class AuditSpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/spool-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<AuditSpool> OpenOrDie(AuditSpoolOptions options = {}) {
    auto spool = AuditSpool::Open(dir_, options);
    EXPECT_TRUE(spool.ok()) << spool.status();
    return spool.ok() ? *std::move(spool) : nullptr;
  }

  // Appends events 1..n in one process's spool and "kills" it: nothing is
  // committed, so the file stays. Returns the positions.
  std::vector<SpoolPosition> AppendAndStop(int n) {
    auto spool = OpenOrDie();
    std::vector<SpoolPosition> at;
    for (int i = 1; i <= n; ++i) {
      auto p = spool->Append(Event(i));
      EXPECT_TRUE(p.ok()) << p.status();
      if (p.ok()) at.push_back(*p);
    }
    return at;
  }

  std::string dir_;
};

TEST_F(AuditSpoolTest, WhatOneProcessAppendsTheNextReadsBackInOrder) {
  std::vector<SpoolPosition> at = AppendAndStop(3);
  ASSERT_EQ(at.size(), 3u);
  EXPECT_EQ(at[0].file, at[2].file);
  EXPECT_LT(at[0].end, at[1].end);
  EXPECT_LT(at[1].end, at[2].end);
  auto spool = OpenOrDie();
  std::vector<SpooledEvent> back = spool->TakeRecovered();
  ASSERT_EQ(back.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(back[i].event.SerializeAsString(),
              Event(i + 1).SerializeAsString());
    EXPECT_EQ(back[i].position.file, at[i].file);
    EXPECT_EQ(back[i].position.end, at[i].end);
  }
  EXPECT_TRUE(spool->TakeRecovered().empty()) << "taken once";
  EXPECT_EQ(spool->files(), 2u) << "the old file and this process's own";
}

TEST_F(AuditSpoolTest, ARecordCutShortAtTheEndIsCut) {
  std::vector<SpoolPosition> at = AppendAndStop(3);
  const std::string path = dir_ + "/" + at[2].file;
  fs::resize_file(path, at[2].end - 5);  // the process died inside write(2)
  auto spool = OpenOrDie();
  EXPECT_EQ(spool->TakeRecovered().size(), 2u);
  EXPECT_EQ(static_cast<int64_t>(fs::file_size(path)), at[1].end)
      << "truncated to the last whole record";
}

TEST_F(AuditSpoolTest, ZerosAtTheEndAreCut) {
  std::vector<SpoolPosition> at = AppendAndStop(2);
  {
    std::ofstream out(dir_ + "/" + at[1].file,
                      std::ios::binary | std::ios::app);
    out << std::string(100, '\0');  // what an OS crash can leave
  }
  auto spool = OpenOrDie();
  EXPECT_EQ(spool->TakeRecovered().size(), 2u);
}

TEST_F(AuditSpoolTest, DamageInsideAFileRefusesToStartNamingTheOffset) {
  std::vector<SpoolPosition> at = AppendAndStop(3);
  const std::string path = dir_ + "/" + at[0].file;
  {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(at[0].end + 20);  // inside the second record's payload
    f.put('X');
  }
  auto spool = AuditSpool::Open(dir_);
  ASSERT_FALSE(spool.ok());
  EXPECT_EQ(spool.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(spool.status().message().find(
                absl::StrCat("damaged at offset ", at[0].end)),
            std::string::npos)
      << spool.status();
  EXPECT_NE(spool.status().message().find(at[0].file), std::string::npos);
}

TEST_F(AuditSpoolTest, ASecondProcessOnTheSameDirectoryIsRefused) {
  auto first = OpenOrDie();
  auto second = AuditSpool::Open(dir_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("in use by another server"),
            std::string::npos)
      << second.status();
  first.reset();
  EXPECT_TRUE(AuditSpool::Open(dir_).ok()) << "free once the first is gone";
}

TEST_F(AuditSpoolTest, FilesRotateAndGoOnceTheDatabaseHasThem) {
  AuditSpoolOptions options;
  options.rotate_bytes = 200;
  std::vector<SpoolPosition> at;
  {
    auto spool = OpenOrDie(options);
    for (int i = 1; i <= 20; ++i) at.push_back(*spool->Append(Event(i)));
    ASSERT_GT(spool->files(), 3u) << "rotated";
    EXPECT_EQ(SpoolFiles(dir_).size(), spool->files());
    // The database has the first half: the files wholly in it go.
    std::vector<std::string> removed =
        spool->Committed(at[9].file, at[9].end);
    EXPECT_FALSE(removed.empty());
    EXPECT_EQ(SpoolFiles(dir_).size(), spool->files());
    for (const std::string& f : removed) {
      EXPECT_LT(f, at[10].file) << "only files before the uncommitted half";
    }
    // Everything: only the current file is left, and it goes at the end.
    spool->Committed(at[19].file, at[19].end);
    EXPECT_EQ(SpoolFiles(dir_).size(), 1u);
  }
  EXPECT_TRUE(SpoolFiles(dir_).empty()) << "nothing left for the next start";
}

TEST_F(AuditSpoolTest, AFailedWriteIsRefusedAndLeavesTheFileReadable) {
  auto spool = OpenOrDie();
  ASSERT_TRUE(spool->Append(Event(1)).ok());
  // Files may not grow: write(2) fails with EFBIG (SIGXFSZ ignored).
  struct sigaction ignore = {}, old = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGXFSZ, &ignore, &old), 0);
  rlimit limit = {}, saved = {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  limit = saved;
  limit.rlim_cur = static_cast<rlim_t>(
      fs::file_size(dir_ + "/" + SpoolFiles(dir_).back()) + 10);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
  auto refused = spool->Append(Event(2));
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &saved), 0);
  sigaction(SIGXFSZ, &old, nullptr);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("nothing was done"),
            std::string::npos)
      << refused.status();
  ASSERT_TRUE(spool->Append(Event(3)).ok()) << "the next one goes in";
  spool.reset();
  auto next = OpenOrDie();
  std::vector<SpooledEvent> back = next->TakeRecovered();
  ASSERT_EQ(back.size(), 2u) << "1 and 3; 2 was refused, so never answered";
  EXPECT_EQ(back[0].event.resource(), "accounts/a1");
  EXPECT_EQ(back[1].event.resource(), "accounts/a3");
}

}  // namespace
}  // namespace crm::store
