#include "auth/auth_settings.h"

#include <algorithm>
#include <cstdint>
#include <limits>

namespace crm::auth {
namespace {

// A count from the config as an int (a huge value must not wrap negative,
// which would disable the limit).
int Count(uint32_t n) {
  return static_cast<int>(
      std::min<uint32_t>(n, std::numeric_limits<int>::max()));
}

}  // namespace

AuthSettings AuthSettingsFromConfig(const crm::internal::AuthConfig& config) {
  AuthSettings s;
  if (config.session_idle_seconds() > 0) {
    s.session_idle = absl::Seconds(config.session_idle_seconds());
  }
  if (config.session_absolute_seconds() > 0) {
    s.session_absolute = absl::Seconds(config.session_absolute_seconds());
  }
  if (config.lockout_threshold() > 0) {
    s.lockout.threshold = Count(config.lockout_threshold());
  }
  if (config.lockout_seconds() > 0) {
    s.lockout.duration = absl::Seconds(config.lockout_seconds());
  }
  if (config.source_failure_limit() > 0) {
    s.source_failures.limit = Count(config.source_failure_limit());
  }
  if (config.source_failure_window_seconds() > 0) {
    s.source_failures.window =
        absl::Seconds(config.source_failure_window_seconds());
  }
  if (config.user_failure_limit() > 0) {
    s.user_failures.limit = Count(config.user_failure_limit());
  }
  if (config.user_failure_window_seconds() > 0) {
    s.user_failures.window =
        absl::Seconds(config.user_failure_window_seconds());
  }
  if (config.familiar_source_seconds() > 0) {
    s.familiar_source = absl::Seconds(config.familiar_source_seconds());
  }
  if (config.password_hash_t_cost() > 0) {
    s.hash_params.t_cost = config.password_hash_t_cost();
  }
  if (config.password_hash_memory_kib() > 0) {
    s.hash_params.m_cost_kib = config.password_hash_memory_kib();
  }
  if (config.password_hash_parallelism() > 0) {
    s.hash_params.parallelism = config.password_hash_parallelism();
  }
  return s;
}

}  // namespace crm::auth
