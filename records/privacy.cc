#include "records/privacy.h"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/random/random.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "audit/call_scope.h"
#include "audit/diff.h"
#include "audit/erasure_receipt.h"
#include "crypto/blind_index.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/json_util.h"
#include "model/record.h"
#include "model/resource_name.h"
#include "records/record_access.h"
#include "store/consent_store.h"
#include "store/privacy_store.h"
#include "store/provenance_store.h"

namespace crm::records {
namespace {

using crm::v1::ErasedRecord;
using crm::v1::ErasureRule;
using model::ObjectSchema;
using policy::Operation;

constexpr char kPseudonymField[] = "privacy.subject";
constexpr char kErasedText[] = "[erased]";
constexpr char kReceiptPrefix[] = "erasureReceipts/";
// History entries exported per record (the newest are dropped beyond it).
constexpr int kHistoryLimit = 10000;

const ObjectSchema& Schema(absl::string_view collection) {
  return *model::SchemaRegistry::Default().Find(collection);
}

std::string Normalize(absl::string_view identifier) {
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(identifier));
}

// The person's own records (contacts, leads) and those related to them.
struct SubjectRecord {
  const ObjectSchema* schema = nullptr;
  model::Record record;
  std::string name;
};

struct Subject {
  std::vector<SubjectRecord> records;  // persons first, then related
  // Normalized e-mails and phones of the person, and their record names.
  std::set<std::string> identifiers;
};

std::string TextValue(const ObjectSchema& schema, const model::Record& r,
                      absl::string_view field) {
  const int i = schema.FieldIndex(field);
  if (i < 0) return "";
  if (const auto* s = std::get_if<std::string>(&r.values[i])) return *s;
  return "";
}

// Finds the subject's records on `session`: the contacts and leads named
// by the identifier (or by the e-mail and phone of the record it names),
// then the activities regarding them and the cases of the contacts.
absl::StatusOr<Subject> Resolve(store::Session& session, const Deps& deps,
                                absl::string_view subject) {
  const ObjectSchema& contacts = Schema("contacts");
  const ObjectSchema& leads = Schema("leads");
  std::set<std::string> seeds;
  Subject out;
  std::map<std::string, SubjectRecord> persons;  // by name
  auto load = [&](const ObjectSchema& schema,
                  const std::string& id) -> absl::Status {
    const std::string name = schema.ResourceName(id);
    if (persons.count(name) > 0) return absl::OkStatus();
    auto got = deps.records->Get(session, schema, id);
    if (!got.ok()) return got.status();
    if (!got->has_value()) return absl::OkStatus();
    persons[name] = SubjectRecord{&schema, **std::move(got), name};
    return absl::OkStatus();
  };
  if (absl::StrContains(subject, '/')) {
    auto parsed = model::ParseResourceName(
        subject, {contacts.collection(), leads.collection()}, "subject");
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "subject: '", subject,
          "' is neither an e-mail address or phone number nor a contact or "
          "lead name (contacts/{id}, leads/{id})"));
    }
    if (absl::Status s = load(Schema(parsed->collection), parsed->id);
        !s.ok()) {
      return s;
    }
    for (const auto& [name, p] : persons) {
      for (const char* f : {"email", "phone"}) {
        std::string v = Normalize(TextValue(*p.schema, p.record, f));
        if (!v.empty()) seeds.insert(v);
      }
    }
  } else {
    seeds.insert(Normalize(subject));
  }
  for (const std::string& seed : seeds) {
    for (const ObjectSchema* schema : {&contacts, &leads}) {
      auto ids = store::PrivacyStore::FindByFields(session, *schema,
                                                   {"email", "phone"}, seed);
      if (!ids.ok()) return ids.status();
      for (const std::string& id : *ids) {
        if (absl::Status s = load(*schema, id); !s.ok()) return s;
      }
    }
  }
  std::vector<std::string> person_names, contact_names;
  for (auto& [name, p] : persons) {
    out.identifiers.insert(name);
    for (const char* f : {"email", "phone"}) {
      std::string v = Normalize(TextValue(*p.schema, p.record, f));
      if (!v.empty()) out.identifiers.insert(v);
    }
    person_names.push_back(name);
    if (p.schema == &contacts) contact_names.push_back(name);
    out.records.push_back(std::move(p));
  }
  const std::pair<const char*, const std::vector<std::string>*> related[] = {
      {"activities", &person_names}, {"cases", &contact_names}};
  for (const auto& [collection, names] : related) {
    const ObjectSchema& schema = Schema(collection);
    const char* field =
        schema.collection() == "activities" ? "regarding" : "contact";
    auto ids =
        store::PrivacyStore::FindByReference(session, schema, field, *names);
    if (!ids.ok()) return ids.status();
    auto got = deps.records->GetAll(session, schema, *ids);
    if (!got.ok()) return got.status();
    for (model::Record& r : *got) {
      std::string name = schema.ResourceName(r.id);
      out.records.push_back(
          SubjectRecord{&schema, std::move(r), std::move(name)});
    }
  }
  return out;
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone());
}

std::string MicrosText(int64_t micros) {
  return audit::JsonString(Rfc3339(absl::FromUnixMicros(micros)));
}

