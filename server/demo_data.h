// The demo organisation: a small, realistic data set that `scripts/dev.sh`
// loads (crm_server --demo) so that a new user has something to look at and
// the access policy can be walked through with crmctl (README "Access policy
// walk-through", checked by tests/e2e/policy_demo_smoke.sh).
//
// What it holds:
//   - profiles System Administrator, Sales Manager, Sales Rep, Contractor, EU
//     Partner, and users alice (admin, role ceo), erin (Sales Manager, role
//     sales-manager), bob and frank (Sales Rep, role sales-rep), carol and
//     dave (login restriction examples, no grants); passwords
//     "<username>-demo-pw";
//   - the policy: roles ceo > sales-manager > sales-rep (and ceo > support);
//     accounts and activities private with access granted using
//     hierarchies, contacts/opportunities/cases controlled by their account,
//     leads public read; permission sets for admins, sales and sales
//     managers (contacts.personal_phone and personal_email, which are
//     sensitive and encrypted at rest, only for managers and admins;
//     accounts.annual_revenue read-only for reps), and for the gateway
//     services (admin-cli, web-frontend: the sensitive fields, and
//     manage_policy for admin-cli) when the config registers them;
//   - data sources (crm.v1.DataSource) for the configured demo services:
//     web-frontend "sales-ui" and admin-cli "crmctl" (INTERACTIONS, every
//     object), billing (ACCOUNTING: opportunities' stage, amount, currency
//     and close time), order-fulfilment (ORDER_FULFILMENT: activities),
//     marketing "web-forms" (WEB_FORMS: leads' contact fields, activities);
//     so the source rule is on in the demo;
//   - records owned by bob, frank, erin and alice, and a manual share of
//     frank's accounts/globex with bob (read).
//
// Each part is loaded only where it is missing, so restarting with --demo
// changes nothing: profiles and users one by one (an existing one is kept
// as is); the policy only into a database with no permission set; the
// records only into a database with no accounts (never mixed into real
// data). The policy (with the users' roles) is validated by compiling it as
// the server will (policy::PolicySnapshot::Build) before it commits. The
// policy write (like each user and profile write, see identity_store.h)
// bumps the policy version, so every server (this one included, within its
// refresh interval) recompiles the policy with the new users and rules.
#ifndef CRM_SERVER_DEMO_DATA_H_
#define CRM_SERVER_DEMO_DATA_H_

#include "absl/status/status.h"
#include "server/server_core.h"

namespace crm::server {

absl::Status LoadDemoOrganisation(ServerCore& core);

}  // namespace crm::server

#endif  // CRM_SERVER_DEMO_DATA_H_
