// Login hours: the weekly windows in which a principal may log in and make
// requests, in one IANA time zone.
//
// Spec grammar (case-insensitive, whitespace-tolerant):
//   spec    := "" | entry (";" entry)*
//   entry   := days " " window ("," window)*
//   days    := day | day "-" day | days "," days   (mon tue wed thu fri sat
//   sun) window  := HH:MM "-" HH:MM                     (00:00 <= start < end
//   <= 24:00)
// Example: "mon-fri 08:00-12:00,13:00-18:00; sat 09:00-12:00".
// A day range may wrap the week ("fri-mon" = fri, sat, sun, mon).
// The start is inclusive, the end exclusive. A window never wraps midnight:
// write "mon 22:00-24:00; tue 00:00-06:00" for a night shift.
// An empty spec means no restriction. Times are local wall-clock times in the
// zone, so a window follows daylight saving time.
//
// Immutable after Parse; thread-safe.
#ifndef CRM_LOGIN_LOGIN_HOURS_H_
#define CRM_LOGIN_LOGIN_HOURS_H_

#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crm::login {

class LoginHours {
 public:
  // No restriction (every time allowed).
  LoginHours() = default;

  // Parses `spec` for the IANA zone `time_zone` (e.g. "Europe/Berlin",
  // "UTC"). The zone is validated even for an empty spec; it may be empty
  // only if the spec is. Errors: INVALID_ARGUMENT naming the bad part.
  static absl::StatusOr<LoginHours> Parse(std::string_view spec,
                                          std::string_view time_zone);

  // The IANA zone `name` ("Europe/Berlin"); names that are not IANA-shaped
  // (absolute paths, "..") are refused. INVALID_ARGUMENT naming it.
  static absl::StatusOr<absl::TimeZone> LoadZone(std::string_view name);

  // True iff no windows are configured (every time allowed).
  bool unrestricted() const { return unrestricted_; }

  // True iff `t` falls in a window in the zone (always, if unrestricted).
  bool Allows(absl::Time t) const { return Allows(t, zone_); }
  // The same windows read in `zone` instead (login hours that follow the
  // user's own time zone: login/login_restrictions.h).
  bool Allows(absl::Time t, absl::TimeZone zone) const;

  // The spec in canonical form ("mon-fri 08:00-18:00; sat 09:00-12:00"),
  // "" if unrestricted.
  std::string Describe() const;

  // `t` as local time in the zone, e.g. "Tue 20:15 Europe/Berlin".
  std::string DescribeInstant(absl::Time t) const {
    return DescribeInstant(t, zone_, zone_name_);
  }
  // `t` as local time in `zone`, named `zone_name`.
  static std::string DescribeInstant(absl::Time t, absl::TimeZone zone,
                                     std::string_view zone_name);

  const std::string& time_zone_name() const { return zone_name_; }

 private:
  // Minutes since local midnight, [start, end).
  using Window = std::pair<int, int>;

  bool unrestricted_ = true;
  std::string zone_name_ = "UTC";
  absl::TimeZone zone_ = absl::UTCTimeZone();
  std::array<std::vector<Window>, 7> by_weekday_;  // index 0 = Monday
  std::string canonical_;
};

}  // namespace crm::login

#endif  // CRM_LOGIN_LOGIN_HOURS_H_