std::string WriterJson(const store::FieldWriter& w) {
  return absl::StrCat(
      "\"source\":", audit::JsonString(w.source),
      ",\"service\":", audit::JsonString(w.service),
      ",\"actor\":", audit::JsonString(w.actor),
      ",\"requestId\":", audit::JsonString(w.request_id),
      ",\"writeTime\":", MicrosText(w.written_at));
}

// The consent held for one of the subject's records (contacts and leads),
// as a JSON array: each entry with its history, oldest change first.
// `entries`: the record's current entries (ConsentStore::GetAll).
absl::StatusOr<std::string> ConsentSection(
    store::Session& session, const ObjectSchema& schema, const std::string& id,
    const std::vector<store::ConsentRow>& entries) {
  if (entries.empty()) return std::string("[]");
  auto history = store::ConsentStore::History(session, schema.collection(),
                                              id, 0, 100000);
  if (!history.ok()) return history.status();
  std::string out = "[";
  for (const store::ConsentRow& e : entries) {
    if (out.size() > 1) out += ",";
    absl::StrAppend(
        &out, "{\"channel\":", audit::JsonString(e.channel),
        ",\"purpose\":", audit::JsonString(e.purpose),
        ",\"state\":", audit::JsonString(e.state),
        ",\"source\":", audit::JsonString(e.source),
        ",\"service\":", audit::JsonString(e.service),
        ",\"actor\":", audit::JsonString(e.actor),
        ",\"requestId\":", audit::JsonString(e.request_id),
        ",\"updateTime\":", MicrosText(e.updated_at), ",\"history\":[");
    bool first = true;
    for (const store::ConsentChangeRow& c : *history) {
      if (c.entry.channel != e.channel || c.entry.purpose != e.purpose) {
        continue;
      }
      absl::StrAppend(
          &out, first ? "" : ",", "{\"sequence\":", c.sequence,
          ",\"state\":", audit::JsonString(c.entry.state),
          ",\"previousState\":", audit::JsonString(c.previous_state),
          ",\"source\":", audit::JsonString(c.entry.source),
          ",\"actor\":", audit::JsonString(c.entry.actor),
          ",\"time\":", MicrosText(c.entry.updated_at), "}");
      first = false;
    }
    out += "]}";
  }
  out += "]";
  return out;
}

absl::Status AppendAudit(const Deps& deps, store::Session& session,
                         crm::v1::AuditEvent event) {
  if (deps.audit == nullptr) return absl::OkStatus();
  audit::FillFromCall(&event);
  std::vector<crm::v1::AuditEvent> events;
  events.push_back(std::move(event));
  return deps.audit->AppendInTransaction(session, std::move(events));
}

const ErasureRule* RuleFor(const crm::v1::ErasureRules& rules,
                           absl::string_view collection) {
  for (const ErasureRule& r : rules.rules()) {
    if (r.object() == collection) return &r;
  }
  return nullptr;
}

std::string NewReceiptId() {
  absl::BitGen gen;
  std::string raw(12, '\0');
  for (char& c : raw) c = static_cast<char>(absl::Uniform<uint8_t>(gen));
  return absl::BytesToHexString(raw);
}

absl::Status DecodeReceipt(const store::ReceiptRow& row,
                           crm::v1::ErasureReceipt* out) {
  std::string bytes;
  if (!absl::Base64Unescape(row.receipt, &bytes) ||
      !out->ParseFromString(bytes)) {
    return absl::InternalError(
        absl::StrCat("erasure receipt ", row.id, " is unreadable"));
  }
  return absl::OkStatus();
}

absl::Status LoadReceipt(store::Session& session, const std::string& id,
                         crm::v1::ErasureReceipt* out) {
  auto row = store::PrivacyStore::GetReceipt(session, id);
  if (!row.ok()) return row.status();
  if (!row->has_value()) {
    return absl::NotFoundError(
        absl::StrCat(kReceiptPrefix, id, " not found"));
  }
  return DecodeReceipt(**row, out);
}

// ABORTED for a conditional write of `records` (the versions they were
// read at) that matched fewer rows than it named: names the first record
// found changed (still there after a delete; updated = true: not at the
// next version after an update), or the object if none can be told.
absl::Status LostRace(store::Session& session, const Deps& deps,
                      const ObjectSchema& schema,
                      const std::vector<store::RecordVersion>& records,
                      bool updated) {
  std::string which = absl::StrCat("a record of ", schema.collection());
  std::vector<std::string> ids;
  for (const store::RecordVersion& r : records) ids.push_back(r.id);
  auto now = deps.records->GetAll(session, schema, ids);
  if (now.ok()) {
    std::map<std::string, int64_t> versions;
    for (const model::Record& r : *now) versions[r.id] = r.version;
    for (const store::RecordVersion& r : records) {
      auto it = versions.find(r.id);
      const bool changed = updated ? it == versions.end() ||
                                         it->second != r.version + 1
                                   : it != versions.end();
      if (changed) {
        which = schema.ResourceName(r.id);
        break;
      }
    }
  }
  return absl::AbortedError(absl::StrCat(
      which, " changed during the erasure; nothing was erased; retry"));
}

