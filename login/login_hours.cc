#include "login/login_hours.h"

#include <cstdio>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"

namespace crm::login {
namespace {

constexpr const char* kDayNames[7] = {"mon", "tue", "wed", "thu",
                                      "fri", "sat", "sun"};
constexpr char kGrammarHint[] =
    " (expected e.g. \"mon-fri 08:00-18:00; sat 09:00-12:00\")";

absl::Status Bad(absl::string_view spec, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("login hours '", spec, "': ", why, kGrammarHint));
}

int DayIndex(absl::string_view name) {
  for (int i = 0; i < 7; ++i) {
    if (name == kDayNames[i]) return i;
  }
  return -1;
}

// Parses "H:MM" or "HH:MM" into minutes since midnight; -1 if malformed.
int ParseClock(absl::string_view text) {
  size_t colon = text.find(':');
  if (colon == absl::string_view::npos || colon == 0 || colon > 2 ||
      text.size() != colon + 3) {
    return -1;
  }
  int h = 0, m = 0;
  for (char c : text) {
    if (c != ':' && !absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return -1;
    }
  }
  if (!absl::SimpleAtoi(text.substr(0, colon), &h) ||
      !absl::SimpleAtoi(text.substr(colon + 1), &m)) {
    return -1;
  }
  if (h > 24 || m > 59 || (h == 24 && m != 0)) return -1;
  return h * 60 + m;
}

std::string FormatClock(int minutes) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%02d:%02d", minutes / 60, minutes % 60);
  return buf;
}

// IANA names only: no absolute paths or "..", which the zone loader would
// otherwise resolve against the file system.
bool IsSafeZoneName(absl::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '/' ||
      name.find("..") != absl::string_view::npos) {
    return false;
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '/' &&
        c != '_' && c != '-' && c != '+') {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<absl::TimeZone> LoginHours::LoadZone(std::string_view name_in) {
  const absl::string_view name(name_in.data(), name_in.size());
  absl::TimeZone zone;
  if (!IsSafeZoneName(name) || !absl::LoadTimeZone(std::string(name), &zone)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown time zone '", name,
        "'; use an IANA name such as \"Europe/Berlin\", \"America/New_York\" "
        "or \"UTC\""));
  }
  return zone;
}

absl::StatusOr<LoginHours> LoginHours::Parse(std::string_view spec_in,
                                             std::string_view zone_in) {
  const absl::string_view spec(spec_in.data(), spec_in.size());
  const absl::string_view zone_name = absl::StripAsciiWhitespace(
      absl::string_view(zone_in.data(), zone_in.size()));
  LoginHours hours;
  const bool empty_spec = absl::StripAsciiWhitespace(spec).empty();
  if (zone_name.empty()) {
    if (empty_spec) return hours;
    return Bad(spec,
               "a time zone is required (an IANA name such as "
               "\"Europe/Berlin\" or \"UTC\")");
  }
  absl::StatusOr<absl::TimeZone> zone =
      LoadZone({zone_name.data(), zone_name.size()});
  if (!zone.ok()) return zone.status();
  hours.zone_ = *zone;
  hours.zone_name_ = std::string(zone_name);

  std::vector<std::string> canonical_entries;
  for (absl::string_view raw_entry : absl::StrSplit(spec, ';')) {
    const std::string entry =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(raw_entry));
    if (entry.empty()) continue;
    const size_t space = entry.find_first_of(" \t");
    if (space == std::string::npos) {
      return Bad(spec, absl::StrCat("entry '", entry,
                                    "' needs days and a time window"));
    }
    const absl::string_view days_text =
        absl::string_view(entry).substr(0, space);
    const absl::string_view windows_text =
        absl::StripAsciiWhitespace(absl::string_view(entry).substr(space));

    std::array<bool, 7> days{};
    for (absl::string_view part : absl::StrSplit(days_text, ',')) {
      std::vector<absl::string_view> ends = absl::StrSplit(part, '-');
      const int first = DayIndex(ends[0]);
      const int last = ends.size() == 2 ? DayIndex(ends[1]) : first;
      if (ends.size() > 2 || first < 0 || last < 0) {
        return Bad(spec, absl::StrCat("'", part,
                                      "' is not a day or day range (days are "
                                      "mon tue wed thu fri sat sun)"));
      }
      for (int d = first;; d = (d + 1) % 7) {
        days[d] = true;
        if (d == last) break;
      }
    }

    std::vector<std::string> canonical_windows;
    for (absl::string_view w : absl::StrSplit(windows_text, ',')) {
      w = absl::StripAsciiWhitespace(w);
      std::vector<absl::string_view> ends = absl::StrSplit(w, '-');
      const int start = ends.size() == 2
                            ? ParseClock(absl::StripAsciiWhitespace(ends[0]))
                            : -1;
      const int end = ends.size() == 2
                          ? ParseClock(absl::StripAsciiWhitespace(ends[1]))
                          : -1;
      if (start < 0 || end < 0) {
        return Bad(spec,
                   absl::StrCat("'", w, "' is not a time window HH:MM-HH:MM"));
      }
      if (start >= end) {
        return Bad(spec, absl::StrCat(
                             "window '", w,
                             "' must end after it starts; windows do not wrap "
                             "midnight, so split it, e.g. \"mon 22:00-24:00; "
                             "tue 00:00-06:00\""));
      }
      if (start == 24 * 60) {
        return Bad(spec, absl::StrCat("window '", w, "' starts at 24:00"));
      }
      for (int d = 0; d < 7; ++d) {
        if (days[d]) hours.by_weekday_[d].emplace_back(start, end);
      }
      canonical_windows.push_back(
          absl::StrCat(FormatClock(start), "-", FormatClock(end)));
    }
    canonical_entries.push_back(
        absl::StrCat(days_text, " ", absl::StrJoin(canonical_windows, ",")));
  }
  hours.unrestricted_ = canonical_entries.empty();
  hours.canonical_ = absl::StrJoin(canonical_entries, "; ");
  return hours;
}

bool LoginHours::Allows(absl::Time t, absl::TimeZone zone) const {
  if (unrestricted_) return true;
  const absl::CivilMinute local = absl::ToCivilMinute(t, zone);
  const int weekday = static_cast<int>(absl::GetWeekday(local));  // mon = 0
  const int minute = local.hour() * 60 + local.minute();
  for (const Window& w : by_weekday_[weekday]) {
    if (minute >= w.first && minute < w.second) return true;
  }
  return false;
}

std::string LoginHours::Describe() const { return canonical_; }

std::string LoginHours::DescribeInstant(absl::Time t, absl::TimeZone zone,
                                        std::string_view zone_name) {
  return absl::StrCat(absl::FormatTime("%a %H:%M", t, zone), " ",
                      absl::string_view(zone_name.data(), zone_name.size()));
}

}  // namespace crm::login
