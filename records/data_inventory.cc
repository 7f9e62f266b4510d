#include "records/data_inventory.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/object_schema.h"
#include "model/record.h"

namespace crm::records {
namespace {

using crm::v1::DataInventory;
using crm::v1::ErasureRule;
using crm::v1::FieldRetention;
using crm::v1::InventoryField;
using crm::v1::InventoryObject;
using crm::v1::InventorySource;

const char* KindName(model::FieldKind kind) {
  switch (kind) {
    case model::FieldKind::kString:
      return "string";
    case model::FieldKind::kInt64:
      return "int64";
    case model::FieldKind::kDouble:
      return "double";
    case model::FieldKind::kBool:
      return "bool";
    case model::FieldKind::kEnum:
      return "enum";
    case model::FieldKind::kTimestamp:
      return "timestamp";
  }
  return "unknown";
}

void SortUnique(std::vector<std::string>* v) {
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

bool Lists(const google::protobuf::RepeatedPtrField<std::string>& fields,
           const std::string& name) {
  return std::find(fields.begin(), fields.end(), name) != fields.end();
}

// Every purpose a principal of the policy is marked with.
std::vector<std::string> ConsentPurposes(const policy::CompiledPolicy& p) {
  std::vector<std::string> out;
  for (const auto& [name, service] : p.services) {
    out.insert(out.end(), service.purposes.begin(), service.purposes.end());
  }
  for (const policy::CompiledPermissionSet& set : p.permission_sets) {
    if (!set.purpose.empty()) out.push_back(set.purpose);
  }
  SortUnique(&out);
  return out;
}

// The sources, and per [object][field] (and per object, for consent) the
// indexes into them of those that may write it.
struct SourceMap {
  std::vector<InventorySource> sources;
  std::vector<std::vector<std::vector<int>>> writers;  // [object][field]
  std::vector<std::vector<int>> consent;               // [object]
};

SourceMap MapSources(const policy::CompiledPolicy& p) {
  SourceMap m;
  m.writers.resize(p.objects.size());
  m.consent.resize(p.objects.size());
  for (size_t o = 0; o < p.objects.size(); ++o) {
    m.writers[o].resize(p.objects[o].schema->fields().size());
  }
  for (const policy::CompiledDataSource& d : p.data_sources) {
    const int index = static_cast<int>(m.sources.size());
    InventorySource& s = m.sources.emplace_back();
    s.set_name(d.name);
    s.set_display_name(d.display_name);
    s.set_kind(d.kind);
    s.set_service(d.service);
    s.set_purpose(d.purpose);
    for (const auto& [o, fields] : d.writes) {
      if (!fields.empty()) {
        s.add_objects(p.objects[o].schema->collection());
      }
      for (int f : fields) m.writers[o][f].push_back(index);
    }
    for (int o : d.consent_objects) {
      s.add_consent_objects(p.objects[o].schema->collection());
      m.consent[o].push_back(index);
    }
  }
  // With the source rule on, a user acting through a service with no data
  // source writes as its implicit "interactions" source, within the
  // service's scope (policy.proto "Data sources"). With the rule off there
  // is no source at all.
  if (p.data_sources.empty()) return m;
  std::vector<const policy::CompiledService*> services;
  for (const auto& [name, service] : p.services) {
    if (service.source_of.empty()) services.push_back(&service);
  }
  std::sort(services.begin(), services.end(), [](const auto* a, const auto* b) {
    return a->resource_name < b->resource_name;
  });
  for (const policy::CompiledService* service : services) {
    InventorySource s;
    s.set_name(absl::StrCat("interactions:", service->resource_name));
    s.set_display_name(absl::StrCat("Users through ", service->resource_name));
    s.set_kind(crm::v1::INTERACTIONS);
    s.set_service(service->resource_name);
    s.set_implicit(true);
    const int index = static_cast<int>(m.sources.size());
    for (size_t o = 0; o < p.objects.size(); ++o) {
      const policy::ObjectPermissions scope = service->Scope(o);
      if (!scope.create && !scope.edit) continue;
      s.add_objects(p.objects[o].schema->collection());
      const auto& fields = p.objects[o].schema->fields();
      for (size_t f = 0; f < fields.size(); ++f) {
        if (!fields[f].output_only) m.writers[o][f].push_back(index);
      }
    }
    if (!s.objects().empty()) m.sources.push_back(std::move(s));
  }
  return m;
}

FieldRetention RetentionOf(const crm::v1::RetentionRule& rule,
                           const std::string& field) {
  FieldRetention r;
  r.set_rule(rule.name());
  r.set_max_age_days(rule.max_age_days());
  r.set_action(rule.action());
  if (rule.action() == ErasureRule::DELETE) {
    r.set_effect(FieldRetention::DELETED_WITH_RECORD);
  } else {
    r.set_effect(Lists(rule.fields(), field) ? FieldRetention::ANONYMIZED
                                             : FieldRetention::KEPT);
  }
  return r;
}

crm::v1::ErasureTreatment ErasureOf(const ErasureRule* rule,
                                    const std::string& field) {
  if (rule == nullptr) return crm::v1::ERASURE_NO_RULE;
  if (rule->action() == ErasureRule::DELETE) {
    return crm::v1::ERASURE_DELETES_RECORD;
  }
  return Lists(rule->fields(), field) ? crm::v1::ERASURE_ANONYMIZES_FIELD
                                      : crm::v1::ERASURE_KEEPS_FIELD;
}

// The flags of *f, once everything else of it is set.
void AddFlags(bool sources_registered, InventoryField* f) {
  if (f->server_set()) return;
  if (!sources_registered) {
    f->add_flags(crm::v1::SOURCES_NOT_REGISTERED);
  } else if (f->sources().empty()) {
    f->add_flags(crm::v1::NO_SOURCE);
  } else if (f->purposes().empty()) {
    f->add_flags(crm::v1::NO_PURPOSE);
  }
  if (f->personal()) {
    if (f->erasure() == crm::v1::ERASURE_KEEPS_FIELD ||
        f->erasure() == crm::v1::ERASURE_NO_RULE) {
      f->add_flags(crm::v1::PERSONAL_KEPT_ON_ERASURE);
    }
    if (f->retention().empty()) f->add_flags(crm::v1::PERSONAL_NO_RETENTION);
  }
}

// One field: what it is, who writes it and why, what retention and
// erasure do to it, and its flags.
void FillField(const model::FieldSchema& field, const SourceMap& m,
               const std::vector<int>& writers,
               const std::vector<std::string>& consent_purposes,
               const std::vector<const crm::v1::RetentionRule*>& rules,
               const ErasureRule* erasure_rule, bool sources_registered,
               InventoryField* f) {
  f->set_name(field.name);
  f->set_type(KindName(field.kind));
  f->set_server_set(field.output_only);
  f->set_sensitive(field.sensitive);
  f->set_encrypted_at_rest(field.sensitive);
  f->set_blind_index(field.blind_index);
  f->set_consent_channel(field.consent_channel);
  std::vector<std::string> purposes;
  if (!field.output_only) {  // the CRM sets it, whoever writes the record
    for (int s : writers) {
      f->add_sources(m.sources[s].name());
      if (!m.sources[s].purpose().empty()) {
        purposes.push_back(m.sources[s].purpose());
      }
    }
  }
  SortUnique(&purposes);
  for (std::string& purpose : purposes) f->add_purposes(std::move(purpose));
  for (const std::string& purpose : consent_purposes) {
    f->add_consent_purposes(purpose);
  }
  bool anonymized_by_retention = false;
  for (const crm::v1::RetentionRule* rule : rules) {
    FieldRetention* r = f->add_retention();
    *r = RetentionOf(*rule, field.name);
    anonymized_by_retention |= r->effect() == FieldRetention::ANONYMIZED;
  }
  f->set_erasure(ErasureOf(erasure_rule, field.name));
  // What the erasure rule deletes with the record (activities regarding
  // the person) is about the person too; what the CRM stamps is not.
  f->set_personal(
      field.sensitive || !field.consent_channel.empty() ||
      f->erasure() == crm::v1::ERASURE_ANONYMIZES_FIELD ||
      (f->erasure() == crm::v1::ERASURE_DELETES_RECORD && !field.output_only) ||
      anonymized_by_retention);
  AddFlags(sources_registered, f);
}

void BuildObject(const policy::CompiledPolicy& p, int o, const SourceMap& m,
                 const std::vector<std::string>& consent_purposes,
                 const crm::v1::ErasureRules& erasure,
                 const RetentionRules& retention, InventoryObject* out) {
  const model::ObjectSchema& schema = *p.objects[o].schema;
  out->set_object(schema.collection());
  out->set_singular(schema.singular());
  out->set_consent_subject(schema.consent_subject());
  if (schema.consent_subject()) {
    for (const std::string& purpose : consent_purposes) {
      out->add_consent_purposes(purpose);
    }
    for (int s : m.consent[o]) {
      out->add_consent_sources(m.sources[s].name());
    }
  }
  std::vector<const crm::v1::RetentionRule*> rules;
  for (const crm::v1::RetentionRule& rule : retention) {
    if (rule.object() == schema.collection()) {
      rules.push_back(&rule);
      *out->add_retention_rules() = rule;
    }
  }
  const ErasureRule* erasure_rule = nullptr;
  for (const ErasureRule& rule : erasure.rules()) {
    if (rule.object() == schema.collection()) erasure_rule = &rule;
  }
  if (erasure_rule != nullptr) *out->mutable_erasure_rule() = *erasure_rule;

  static const auto* const kNoPurposes = new std::vector<std::string>();
  const std::vector<std::string>& governed =
      schema.consent_subject() ? consent_purposes : *kNoPurposes;
  const auto& fields = schema.fields();
  for (size_t i = 0; i < fields.size(); ++i) {
    InventoryField* f = out->add_fields();
    FillField(fields[i], m, m.writers[o][i], governed, rules, erasure_rule,
              !p.data_sources.empty(), f);
    if (f->personal()) out->set_personal_fields(out->personal_fields() + 1);
    if (!f->flags().empty()) {
      out->set_flagged_fields(out->flagged_fields() + 1);
    }
  }
}

}  // namespace

absl::Status BuildDataInventory(const policy::PolicySnapshot& snapshot,
                                const crm::v1::ErasureRules& erasure,
                                const RetentionRules& retention,
                                const crm::v1::GetDataInventoryRequest& request,
                                absl::Time now, DataInventory* out) {
  const policy::CompiledPolicy& p = snapshot.compiled();
  std::vector<bool> wanted(p.objects.size(), request.objects().empty());
  for (const std::string& object : request.objects()) {
    const int o = p.ObjectIndex(object);
    if (o < 0) {
      std::vector<std::string> known;
      for (const auto& obj : p.objects) {
        known.push_back(obj.schema->collection());
      }
      return absl::InvalidArgumentError(
          absl::StrCat("objects: unknown object '", object,
                       "'; the objects are ", absl::StrJoin(known, ", ")));
    }
    wanted[o] = true;
  }
  out->Clear();
  out->set_policy_version(snapshot.version());
  model::SetTimestampMicros(absl::ToUnixMicros(now),
                            out->mutable_generate_time());
  out->set_sources_registered(!p.data_sources.empty());
  SourceMap m = MapSources(p);
  const std::vector<std::string> consent_purposes = ConsentPurposes(p);
  for (const std::string& purpose : consent_purposes) {
    out->add_consent_purposes(purpose);
  }
  for (size_t o = 0; o < p.objects.size(); ++o) {
    if (!wanted[o]) continue;
    InventoryObject* object = out->add_objects();
    BuildObject(p, static_cast<int>(o), m, consent_purposes, erasure,
                retention, object);
    out->set_total_fields(out->total_fields() + object->fields_size());
    out->set_personal_fields(out->personal_fields() +
                             object->personal_fields());
    out->set_flagged_fields(out->flagged_fields() + object->flagged_fields());
    for (const InventoryField& f : object->fields()) {
      if (f.encrypted_at_rest()) {
        out->set_encrypted_fields(out->encrypted_fields() + 1);
      }
    }
  }
  for (InventorySource& s : m.sources) *out->add_sources() = std::move(s);
  return absl::OkStatus();
}

}  // namespace crm::records
