#include "store/audit_spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/log.h"
#include "crypto/primitives.h"

namespace crm::store {
namespace {

constexpr char kMagic[] = "CRM-AUDIT-SPOOL1";
constexpr int64_t kMagicSize = 16;
constexpr int64_t kHeaderSize = 12;  // length + check
constexpr uint32_t kMaxPayload = 16u << 20;

std::string OsError(absl::string_view what, const std::string& path) {
  return absl::StrCat(what, " '", path, "': ", std::strerror(errno));
}

void Check(const char* data, size_t size, unsigned char out[8]) {
  unsigned char md[crypto::kSha256Size];
  crypto::Sha256(absl::string_view(data, size), md);
  std::memcpy(out, md, 8);
}

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  }
  return v;
}

bool AllZero(const std::string& s, size_t from) {
  return std::all_of(s.begin() + static_cast<std::ptrdiff_t>(from), s.end(),
                     [](char c) { return c == 0; });
}

// Reads one file left by an earlier process into `out`; returns the end of
// its last whole record (the size it is truncated to).
absl::StatusOr<int64_t> ReadFile(const std::string& path,
                                 std::vector<SpooledEvent>* out,
                                 const std::string& name) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::UnavailableError(OsError("cannot read", path));
  std::string data((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  if (data.size() < static_cast<size_t>(kMagicSize)) {
    // Created, and the process died before the magic was written.
    if (AllZero(data, 0) || std::string(kMagic).rfind(data, 0) == 0) return 0;
    return absl::FailedPreconditionError(absl::StrCat(
        "audit spool file '", path, "' is not a spool file (no magic)"));
  }
  if (data.compare(0, kMagicSize, kMagic) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "audit spool file '", path,
        "' is not a spool file (wrong magic); move it out of the spool "
        "directory"));
  }
  size_t at = kMagicSize;
  while (at < data.size()) {
    const size_t left = data.size() - at;
    const uint32_t length = left >= 4 ? GetU32(data.data() + at) : 0;
    const bool torn = left < kHeaderSize || length > left - kHeaderSize;
    bool bad = torn || length == 0 || length > kMaxPayload;
    crm::v1::AuditEvent event;
    if (!bad) {
      unsigned char check[8];
      Check(data.data() + at + kHeaderSize, length, check);
      bad = std::memcmp(check, data.data() + at + 4, 8) != 0 ||
            !event.ParseFromArray(data.data() + at + kHeaderSize,
                                  static_cast<int>(length));
    }
    if (bad) {
      if (torn || AllZero(data, at)) {
        base::LogWarning(
            "audit.spool_tail_cut",
            {{"file", path},
             {"offset", absl::StrCat(at)},
             {"bytes", absl::StrCat(left)},
             {"message",
              "an incomplete last record (the process or machine stopped "
              "while it was written; its call was not answered) is removed"}});
        return static_cast<int64_t>(at);
      }
      return absl::FailedPreconditionError(absl::StrCat(
          "audit spool file '", path, "' is damaged at offset ", at,
          " (a record's checksum or length does not match): the events "
          "after it cannot be replayed into the audit trail. Keep a copy for "
          "investigation, then move the file out of the spool directory to "
          "start the server; the events in it from offset ", at,
          " on will be missing from the trail"));
    }
    at += kHeaderSize + length;
    out->push_back(
        {std::move(event), SpoolPosition{name, static_cast<int64_t>(at)}});
  }
  return static_cast<int64_t>(at);
}

}  // namespace

AuditSpool::AuditSpool(std::string dir, AuditSpoolOptions options,
                       int lock_fd)
    : dir_(std::move(dir)), options_(options), lock_fd_(lock_fd) {}

AuditSpool::~AuditSpool() {
  if (fd_ >= 0) {
    close(fd_);
    // The current file, if the database has all of it, is not needed by
    // the next start.
    if (!files_.empty() && files_.back().committed >= files_.back().size) {
      unlink(absl::StrCat(dir_, "/", files_.back().name).c_str());
    }
  }
  close(lock_fd_);
}

absl::StatusOr<std::unique_ptr<AuditSpool>> AuditSpool::Open(
    const std::string& dir, AuditSpoolOptions options) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::UnavailableError(
        OsError("audit.spool_dir: cannot create", dir));
  }
  const std::string lock_path = absl::StrCat(dir, "/LOCK");
  int lock_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) {
    return absl::UnavailableError(
        OsError("audit.spool_dir: cannot open", lock_path));
  }
  if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    close(lock_fd);
    if (error == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "audit.spool_dir '", dir,
          "' is in use by another server process; give each server its own "
          "spool directory"));
    }
    errno = error;
    return absl::UnavailableError(
        OsError("audit.spool_dir: cannot lock", lock_path));
  }
  std::unique_ptr<AuditSpool> spool(
      new AuditSpool(dir, options, lock_fd));
  if (absl::Status s = spool->Recover(); !s.ok()) return s;
  if (absl::Status s = spool->StartFile(); !s.ok()) return s;
  return spool;
}