// What erasure does (dry run) or did to `records`, all of `schema`, in
// their order (nullopt: nothing of the person was left in it). With
// `apply`, does it on `session`: a few statements per chunk of records
// (shares, history, provenance, the records themselves), not per record.
absl::StatusOr<std::vector<std::optional<ErasedRecord>>> EraseRecords(
    store::Session& session, const Deps& deps, const ErasureRule& rule,
    const ObjectSchema& schema, const std::vector<model::Record>& records,
    bool apply) {
  std::vector<std::optional<ErasedRecord>> out;
  if (records.empty()) return out;
  const std::string& collection = schema.collection();
  std::vector<std::string> ids;
  std::vector<store::RecordVersion> versions;
  for (const model::Record& r : records) {
    ids.push_back(r.id);
    versions.push_back({r.id, r.version});
  }
  std::vector<std::string> fields;
  if (rule.action() == ErasureRule::ANONYMIZE) {
    fields.assign(rule.fields().begin(), rule.fields().end());
  }
  auto shares = apply
                    ? store::PrivacyStore::RemoveShares(session, collection, ids)
                    : store::PrivacyStore::CountShares(session, collection, ids);
  if (!shares.ok()) return shares.status();
  auto history = store::PrivacyStore::CountHistoryValues(session, collection,
                                                         ids, fields);
  if (!history.ok()) return history.status();
  auto count = [](const std::map<std::string, int64_t>& m,
                  const std::string& id) -> int64_t {
    auto it = m.find(id);
    return it == m.end() ? 0 : it->second;
  };
  for (const model::Record& r : records) {
    ErasedRecord e;
    e.set_record(schema.ResourceName(r.id));
    if (rule.action() == ErasureRule::ANONYMIZE) {
      e.set_action(ErasedRecord::ANONYMIZED);
      for (const std::string& f : fields) e.add_fields(f);
    } else {
      e.set_action(ErasedRecord::DELETED);
    }
    e.set_shares_removed(count(*shares, r.id));
    e.set_history_scrubbed(count(*history, r.id));
    out.push_back(std::move(e));
  }
  if (!apply) return out;

  if (rule.action() == ErasureRule::DELETE) {
    if (absl::Status s =
            store::ProvenanceStore::ForgetAll(session, collection, ids);
        !s.ok()) {
      return s;
    }
    auto deleted = deps.records->DeleteAllIfVersion(session, schema, versions);
    if (!deleted.ok()) return deleted.status();
    if (*deleted != static_cast<int64_t>(versions.size())) {
      return LostRace(session, deps, schema, versions, /*updated=*/false);
    }
    return out;
  }
  auto scrubbed = store::PrivacyStore::ScrubHistoryValues(session, collection,
                                                          ids, fields);
  if (!scrubbed.ok()) return scrubbed.status();
  // The values every anonymized record gets (the same for all).
  model::Record erased = records[0];
  std::vector<int> indexes;
  for (const std::string& f : fields) {
    const int i = schema.FieldIndex(f);
    erased.values[i] = std::string(schema.fields()[i].required ? kErasedText
                                                               : "");
    indexes.push_back(i);
  }
  std::vector<store::RecordVersion> changed;
  for (size_t k = 0; k < records.size(); ++k) {
    bool differs = false;
    for (int i : indexes) differs |= records[k].values[i] != erased.values[i];
    if (differs) {
      changed.push_back(versions[k]);
    } else if (out[k]->history_scrubbed() == 0 &&
               out[k]->shares_removed() == 0) {
      out[k].reset();  // nothing of the person left
    }
  }
  if (changed.empty()) return out;
  const int ut = schema.FieldIndex("update_time");
  if (ut >= 0) {
    erased.values[ut] = absl::ToUnixMicros(deps.clock->Now());
    indexes.push_back(ut);
  }
  auto updated = deps.records->UpdateAllIfVersion(session, schema, changed,
                                                  indexes, erased);
  if (!updated.ok()) return updated.status();
  if (*updated != static_cast<int64_t>(changed.size())) {
    return LostRace(session, deps, schema, changed, /*updated=*/true);
  }
  return out;
}

// Consecutive records of one schema in `records` (the subject's are
// grouped: persons, then activities, then cases): calls fn(schema,
// begin, end) for each run, stopping at the first error.
absl::Status ForEachSchemaRun(
    const std::vector<SubjectRecord>& records,
    const std::function<absl::Status(const ObjectSchema&, size_t, size_t)>&
        fn) {
  for (size_t begin = 0; begin < records.size();) {
    size_t end = begin + 1;
    while (end < records.size() && records[end].schema == records[begin].schema) {
      ++end;
    }
    if (absl::Status s = fn(*records[begin].schema, begin, end); !s.ok()) {
      return s;
    }
    begin = end;
  }
  return absl::OkStatus();
}

