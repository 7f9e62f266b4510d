// The server's structured log (base/log.h), under the names server/ code
// has always used.
#ifndef CRM_SERVER_LOG_H_
#define CRM_SERVER_LOG_H_

#include "base/log.h"

namespace crm::server {

using base::JsonEscape;
using base::Log;
using base::LogEnabled;
using base::LogError;
using base::LogField;
using base::LogInfo;
using base::LogLevel;
using base::LogWarning;
using base::SetLogLevel;

}  // namespace crm::server

#endif  // CRM_SERVER_LOG_H_
