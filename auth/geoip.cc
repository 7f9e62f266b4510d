#include "auth/geoip.h"

#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace crm::auth {
namespace {

// Reads a two-letter code at `path...` in `entry`; nullopt if absent.
std::optional<std::string> IsoCodeAt(MMDB_entry_s* entry, const char* first) {
  MMDB_entry_data_s data;
  const int rc = MMDB_get_value(entry, &data, first, "iso_code", nullptr);
  if (rc != MMDB_SUCCESS || !data.has_data ||
      data.type != MMDB_DATA_TYPE_UTF8_STRING || data.data_size != 2) {
    return std::nullopt;
  }
  std::string code(data.utf8_string, data.data_size);
  for (char& c : code) {
    if (!absl::ascii_isalpha(static_cast<unsigned char>(c))) {
      return std::nullopt;
    }
    c = absl::ascii_toupper(static_cast<unsigned char>(c));
  }
  return code;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MaxMindCountryResolver>>
MaxMindCountryResolver::Open(const std::string& path) {
  if (access(path.c_str(), F_OK) != 0) {
    return absl::NotFoundError(
        absl::StrCat("GeoIP database '", path, "' does not exist"));
  }
  auto db = std::make_unique<MMDB_s>();
  const int rc = MMDB_open(path.c_str(), MMDB_MODE_MMAP, db.get());
  if (rc != MMDB_SUCCESS) {
    std::string detail = MMDB_strerror(rc);
    if (rc == MMDB_IO_ERROR) {
      detail = absl::StrCat(detail, ": ", std::strerror(errno));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "GeoIP database '", path,
        "' cannot be opened as a MaxMind DB (expected a GeoIP2/GeoLite2 "
        "Country .mmdb file): ",
        detail));
  }
  return std::unique_ptr<MaxMindCountryResolver>(
      new MaxMindCountryResolver(std::move(db)));
}

MaxMindCountryResolver::MaxMindCountryResolver(std::unique_ptr<MMDB_s> db)
    : db_(std::move(db)) {}

MaxMindCountryResolver::~MaxMindCountryResolver() { MMDB_close(db_.get()); }

std::optional<std::string> MaxMindCountryResolver::CountryOf(
    const login::IpAddress& address) const {
  sockaddr_storage storage;
  std::memset(&storage, 0, sizeof(storage));
  if (address.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&storage);
    sin->sin_family = AF_INET;
    std::memcpy(&sin->sin_addr, address.bytes().data(), 4);
  } else if (address.is_v6()) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&storage);
    sin6->sin6_family = AF_INET6;
    std::memcpy(&sin6->sin6_addr, address.bytes().data(), 16);
  } else {
    return std::nullopt;
  }
  int mmdb_error = MMDB_SUCCESS;
  // MMDB_lookup_sockaddr only reads the database; it takes a non-const
  // pointer for historical reasons.
  MMDB_lookup_result_s result =
      MMDB_lookup_sockaddr(db_.get(), reinterpret_cast<sockaddr*>(&storage),
                           &mmdb_error);
  if (mmdb_error != MMDB_SUCCESS || !result.found_entry) return std::nullopt;
  if (auto code = IsoCodeAt(&result.entry, "country")) return code;
  return IsoCodeAt(&result.entry, "registered_country");
}

std::string MaxMindCountryResolver::database_type() const {
  const char* type = db_->metadata.database_type;
  return type ? type : "";
}

}  // namespace crm::auth