// Appends one exported record to the document's sections: the record as
// JSON (fields it may not read cleared) to records[collection], and its
// provenance, history and consent (from the run's maps) to the others.
absl::Status RenderRecord(
    store::Session& session, const ObjectSchema& schema,
    const policy::FieldAccess& access,
    const std::vector<std::string>& readable, const model::Record& record,
    const std::map<std::string, std::vector<store::ProvenanceRow>>& prov,
    const std::map<std::string, std::vector<store::HistoryRow>>& hist,
    const std::map<std::string, std::vector<store::ConsentRow>>& held,
    const google::protobuf::util::JsonPrintOptions& json,
    std::map<std::string, std::vector<std::string>>* records,
    std::string* provenance, std::string* history, std::string* consent) {
  const std::string name = schema.ResourceName(record.id);
  std::unique_ptr<google::protobuf::Message> message(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(schema.descriptor())
          ->New());
  model::RecordToMessage(schema, record, message.get());
  for (size_t i = 0; i < schema.fields().size(); ++i) {
    if (!access.CanRead(static_cast<int>(i))) {
      message->GetReflection()->ClearField(message.get(),
                                           schema.fields()[i].descriptor);
    }
  }
  std::string text;
  if (!google::protobuf::util::MessageToJsonString(*message, &text, json)
           .ok()) {
    return absl::InternalError(
        absl::StrCat("could not render ", name, " as JSON"));
  }
  (*records)[schema.collection()].push_back(std::move(text));

  std::string entries;
  if (auto it = prov.find(record.id); it != prov.end()) {
    for (const store::ProvenanceRow& row : it->second) {
      if (std::find(readable.begin(), readable.end(), row.field) ==
          readable.end()) {
        continue;
      }
      absl::StrAppend(&entries, entries.empty() ? "" : ",",
                      "{\"field\":", audit::JsonString(row.field), ",",
                      WriterJson(row.writer), "}");
    }
  }
  absl::StrAppend(provenance, provenance->empty() ? "" : ",",
                  audit::JsonString(name), ":[", entries, "]");

  entries.clear();
  if (auto it = hist.find(record.id); it != hist.end()) {
    for (const store::HistoryRow& row : it->second) {
      absl::StrAppend(&entries, entries.empty() ? "" : ",",
                      "{\"sequence\":", row.version,
                      ",\"field\":", audit::JsonString(row.field),
                      ",\"operation\":", audit::JsonString(row.operation));
      if (row.value_recorded) {
        absl::StrAppend(&entries, ",\"value\":", audit::JsonString(row.value));
      }
      absl::StrAppend(&entries, ",", WriterJson(row.writer), "}");
    }
  }
  absl::StrAppend(history, history->empty() ? "" : ",",
                  audit::JsonString(name), ":[", entries, "]");

  static const std::vector<store::ConsentRow> kNone;
  auto it = held.find(record.id);
  auto section = ConsentSection(session, schema, record.id,
                                it == held.end() ? kNone : it->second);
  if (!section.ok()) return section.status();
  absl::StrAppend(consent, consent->empty() ? "" : ",",
                  audit::JsonString(name), ":", *section);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PrivacyKeys> PrivacyKeys::Create(const crypto::MasterKey& master,
                                                const audit::Signer* signer) {
  auto key = crypto::DeriveBlindIndexKey(master, kPseudonymField);
  if (!key.ok()) return key.status();
  return PrivacyKeys(*std::move(key), signer);
}

std::string PrivacyKeys::Pseudonym(absl::string_view identifier) const {
  return absl::StrCat("subjects/",
                      crypto::BlindIndex(key_, Normalize(identifier)));
}

const crm::v1::ErasureRules& DefaultErasureRules() {
  static const auto* rules = [] {
    auto* r = new crm::v1::ErasureRules();
    auto add = [&](const char* object, ErasureRule::Action action,
                   std::vector<const char*> fields) {
      ErasureRule* rule = r->add_rules();
      rule->set_object(object);
      rule->set_action(action);
      for (const char* f : fields) rule->add_fields(f);
    };
    add("contacts", ErasureRule::ANONYMIZE,
        {"first_name", "last_name", "email", "phone", "title", "mailing_city",
         "personal_phone", "description", "personal_email"});
    add("leads", ErasureRule::ANONYMIZE,
        {"first_name", "last_name", "company", "email", "phone",
         "description"});
    add("activities", ErasureRule::DELETE, {});
    add("cases", ErasureRule::ANONYMIZE, {"subject", "description"});
    return r;
  }();
  return *rules;
}

absl::Status ValidateErasureRules(const crm::v1::ErasureRules& rules) {
  for (const ErasureRule& rule : rules.rules()) {
    const ObjectSchema* schema =
        model::SchemaRegistry::Default().Find(rule.object());
    if (schema == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "erasure rule: unknown object '", rule.object(), "'"));
    }
    if (rule.action() == ErasureRule::DELETE) {
      if (rule.fields_size() > 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "erasure rule for ", rule.object(),
            ": DELETE erases the whole record; list no fields"));
      }
      continue;
    }
    if (rule.action() != ErasureRule::ANONYMIZE) {
      return absl::InvalidArgumentError(absl::StrCat(
          "erasure rule for ", rule.object(),
          ": action must be DELETE or ANONYMIZE"));
    }
    for (const std::string& f : rule.fields()) {
      const model::FieldSchema* field = schema->FindField(f);
      if (field == nullptr || field->kind != model::FieldKind::kString ||
          field->output_only || !field->references.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "erasure rule for ", rule.object(), ": '", f,
            "' is not a writable text field of ", schema->singular()));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ExportSubject(const Deps& deps, const policy::Evaluator& eval,
                           const PrivacyKeys& keys,
                           const crm::v1::ExportSubjectRequest& request,
                           crm::v1::ExportSubjectResponse* response) {
  if (Normalize(request.subject()).empty()) {
    return absl::InvalidArgumentError(
        "subject: required: an e-mail address, a phone number, or "
        "contacts/{id} or leads/{id}");
  }
  const std::string pseudonym = keys.Pseudonym(request.subject());
  // Sections, built on one session.
  std::map<std::string, std::vector<std::string>> records;  // by collection
  std::string provenance, history, consent, accessed;
  std::vector<std::string> names;
  absl::Status s = deps.database->WithSession([&](store::Session& session) {
    auto subject = Resolve(session, deps, request.subject());
    if (!subject.ok()) return subject.status();
    google::protobuf::util::JsonPrintOptions json;
    json.preserve_proto_field_names = true;
    absl::Status rendered = ForEachSchemaRun(
        subject->records,
        [&](const ObjectSchema& schema, size_t begin,
            size_t end) -> absl::Status {
          if (!eval.AllowsObject(schema, Operation::kRead)) {
            return absl::OkStatus();
          }
          std::vector<model::Record> run;
          for (size_t i = begin; i < end; ++i) {
            run.push_back(subject->records[i].record);
          }
          auto loaded = LoadFacts(session, deps, eval, schema, std::move(run));
          if (!loaded.ok()) return loaded.status();
          std::vector<const LoadedRecord*> visible;
          std::vector<std::string> ids;
          for (const LoadedRecord& l : *loaded) {
            if (!eval.AllowsRecord(schema, Operation::kRead, l.Facts())) {
              continue;  // hidden: left out, never named
            }
            visible.push_back(&l);
            ids.push_back(l.record.id);
          }
          const policy::FieldAccess access = eval.Fields(schema);
          std::vector<std::string> readable;
          for (size_t i = 0; i < schema.fields().size(); ++i) {
            if (access.CanRead(static_cast<int>(i))) {
              readable.push_back(schema.fields()[i].name);
            }
          }
          // Provenance, history and consent of the whole run: one
          // statement each per chunk of records.
          auto prov = store::ProvenanceStore::ProvenanceOf(
              session, schema.collection(), ids);
          if (!prov.ok()) return prov.status();
          auto hist = store::ProvenanceStore::HistoryOf(
              session, schema.collection(), ids, readable, kHistoryLimit);
          if (!hist.ok()) return hist.status();
          auto held =
              store::ConsentStore::GetAll(session, schema.collection(), ids);
          if (!held.ok()) return held.status();
          for (const LoadedRecord* l : visible) {
            absl::Status s = RenderRecord(
                session, schema, access, readable, l->record, *prov, *hist,
                *held, json, &records, &provenance, &history, &consent);
            if (!s.ok()) return s;
            names.push_back(schema.ResourceName(l->record.id));
          }
          return absl::OkStatus();
        });
    if (!rendered.ok()) return rendered;
    auto actors = store::PrivacyStore::AuditActors(session, names);
    if (!actors.ok()) return actors.status();
    std::map<std::string, std::vector<const store::AuditActorRow*>> by_actor;
    std::vector<std::string> order;
    for (const store::AuditActorRow& row : *actors) {
      std::string who =
          row.actor_user.empty() ? row.actor_service
                                 : absl::StrCat(row.actor_user, " via ",
                                                row.actor_service);
      if (who.empty()) who = "server";
      if (by_actor.count(who) == 0) order.push_back(who);
      by_actor[who].push_back(&row);
    }
    for (const std::string& who : order) {
      int64_t first = INT64_MAX, last = 0, events = 0;
      std::string actions;
      for (const store::AuditActorRow* row : by_actor[who]) {
        first = std::min(first, row->first_time);
        last = std::max(last, row->last_time);
        events += row->events;
        absl::StrAppend(&actions, actions.empty() ? "" : ",",
                        audit::JsonString(row->action));
      }
      absl::StrAppend(&accessed, accessed.empty() ? "" : ",",
                      "{\"principal\":", audit::JsonString(who),
                      ",\"actions\":[", actions,
                      "],\"firstTime\":", MicrosText(first),
                      ",\"lastTime\":", MicrosText(last),
                      ",\"events\":", events, "}");
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;

  std::string doc = absl::StrCat(
      "{\"subject\":", audit::JsonString(pseudonym),
      ",\"exportTime\":", audit::JsonString(Rfc3339(deps.clock->Now())),
      ",\"records\":{");
  bool first = true;
  for (const char* collection : {"contacts", "leads", "activities", "cases"}) {
    absl::StrAppend(&doc, first ? "" : ",", "\"", collection, "\":[");
    first = false;
    const auto& list = records[collection];
    for (size_t i = 0; i < list.size(); ++i) {
      absl::StrAppend(&doc, i == 0 ? "" : ",", list[i]);
    }
    doc += "]";
    (*response->mutable_record_counts())[collection] =
        static_cast<int64_t>(list.size());
  }
  absl::StrAppend(&doc, "},\"provenance\":{", provenance, "},\"fieldHistory\":{",
                  history, "},\"consent\":{", consent, "},\"accessedBy\":[",
                  accessed, "]}");
  response->set_subject(pseudonym);
  response->set_document(std::move(doc));

  // Audited before it is answered: an export that cannot be recorded is
  // not given.
  crm::v1::AuditEvent event;
  event.set_action("privacy.export");
  event.set_resource(pseudonym);
  event.set_outcome(crm::v1::ALLOWED);
  for (const auto& [collection, n] : response->record_counts()) {
    (*event.mutable_attributes())[absl::StrCat("count.", collection)] =
        absl::StrCat(n);
  }
  return deps.database->InTransaction([&](store::Session& session) {
    return AppendAudit(deps, session, event);
  });
}

absl::Status EraseSubject(const Deps& deps, const PrivacyKeys& keys,
                          const crm::v1::ErasureRules& rules,
                          const crm::v1::EraseSubjectRequest& request,
                          crm::v1::EraseSubjectResponse* response) {
  if (Normalize(request.subject()).empty()) {
    return absl::InvalidArgumentError(
        "subject: required: an e-mail address, a phone number, or "
        "contacts/{id} or leads/{id}");
  }
  const std::string pseudonym = keys.Pseudonym(request.subject());
  auto body = [&](store::Session& session) -> absl::Status {
    response->Clear();
    response->set_subject(pseudonym);
    response->set_dry_run(request.dry_run());
    auto known = store::PrivacyStore::FindErasure(session, pseudonym);
    if (!known.ok()) return known.status();
    if (known->has_value()) {
      response->set_already_erased(true);
      return LoadReceipt(session, **known, response->mutable_receipt());
    }
    auto subject = Resolve(session, deps, request.subject());
    if (!subject.ok()) return subject.status();
    crm::v1::ErasureReceipt receipt;
    absl::Status erased_all = ForEachSchemaRun(
        subject->records,
        [&](const ObjectSchema& schema, size_t begin,
            size_t end) -> absl::Status {
          const ErasureRule* rule = RuleFor(rules, schema.collection());
          if (rule == nullptr) return absl::OkStatus();
          std::vector<model::Record> run;
          for (size_t i = begin; i < end; ++i) {
            run.push_back(subject->records[i].record);
          }
          auto erased = EraseRecords(session, deps, *rule, schema, run,
                                     !request.dry_run());
          if (!erased.ok()) return erased.status();
          for (std::optional<ErasedRecord>& e : *erased) {
            if (!e.has_value()) continue;
            *(request.dry_run() ? response->add_would_erase()
                                : receipt.add_records()) = *std::move(e);
          }
          return absl::OkStatus();
        });
    if (!erased_all.ok()) return erased_all;
    if (request.dry_run()) return absl::OkStatus();

    const std::string id = NewReceiptId();
    const absl::Time now = deps.clock->Now();
    receipt.set_name(absl::StrCat(kReceiptPrefix, id));
    receipt.set_subject(pseudonym);
    const int64_t micros = absl::ToUnixMicros(now);
    receipt.mutable_erase_time()->set_seconds(micros / 1000000);
    receipt.mutable_erase_time()->set_nanos(
        static_cast<int32_t>(micros % 1000000) * 1000);
    receipt.set_statement(audit::ErasureReceiptStatement(receipt));
    receipt.set_signature(keys.signer().Sign(receipt.statement()));
    receipt.set_public_key_pem(keys.signer().public_key().pem());
    receipt.set_key_id(keys.signer().public_key().key_id());

    std::set<std::string> pseudonyms = {pseudonym};
    for (const std::string& ident : subject->identifiers) {
      pseudonyms.insert(keys.Pseudonym(ident));
    }
    store::ReceiptRow row{id, pseudonym, micros,
                          absl::Base64Escape(receipt.SerializeAsString())};
    if (absl::Status s = store::PrivacyStore::StoreErasure(
            session, row, {pseudonyms.begin(), pseudonyms.end()});
        !s.ok()) {
      return s;
    }
    crm::v1::AuditEvent event;
    event.set_action("privacy.erase");
    event.set_resource(pseudonym);
    event.set_outcome(crm::v1::ALLOWED);
    auto& a = *event.mutable_attributes();
    a["receipt"] = receipt.name();
    std::map<std::string, int64_t> counts;
    for (const ErasedRecord& r : receipt.records()) {
      const std::string collection =
          r.record().substr(0, r.record().find('/'));
      ++counts[absl::StrCat(
          r.action() == ErasedRecord::DELETED ? "deleted." : "anonymized.",
          collection)];
    }
    for (const auto& [k, n] : counts) a[k] = absl::StrCat(n);
    if (absl::Status s = AppendAudit(deps, session, std::move(event));
        !s.ok()) {
      return s;
    }
    *response->mutable_receipt() = std::move(receipt);
    return absl::OkStatus();
  };
  if (request.dry_run()) return deps.database->WithSession(body);
  if (absl::Status s = deps.database->InTransaction(body); !s.ok()) return s;
  if (response->already_erased()) return absl::OkStatus();
  // The erasure is committed; the checkpoint only shortens how long the
  // old pages stay in SQLite's log, so its failure is not the caller's.
  deps.database
      ->WithSession([](store::Session& session) {
        return store::PrivacyStore::CheckpointAfterErasure(session).status();
      })
      .IgnoreError();
  return absl::OkStatus();
}

namespace {

// One retention run at a time in this process (the PostgreSQL lock covers
// the other servers).
absl::Mutex& RetentionMutex() {
  static auto* mu = new absl::Mutex();
  return *mu;
}

ErasureRule AsErasureRule(const crm::v1::RetentionRule& rule) {
  ErasureRule out;
  out.set_object(rule.object());
  out.set_action(rule.action());
  *out.mutable_fields() = rule.fields();
  return out;
}

std::vector<std::string> AnonymizedFields(const crm::v1::RetentionRule& r) {
  if (r.action() != ErasureRule::ANONYMIZE) return {};
  return {r.fields().begin(), r.fields().end()};
}

int64_t Cutoff(const Deps& deps, const crm::v1::RetentionRule& rule) {
  return absl::ToUnixMicros(deps.clock->Now() -
                            absl::Hours(24) * rule.max_age_days());
}

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t micros = absl::ToUnixMicros(t);
  out->set_seconds(micros / 1000000);
  out->set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
}

std::string Encode(const google::protobuf::Message& m) {
  return absl::Base64Escape(m.SerializeAsString());
}

// One batch of `rule`: up to `batch` candidates after *after_id processed
// and audited in one transaction. Sets *candidates and *done, and moves
// *after_id to the batch's last candidate (every candidate is changed by
// its batch, so none is left behind it).
absl::Status RetentionBatch(const Deps& deps,
                            const crm::v1::RetentionRule& rule, int64_t cutoff,
                            int batch, const std::string& run_name,
                            std::string* after_id, int64_t* candidates,
                            int64_t* done) {
  const ObjectSchema& schema = Schema(rule.object());
  const ErasureRule erasure = AsErasureRule(rule);
  const std::vector<std::string> fields = AnonymizedFields(rule);
  return deps.database->InTransaction([&](store::Session& session) {
    *candidates = 0;
    *done = 0;
    auto ids = store::PrivacyStore::RetentionCandidates(
        session, schema, cutoff, fields, kErasedText, *after_id, batch);
    if (!ids.ok()) return ids.status();
    *candidates = static_cast<int64_t>(ids->size());
    if (!ids->empty()) *after_id = ids->back();
    auto got = deps.records->GetAll(session, schema, *ids);
    if (!got.ok()) return got.status();
    auto erased =
        EraseRecords(session, deps, erasure, schema, *got, /*apply=*/true);
    if (!erased.ok()) return erased.status();
    for (const std::optional<ErasedRecord>& e : *erased) {
      if (e.has_value()) ++*done;
    }
    if (*done == 0) return absl::OkStatus();
    crm::v1::AuditEvent event;
    event.set_action("privacy.retention");
    event.set_resource(run_name);
    event.set_outcome(crm::v1::ALLOWED);
    auto& a = *event.mutable_attributes();
    a["rule"] = rule.name();
    a["object"] = rule.object();
    a["action"] = ErasureRule::Action_Name(rule.action());
    a["records"] = absl::StrCat(*done);
    return AppendAudit(deps, session, std::move(event));
  });
}

}  // namespace

absl::Status ValidateRetentionRules(const RetentionRules& rules) {
  std::set<std::string> names;
  for (const crm::v1::RetentionRule& rule : rules) {
    if (rule.name().empty() || !names.insert(rule.name()).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "retention rule '", rule.name(),
          "': every rule needs a name of its own"));
    }
    if (rule.max_age_days() < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "retention rule '", rule.name(), "': max_age_days must be >= 1"));
    }
    crm::v1::ErasureRules one;
    *one.add_rules() = AsErasureRule(rule);
    if (absl::Status s = ValidateErasureRules(one); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "retention rule '", rule.name(), "': ", s.message()));
    }
    if (rule.action() == ErasureRule::ANONYMIZE && rule.fields().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "retention rule '", rule.name(), "': ANONYMIZE needs fields"));
    }
  }
  return absl::OkStatus();
}

