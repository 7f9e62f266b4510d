#include "clients/data_inventory_report.h"

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "clients/access_report.h"
#include "google/protobuf/util/time_util.h"

namespace crm::client {
namespace {

using crm::v1::DataInventory;
using crm::v1::FieldRetention;
using crm::v1::InventoryField;
using crm::v1::InventoryObject;
using crm::v1::InventorySource;

// ACCOUNTING -> "accounting", WEB_FORMS -> "web forms".
std::string KindText(crm::v1::DataSourceKind kind) {
  std::string name = absl::AsciiStrToLower(crm::v1::DataSourceKind_Name(kind));
  absl::StrReplaceAll({{"_", " "}}, &name);
  return name;
}

// A markdown table cell: | escaped, line breaks as spaces, "-" if empty.
std::string Cell(const std::string& text) {
  if (text.empty()) return "-";
  return absl::StrReplaceAll(text, {{"|", "\\|"}, {"\r", " "}, {"\n", " "}});
}

std::string Row(const std::vector<std::string>& cells) {
  std::vector<std::string> escaped;
  for (const std::string& c : cells) escaped.push_back(Cell(c));
  return absl::StrCat("| ", absl::StrJoin(escaped, " | "), " |\n");
}

std::string Header(const std::vector<std::string>& cells) {
  return absl::StrCat(Row(cells), "|",
                       absl::StrJoin(std::vector<std::string>(cells.size(),
                                                              " --- "),
                                     "|"),
                       "|\n");
}

std::string ActionText(crm::v1::ErasureRule::Action action) {
  return action == crm::v1::ErasureRule::DELETE ? "delete" : "anonymize";
}

std::string RetentionText(const FieldRetention& r) {
  switch (r.effect()) {
    case FieldRetention::DELETED_WITH_RECORD:
      return absl::StrCat(r.rule(), ": record deleted after ", r.max_age_days(),
                          " days without update");
    case FieldRetention::ANONYMIZED:
      return absl::StrCat(r.rule(), ": emptied after ", r.max_age_days(),
                          " days without update");
    case FieldRetention::KEPT:
      return absl::StrCat(r.rule(), ": kept");
    case FieldRetention::EFFECT_UNSPECIFIED:
    case crm::v1::FieldRetention_Effect_FieldRetention_Effect_INT_MIN_SENTINEL_DO_NOT_USE_:
    case crm::v1::FieldRetention_Effect_FieldRetention_Effect_INT_MAX_SENTINEL_DO_NOT_USE_:
      break;
  }
  return "";
}

std::string ErasureText(crm::v1::ErasureTreatment e) {
  switch (e) {
    case crm::v1::ERASURE_DELETES_RECORD:
      return "record deleted";
    case crm::v1::ERASURE_ANONYMIZES_FIELD:
      return "emptied";
    case crm::v1::ERASURE_KEEPS_FIELD:
      return "kept";
    case crm::v1::ERASURE_NO_RULE:
      return "kept (no rule)";
    case crm::v1::ERASURE_TREATMENT_UNSPECIFIED:
    case crm::v1::ErasureTreatment_INT_MIN_SENTINEL_DO_NOT_USE_:
    case crm::v1::ErasureTreatment_INT_MAX_SENTINEL_DO_NOT_USE_:
      break;
  }
  return "";
}

std::string AtRestText(const InventoryField& f) {
  if (!f.encrypted_at_rest()) return "plain";
  return f.blind_index() ? "encrypted; lookup by blind index" : "encrypted";
}

std::string PersonalText(const InventoryField& f) {
  if (!f.personal()) return "no";
  std::vector<std::string> why;
  if (f.sensitive()) why.push_back("sensitive");
  if (!f.consent_channel().empty()) {
    why.push_back(absl::StrCat("channel ", f.consent_channel()));
  }
  return why.empty() ? "yes" : absl::StrCat("yes (", absl::StrJoin(why, ", "),
                                            ")");
}

std::string FlagsText(const InventoryField& f) {
  std::vector<std::string> out;
  for (int flag : f.flags()) {
    out.push_back(InventoryFlagText(static_cast<crm::v1::InventoryFlag>(flag)));
  }
  return absl::StrJoin(out, "; ");
}

std::string Joined(const google::protobuf::RepeatedPtrField<std::string>& v,
                   const char* sep) {
  return absl::StrJoin(v, sep);
}

std::string Totals(int fields, int personal, int encrypted, int flagged) {
  return absl::StrCat("Fields: ", fields, "; personal: ", personal,
                      "; encrypted at rest: ", encrypted,
                      "; flagged: ", flagged, ".\n");
}

int Encrypted(const InventoryObject& o) {
  int n = 0;
  for (const InventoryField& f : o.fields()) n += f.encrypted_at_rest();
  return n;
}

void ObjectMarkdown(const InventoryObject& o, std::string* out) {
  absl::StrAppend(out, "\n## ", o.object(), "\n\n",
                  Totals(o.fields_size(), o.personal_fields(), Encrypted(o),
                         o.flagged_fields()),
                  "\n");
  if (o.consent_subject()) {
    absl::StrAppend(
        out, "- Consent: its records are people, who give or refuse consent",
        o.consent_purposes().empty()
            ? ""
            : absl::StrCat(" for ", Joined(o.consent_purposes(), ", ")),
        "; recorded by ",
        o.consent_sources().empty() ? "editors of the record only"
                                    : Joined(o.consent_sources(), ", "),
        ".\n");
  }
  if (o.retention_rules().empty()) {
    absl::StrAppend(out, "- Retention: no rule; records are kept until "
                         "deleted.\n");
  }
  for (const crm::v1::RetentionRule& r : o.retention_rules()) {
    absl::StrAppend(out, "- Retention `", r.name(), "`: ",
                    ActionText(r.action()), " records not updated for ",
                    r.max_age_days(), " days",
                    r.fields().empty()
                        ? ""
                        : absl::StrCat(" (", Joined(r.fields(), ", "), ")"),
                    ".\n");
  }
  if (!o.has_erasure_rule()) {
    absl::StrAppend(out, "- Erasure on request: no rule; records are kept.\n");
  } else {
    const auto& e = o.erasure_rule();
    absl::StrAppend(
        out, "- Erasure on request: ", ActionText(e.action()),
        e.fields().empty() ? " the record"
                           : absl::StrCat(" ", Joined(e.fields(), ", ")),
        ".\n");
  }
  absl::StrAppend(out, "\n",
                  Header({"Field", "Personal", "Purposes", "Sources",
                          "At rest", "Retention", "Erasure", "Findings"}));
  for (const InventoryField& f : o.fields()) {
    std::vector<std::string> retention;
    for (const FieldRetention& r : f.retention()) {
      retention.push_back(RetentionText(r));
    }
    absl::StrAppend(
        out,
        Row({f.name(), PersonalText(f),
             f.server_set() ? "set by the CRM (record keeping)"
                            : Joined(f.purposes(), "; "),
             f.server_set() ? "CRM" : Joined(f.sources(), ", "), AtRestText(f),
             absl::StrJoin(retention, "; "), ErasureText(f.erasure()),
             FlagsText(f)}));
  }
}

}  // namespace

std::string InventoryFlagText(crm::v1::InventoryFlag flag) {
  switch (flag) {
    case crm::v1::NO_SOURCE:
      return "no source registered";
    case crm::v1::NO_PURPOSE:
      return "no purpose recorded";
    case crm::v1::SOURCES_NOT_REGISTERED:
      return "sources not registered";
    case crm::v1::PERSONAL_KEPT_ON_ERASURE:
      return "personal, kept on erasure";
    case crm::v1::PERSONAL_NO_RETENTION:
      return "personal, no retention limit";
    case crm::v1::INVENTORY_FLAG_UNSPECIFIED:
    case crm::v1::InventoryFlag_INT_MIN_SENTINEL_DO_NOT_USE_:
    case crm::v1::InventoryFlag_INT_MAX_SENTINEL_DO_NOT_USE_:
      break;
  }
  return absl::StrCat("flag ", static_cast<int>(flag));
}

std::string DataInventoryMarkdown(const DataInventory& inv) {
  std::string out = absl::StrCat(
      "# What we hold and why\n\nGenerated ",
      google::protobuf::util::TimeUtil::ToString(inv.generate_time()),
      " from policy version ", inv.policy_version(), ". Objects: ",
      inv.objects_size(), ".\n",
      Totals(inv.total_fields(), inv.personal_fields(), inv.encrypted_fields(),
             inv.flagged_fields()));
  absl::StrAppend(&out, "\n## Sources\n\n");
  if (!inv.sources_registered()) {
    absl::StrAppend(&out,
                    "No data source is registered: any service may write any "
                    "field, and no purpose is recorded.\n");
  } else {
    absl::StrAppend(&out, Header({"Source", "Kind", "Service", "Purpose",
                                  "Writes", "Records consent of"}));
    for (const InventorySource& s : inv.sources()) {
      absl::StrAppend(
          &out,
          Row({s.display_name().empty()
                   ? s.name()
                   : absl::StrCat(s.display_name(), " (", s.name(), ")"),
               absl::StrCat(KindText(s.kind()), s.implicit() ? ", implicit" : ""),
               s.service(),
               s.purpose().empty() ? "(no purpose recorded)" : s.purpose(),
               Joined(s.objects(), ", "), Joined(s.consent_objects(), ", ")}));
    }
  }
  if (!inv.consent_purposes().empty()) {
    absl::StrAppend(&out, "\nConsent is asked for these purposes: ",
                    Joined(inv.consent_purposes(), ", "), ".\n");
  }
  for (const InventoryObject& o : inv.objects()) ObjectMarkdown(o, &out);
  return out;
}

std::string DataInventoryCsv(const DataInventory& inv) {
  absl::flat_hash_map<std::string, const InventorySource*> by_name;
  for (const InventorySource& s : inv.sources()) by_name[s.name()] = &s;
  std::string out = CsvLine(
      {"object", "field", "type", "server_set", "personal", "sensitive",
       "encrypted_at_rest", "blind_index", "consent_channel", "purposes",
       "consent_purposes", "sources", "retention", "erasure", "flags"});
  auto yes = [](bool b) { return std::string(b ? "yes" : "no"); };
  for (const InventoryObject& o : inv.objects()) {
    for (const InventoryField& f : o.fields()) {
      std::vector<std::string> sources;
      for (const std::string& name : f.sources()) {
        auto it = by_name.find(name);
        sources.push_back(
            it == by_name.end()
                ? name
                : absl::StrCat(name, " (", KindText(it->second->kind()), ", ",
                               it->second->service(), ")"));
      }
      std::vector<std::string> retention;
      for (const FieldRetention& r : f.retention()) {
        retention.push_back(RetentionText(r));
      }
      out += CsvLine({o.object(), f.name(), f.type(), yes(f.server_set()),
                      yes(f.personal()), yes(f.sensitive()),
                      yes(f.encrypted_at_rest()), yes(f.blind_index()),
                      f.consent_channel(), Joined(f.purposes(), "; "),
                      Joined(f.consent_purposes(), "; "),
                      absl::StrJoin(sources, "; "),
                      absl::StrJoin(retention, "; "), ErasureText(f.erasure()),
                      FlagsText(f)});
    }
  }
  return out;
}

}  // namespace crm::client
