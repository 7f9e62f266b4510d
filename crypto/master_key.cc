#include "crypto/master_key.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "crypto/primitives.h"

namespace crm::crypto {
namespace {

constexpr size_t kHexSize = 2 * kKeySize;
// Enough for the line plus stray whitespace; anything longer is not a key.
constexpr size_t kMaxFileSize = 256;

constexpr char kFormat[] =
    "expected one line of 64 hex characters (32 bytes), as made by "
    "`(umask 077 && openssl rand -hex 32 > FILE)`";

std::string ModeString(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04o",
                static_cast<unsigned>(mode & 07777));
  return text;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

absl::Status OpenError(const std::string& path, int error) {
  const std::string text = absl::StrCat("cannot open master key file ", path,
                                        ": ", std::strerror(error));
  if (error == ENOENT) {
    return absl::NotFoundError(absl::StrCat(
        text, " (make one with `(umask 077 && openssl rand -hex 32 > ", path,
        ")` or crypto::GenerateMasterKeyFile)"));
  }
  if (error == EACCES) return absl::PermissionDeniedError(text);
  return absl::FailedPreconditionError(text);
}

// Decodes the file's text into `key`; the text is the caller's to wipe.
absl::Status Parse(const std::string& path, const char* text, size_t size,
                   KeyBytes* key) {
  size_t begin = 0;
  size_t end = size;
  while (begin < end && IsSpace(text[begin])) ++begin;
  while (end > begin && IsSpace(text[end - 1])) --end;
  const size_t length = end - begin;
  if (length != kHexSize) {
    const bool base64 = length == 44 && text[end - 1] == '=';
    return absl::InvalidArgumentError(
        absl::StrCat("master key file ", path, " holds ", length, " characters",
                     base64 ? " (it looks like base64)" : "", "; ", kFormat));
  }
  for (size_t i = 0; i < kKeySize; ++i) {
    const int high = HexValue(text[begin + 2 * i]);
    const int low = HexValue(text[begin + 2 * i + 1]);
    if (high < 0 || low < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("master key file ", path,
                       " has a character that is not hex at "
                       "position ",
                       begin + 2 * i + (high < 0 ? 1 : 2), "; ", kFormat));
    }
    key->data()[i] = static_cast<unsigned char>(high << 4 | low);
  }
  return absl::OkStatus();
}

absl::Status WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::InternalError(std::strerror(errno));
    data += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status SyncDirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(std::strerror(errno));
  const int rc = fsync(fd);
  const int error = errno;
  close(fd);
  if (rc != 0) return absl::InternalError(std::strerror(error));
  return absl::OkStatus();
}

}  // namespace

MasterKey::MasterKey(KeyBytes key) : key_(std::move(key)) {
  const std::string digest = Sha256(absl::string_view(
      reinterpret_cast<const char*>(key_.data()), key_.size()));
  id_ = absl::BytesToHexString(absl::string_view(digest).substr(0, 8));
}

absl::StatusOr<MasterKey> MasterKey::Generate() {
  absl::StatusOr<KeyBytes> key = KeyBytes::Random();
  if (!key.ok()) return key.status();
  return MasterKey(*std::move(key));
}

absl::StatusOr<MasterKey> LoadMasterKey(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return OpenError(path, errno);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("master key file ", path, " is not a regular file"));
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat(
        "master key file ", path, " has mode ", ModeString(st.st_mode),
        ": it holds the key to every encrypted field and must not be "
        "accessible to group or others (the rule for tls.key_file); run "
        "`chmod 600 ",
        path, "`"));
  }
  char text[kMaxFileSize + 1];
  size_t size = 0;
  absl::Status status;
  while (size < sizeof(text)) {
    const ssize_t n = read(fd, text + size, sizeof(text) - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = absl::FailedPreconditionError(absl::StrCat(
          "cannot read master key file ", path, ": ", std::strerror(errno)));
    }
    if (n <= 0) break;
    size += static_cast<size_t>(n);
  }
  close(fd);
  KeyBytes key;
  if (status.ok() && size > kMaxFileSize) {
    status = absl::InvalidArgumentError(
        absl::StrCat("master key file ", path, " is longer than ", kMaxFileSize,
                     " bytes; ", kFormat));
  }
  if (status.ok()) status = Parse(path, text, size, &key);
  OPENSSL_cleanse(text, sizeof(text));
  if (!status.ok()) return status;
  return MasterKey(std::move(key));
}

absl::StatusOr<MasterKey> GenerateMasterKeyFile(const std::string& path) {
  absl::StatusOr<MasterKey> master = MasterKey::Generate();
  if (!master.ok()) return master.status();
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
           S_IRUSR | S_IWUSR);
  if (fd < 0) {
    const int error = errno;
    if (error == EEXIST) {
      return absl::AlreadyExistsError(absl::StrCat(
          "master key file ", path,
          " already exists; it is never overwritten, since data encrypted "
          "under it would become unreadable. Move it away first if it is "
          "really unused"));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create master key file ", path, ": ", std::strerror(error)));
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  char line[kHexSize + 1];
  for (size_t i = 0; i < kKeySize; ++i) {
    line[2 * i] = kDigits[master->key().data()[i] >> 4];
    line[2 * i + 1] = kDigits[master->key().data()[i] & 0xf];
  }
  line[kHexSize] = '\n';
  // fchmod: the umask may have removed bits of 0600 (never added any).
  absl::Status status = fchmod(fd, S_IRUSR | S_IWUSR) == 0
                            ? WriteAll(fd, line, sizeof(line))
                            : absl::InternalError(std::strerror(errno));
  OPENSSL_cleanse(line, sizeof(line));
  if (status.ok() && fsync(fd) != 0) {
    status = absl::InternalError(std::strerror(errno));
  }
  if (close(fd) != 0 && status.ok()) {
    status = absl::InternalError(std::strerror(errno));
  }
  if (status.ok()) status = SyncDirectoryOf(path);
  if (!status.ok()) {
    unlink(path.c_str());
    return absl::InternalError(absl::StrCat("cannot write master key file ",
                                            path, ": ", status.message()));
  }
  return master;
}

}  // namespace crm::crypto
