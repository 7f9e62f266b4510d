// Fuzz target: login hours specs (login/login_hours.h), set on profiles by
// administrators and evaluated on every request of their users.
//
// Input: 1 header byte choosing the time zone from a fixed list (real zones
// with daylight saving, half- and quarter-hour offsets, and names that must
// be refused), then the spec.
// The zone is not fuzzed as free text: absl's zone loader caches every name
// it is asked for, failed ones included, so free names would only measure
// that cache growing (a process loads only the zones its profiles name).
// Properties:
//   - Parse never crashes; a refusal is INVALID_ARGUMENT.
//   - An empty zone is accepted only with an empty spec; an unknown or
//     unsafe zone name is always refused.
//   - Accepted: unrestricted() iff the canonical text (Describe) is empty;
//     the canonical text parses to the same canonical text, and allows
//     exactly the same instants (checked on instants spread over a week and
//     on both sides of every whole hour of one day).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/time/time.h"
#include "fuzz/fuzz_check.h"
#include "login/login_hours.h"

namespace crm::login {
namespace {

using fuzz::Escaped;

struct Zone {
  const char* name;
  bool valid;
};

constexpr Zone kZones[] = {
    {"UTC", true},
    {"Europe/Berlin", true},
    {"America/New_York", true},
    {"Australia/Lord_Howe", true},  // half-hour daylight saving shift
    {"Asia/Kathmandu", true},       // +05:45
    {"Pacific/Apia", true},         // skipped a whole day in 2011
    {" Europe/Berlin ", true},      // surrounding whitespace is stripped
    {"", false},                    // only with an empty spec
    {"Not/AZone", false},
    {"../../etc/passwd", false},
    {"/usr/share/zoneinfo/UTC", false},
    {"Europe/Berlin\n", true},
};

void CheckSameAllows(const LoginHours& a, const LoginHours& b,
                     std::string_view spec) {
  // A week of instants 97 minutes apart (a step coprime with the hour),
  // starting on a Monday at 00:00 UTC in a year with DST changes.
  const absl::Time start = absl::FromUnixSeconds(1711929600);  // 2024-04-01
  for (int i = 0; i < 7 * 24 * 60 / 97 + 1; ++i) {
    const absl::Time t = start + absl::Minutes(97 * i);
    FUZZ_CHECK(a.Allows(t) == b.Allows(t))
        << "canonical text " << b.Describe() << " allows " << b.Allows(t)
        << " at " << absl::FormatTime(t) << " but " << Escaped(spec)
        << " allows " << a.Allows(t);
  }
  for (int h = 0; h <= 24; ++h) {
    for (int delta : {-1, 0}) {
      const absl::Time t = start + absl::Hours(h) + absl::Minutes(delta);
      FUZZ_CHECK(a.Allows(t) == b.Allows(t)) << absl::FormatTime(t);
    }
  }
}

}  // namespace
}  // namespace crm::login

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace crm::login;
  if (size < 1) return 0;
  const Zone& zone = kZones[data[0] % (sizeof(kZones) / sizeof(kZones[0]))];
  const std::string_view spec(reinterpret_cast<const char*>(data) + 1,
                              size - 1);
  const bool empty_spec =
      absl::StripAsciiWhitespace(absl::string_view(spec.data(), spec.size()))
          .empty();
  absl::StatusOr<LoginHours> hours = LoginHours::Parse(spec, zone.name);
  if (!hours.ok()) {
    FUZZ_CHECK(hours.status().code() == absl::StatusCode::kInvalidArgument)
        << hours.status();
    return 0;
  }
  if (!zone.valid) {
    FUZZ_CHECK(zone.name[0] == '\0' && empty_spec)
        << "zone '" << zone.name << "' accepted for " << Escaped(spec);
    FUZZ_CHECK(hours->unrestricted());
  }
  const std::string canonical = hours->Describe();
  FUZZ_CHECK(hours->unrestricted() == canonical.empty())
      << Escaped(spec) << " -> " << Escaped(canonical);
  if (hours->unrestricted()) {
    FUZZ_CHECK(hours->Allows(absl::FromUnixSeconds(1711929600)));
    return 0;
  }
  absl::StatusOr<LoginHours> again = LoginHours::Parse(canonical, zone.name);
  FUZZ_CHECK(again.ok()) << again.status() << " for canonical "
                         << Escaped(canonical) << " of " << Escaped(spec);
  FUZZ_CHECK(again->Describe() == canonical)
      << Escaped(canonical) << " -> " << Escaped(again->Describe());
  FUZZ_CHECK(again->time_zone_name() == hours->time_zone_name());
  CheckSameAllows(*hours, *again, spec);
  (void)hours->DescribeInstant(absl::FromUnixSeconds(1711929600));
  return 0;
}