absl::Status PreviewRetention(const Deps& deps, const RetentionRules& rules,
                              crm::v1::RetentionReport* report) {
  SetTime(deps.clock->Now(), report->mutable_as_of());
  return deps.database->WithSession([&](store::Session& session) {
    report->clear_rules();
    for (const crm::v1::RetentionRule& rule : rules) {
      const ObjectSchema& schema = Schema(rule.object());
      const int64_t cutoff = Cutoff(deps, rule);
      const std::vector<std::string> fields = AnonymizedFields(rule);
      auto n = store::PrivacyStore::CountRetentionCandidates(
          session, schema, cutoff, fields, kErasedText);
      if (!n.ok()) return n.status();
      auto sample = store::PrivacyStore::RetentionCandidates(
          session, schema, cutoff, fields, kErasedText, "", 10);
      if (!sample.ok()) return sample.status();
      crm::v1::RetentionRuleResult* out = report->add_rules();
      out->set_rule(rule.name());
      out->set_object(rule.object());
      out->set_records(*n);
      for (const std::string& id : *sample) {
        out->add_sample(schema.ResourceName(id));
      }
    }
    return absl::OkStatus();
  });
}

absl::Status RunRetention(const Deps& deps, const RetentionRules& rules,
                          const RetentionOptions& options,
                          crm::v1::RetentionRun* run) {
  absl::Mutex& mu = RetentionMutex();
  if (!mu.TryLock()) {
    return absl::FailedPreconditionError(
        "a retention run is in progress on this server; see "
        "ListRetentionRuns");
  }
  absl::Cleanup unlock = [&mu] { mu.Unlock(); };
  const int batch = options.batch_size > 0 ? options.batch_size : 500;
  return deps.database->WithSession([&](store::Session& lock) -> absl::Status {
    auto locked = store::PrivacyStore::TryRetentionLock(lock);
    if (!locked.ok()) return locked.status();
    if (!*locked) {
      return absl::FailedPreconditionError(
          "a retention run is in progress on another server; see "
          "ListRetentionRuns");
    }
    const std::string id = NewReceiptId();
    run->Clear();
    run->set_name(absl::StrCat("retentionRuns/", id));
    run->set_trigger(options.trigger);
    const absl::Time start = deps.clock->Now();
    SetTime(start, run->mutable_start_time());
    run->set_outcome("RUNNING");
    store::RetentionRunRow row{id, absl::ToUnixMicros(start), 0, Encode(*run)};
    absl::Status s = store::PrivacyStore::InsertRetentionRun(lock, row);
    for (const crm::v1::RetentionRule& rule : rules) {
      if (!s.ok()) break;
      crm::v1::RetentionRuleResult* result = run->add_rules();
      result->set_rule(rule.name());
      result->set_object(rule.object());
      // One cutoff per rule and run: records that age meanwhile wait for
      // the next run.
      const int64_t cutoff = Cutoff(deps, rule);
      std::string after_id;
      for (;;) {
        if (options.stop && options.stop()) {
          s = absl::CancelledError("the retention run was stopped");
          break;
        }
        int64_t candidates = 0, done = 0;
        s = RetentionBatch(deps, rule, cutoff, batch, run->name(), &after_id,
                           &candidates, &done);
        if (!s.ok() || candidates == 0) break;
        run->set_batches(run->batches() + 1);
        result->set_records(result->records() + done);
        if (done == 0) break;  // nothing left it may change
        if (options.pause > absl::ZeroDuration()) absl::SleepFor(options.pause);
      }
    }
    const absl::Time end = deps.clock->Now();
    SetTime(end, run->mutable_end_time());
    run->set_outcome(s.ok() ? "OK" : absl::StatusCodeToString(s.code()));
    row.finished_at = std::max<int64_t>(absl::ToUnixMicros(end), 1);
    row.run = Encode(*run);
    absl::Status finished = store::PrivacyStore::FinishRetentionRun(lock, row);
    absl::Status released = store::PrivacyStore::ReleaseRetentionLock(lock);
    // As after an erasure: the old pages leave SQLite's log (best effort).
    store::PrivacyStore::CheckpointAfterErasure(lock).status().IgnoreError();
    if (!s.ok()) return s;
    if (!finished.ok()) return finished;
    return released;
  });
}

