// The "what we hold and why" report of `crmctl privacy inventory`, rendered
// from DataInventoryService's answer (crm/v1/data_inventory_service.proto).
// Pure formatting: every fact and number in it is the server's.
//
//   - Markdown (for a privacy notice): a title with the policy version and
//     the generation time and a totals line ("Fields: 78; personal: 20;
//     encrypted at rest: 2; flagged: 25."), a table of the sources, then
//     one section per object ("## contacts") with its consent, retention
//     and erasure rules, its own totals line and a table with one row per
//     field (purposes, sources, personal, protection at rest, retention,
//     erasure, findings). Cell text has | and line breaks escaped.
//   - CSV (RFC 4180, CsvField quoting): a header, then one row per field.
//
// Thread-safety: stateless functions.
#ifndef CRM_CLIENTS_DATA_INVENTORY_REPORT_H_
#define CRM_CLIENTS_DATA_INVENTORY_REPORT_H_

#include <string>

#include "crm/v1/data_inventory_service.pb.h"

namespace crm::client {

// "no source registered", "no purpose recorded", "sources not registered",
// "personal, kept on erasure", "personal, no retention limit".
std::string InventoryFlagText(crm::v1::InventoryFlag flag);

std::string DataInventoryMarkdown(const crm::v1::DataInventory& inventory);
std::string DataInventoryCsv(const crm::v1::DataInventory& inventory);

}  // namespace crm::client

#endif  // CRM_CLIENTS_DATA_INVENTORY_REPORT_H_
