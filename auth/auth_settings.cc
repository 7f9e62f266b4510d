#include "auth/auth_settings.h"

namespace crm::auth {

AuthSettings AuthSettingsFromConfig(const crm::internal::AuthConfig& config) {
  AuthSettings s;
  if (config.session_idle_seconds() > 0) {
    s.session_idle = absl::Seconds(config.session_idle_seconds());
  }
  if (config.session_absolute_seconds() > 0) {
    s.session_absolute = absl::Seconds(config.session_absolute_seconds());
  }
  if (config.lockout_threshold() > 0) {
    s.lockout.threshold = static_cast<int>(config.lockout_threshold());
  }
  if (config.lockout_seconds() > 0) {
    s.lockout.duration = absl::Seconds(config.lockout_seconds());
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