absl::Status ListRetentionRuns(const Deps& deps,
                               const crm::v1::ListRetentionRunsRequest& request,
                               crm::v1::ListRetentionRunsResponse* response) {
  int limit = request.page_size();
  if (limit < 0 || limit > 100) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_size: ", limit, " is out of range; use 1-100 (0 means 20)"));
  }
  if (limit == 0) limit = 20;
  return deps.database->WithSession([&](store::Session& session) {
    auto rows = store::PrivacyStore::ListRetentionRuns(session, limit);
    if (!rows.ok()) return rows.status();
    for (const store::RetentionRunRow& row : *rows) {
      std::string bytes;
      crm::v1::RetentionRun* run = response->add_runs();
      if (!absl::Base64Unescape(row.run, &bytes) ||
          !run->ParseFromString(bytes)) {
        return absl::InternalError(
            absl::StrCat("retention run ", row.id, " is unreadable"));
      }
    }
    return absl::OkStatus();
  });
}

absl::Status GetErasureReceipt(const Deps& deps,
                               const crm::v1::GetErasureReceiptRequest& request,
                               crm::v1::ErasureReceipt* response) {
  absl::string_view id = request.name();
  if (!absl::ConsumePrefix(&id, kReceiptPrefix) || id.empty() ||
      absl::StrContains(id, '/')) {
    return absl::InvalidArgumentError(absl::StrCat(
        "name: expected erasureReceipts/{id}, got '", request.name(), "'"));
  }
  return deps.database->WithSession([&](store::Session& session) {
    return LoadReceipt(session, std::string(id), response);
  });
}

}  // namespace crm::records
