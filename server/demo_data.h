// The demo organisation: a small, realistic data set that `scripts/dev.sh`
// loads so that a new user has something to look at. Loaded only into a
// database with no accounts (never mixed into real data).
#ifndef CRM_SERVER_DEMO_DATA_H_
#define CRM_SERVER_DEMO_DATA_H_

#include "absl/status/status.h"
#include "server/record_handler.h"

namespace crm::server {

absl::Status LoadDemoOrganisation(ServerCore& core);

}  // namespace crm::server

#endif  // CRM_SERVER_DEMO_DATA_H_