absl::Status AuditSpool::Recover() {
  DIR* d = opendir(dir_.c_str());
  if (d == nullptr) {
    return absl::UnavailableError(OsError("audit.spool_dir: cannot read", dir_));
  }
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (absl::StartsWith(name, "events-") && absl::EndsWith(name, ".spool")) {
      names.push_back(std::move(name));
    }
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const std::string path = absl::StrCat(dir_, "/", name);
    const size_t before = recovered_.size();
    auto end = ReadFile(path, &recovered_, name);
    if (!end.ok()) return end.status();
    if (recovered_.size() == before) {
      unlink(path.c_str());  // nothing in it
      continue;
    }
    if (truncate(path.c_str(), *end) != 0) {
      return absl::UnavailableError(OsError("cannot truncate", path));
    }
    files_.push_back({name, *end, 0, /*sealed=*/true});
  }
  if (!recovered_.empty()) {
    base::LogInfo("audit.spool_recovered",
                  {{"events", absl::StrCat(recovered_.size())},
                   {"files", absl::StrCat(files_.size())}});
  }
  return absl::OkStatus();
}

absl::Status AuditSpool::StartFile() {
  static absl::BitGen* bits = new absl::BitGen();
  std::string name = absl::StrFormat(
      "events-%020d-%08x.spool", absl::ToUnixMicros(absl::Now()),
      absl::Uniform<uint32_t>(*bits));
  const std::string path = absl::StrCat(dir_, "/", name);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return absl::UnavailableError(OsError("cannot create", path));
  if (write(fd, kMagic, kMagicSize) != kMagicSize) {
    absl::Status s = absl::UnavailableError(OsError("cannot write", path));
    close(fd);
    unlink(path.c_str());
    return s;
  }
  if (fd_ >= 0) {
    close(fd_);
    files_.back().sealed = true;
  }
  fd_ = fd;
  files_.push_back({std::move(name), kMagicSize, kMagicSize, false});
  return absl::OkStatus();
}

std::vector<SpooledEvent> AuditSpool::TakeRecovered() {
  return std::exchange(recovered_, {});
}

absl::StatusOr<SpoolPosition> AuditSpool::Append(
    const crm::v1::AuditEvent& event) {
  if (fd_ < 0 || files_.back().size >= options_.rotate_bytes) {
    if (absl::Status s = StartFile(); !s.ok()) {
      return absl::UnavailableError(absl::StrCat(
          "the audit spool cannot take this call's event (", s.message(),
          "); nothing was done, retry"));
    }
  }
  File& file = files_.back();
  buffer_.clear();
  const size_t length = event.ByteSizeLong();
  PutU32(&buffer_, static_cast<uint32_t>(length));
  buffer_.resize(kHeaderSize + length);
  event.SerializeWithCachedSizesToArray(
      reinterpret_cast<uint8_t*>(buffer_.data() + kHeaderSize));
  unsigned char check[8];
  Check(buffer_.data() + kHeaderSize, length, check);
  std::memcpy(buffer_.data() + 4, check, 8);
  size_t done = 0;
  while (done < buffer_.size()) {
    ssize_t n = write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string error = OsError("cannot write", absl::StrCat(dir_, "/", file.name));
      // Take back what part of the record was written, so the file stays
      // readable; if even that fails, no more appends go to this file.
      if (ftruncate(fd_, file.size) != 0 ||
          lseek(fd_, file.size, SEEK_SET) != file.size) {
        close(fd_);
        fd_ = -1;
        file.sealed = true;
      }
      return absl::UnavailableError(absl::StrCat(
          "the audit spool cannot take this call's event (", error,
          "); nothing was done, retry"));
    }
    done += static_cast<size_t>(n);
  }
  file.size += static_cast<int64_t>(buffer_.size());
  return SpoolPosition{file.name, file.size};
}

std::vector<std::string> AuditSpool::Committed(const std::string& name,
                                               int64_t end) {
  // Events reach the database in spool order: a commit through (name, end)
  // has every file before it whole.
  auto it = std::find_if(files_.begin(), files_.end(),
                         [&](const File& f) { return f.name == name; });
  if (it != files_.end()) {
    for (auto f = files_.begin(); f != it; ++f) f->committed = f->size;
    it->committed = std::max(it->committed, end);
  }
  std::vector<std::string> removed;
  auto done = [](const File& f) { return f.sealed && f.committed >= f.size; };
  for (const File& f : files_) {
    if (!done(f)) continue;
    const std::string path = absl::StrCat(dir_, "/", f.name);
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      base::LogWarning("audit.spool_unlink_failed",
                       {{"file", path}, {"error", std::strerror(errno)}});
    }
    removed.push_back(f.name);
  }
  files_.erase(std::remove_if(files_.begin(), files_.end(), done),
               files_.end());
  return removed;
}

}  // namespace crm::store
