#include "records/record_ops.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/log.h"
#include "google/protobuf/field_mask.pb.h"
#include "base/error.h"
#include "model/record.h"
#include "model/resource_name.h"
#include "model/validation.h"
#include "query/checked_filter.h"
#include "query/order_by.h"
#include "records/list_plan.h"
#include "records/pagination.h"
#include "records/record_access.h"
#include "records/record_audit.h"
#include "store/consent_store.h"
#include "store/policy_store.h"
#include "store/provenance_store.h"
#include "store/record_store.h"

namespace crm::records {
namespace {

using google::protobuf::Message;
using model::FieldSchema;
using model::ObjectSchema;
using model::Record;
using policy::Evaluator;
using policy::Operation;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;
// Attempts of an unconditional Update/Delete that keeps losing a race with
// other writers (each attempt re-reads and re-checks the record), with a
// growing, jittered pause between attempts so racing writers spread out.
constexpr int kMaxWriteAttempts = 24;

void BackOff(int attempt) {
  thread_local absl::BitGen bitgen;
  absl::SleepFor(absl::Microseconds(
      absl::Uniform<int64_t>(bitgen, 0, 200 * int64_t{attempt + 1})));
}

std::string StringField(const Message& m, const char* name) {
  const auto* f = m.GetDescriptor()->FindFieldByName(name);
  return f == nullptr ? std::string() : m.GetReflection()->GetString(m, f);
}

int32_t Int32Field(const Message& m, const char* name) {
  const auto* f = m.GetDescriptor()->FindFieldByName(name);
  return f == nullptr ? 0 : m.GetReflection()->GetInt32(m, f);
}

// The resource in a Create/Update request (field 1 by convention).
const Message& ResourceOf(const Message& request) {
  return request.GetReflection()->GetMessage(
      request, request.GetDescriptor()->FindFieldByNumber(1));
}

std::string NewRecordId() {
  unsigned char bytes[12];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) abort();  // no safe fallback
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

int FieldIndexOrDie(const ObjectSchema& schema, const char* name) {
  int i = schema.FieldIndex(name);
  if (i < 0) abort();  // ObjectSchema::FromDescriptor guarantees these
  return i;
}

// Whether `v` is the proto3 default of `field` (empty string, the enum's
// first value, zero): on Create, a field with its default was not given.
bool IsDefaultValue(const FieldSchema& field, const model::SqlValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) {
    return s->empty() ||
           (field.kind == model::FieldKind::kEnum &&
            field.descriptor->enum_type()->value(0)->name() == *s);
  }
  if (const auto* i = std::get_if<int64_t>(&v)) return *i == 0;
  if (const auto* d = std::get_if<double>(&v)) return *d == 0.0;
  return true;
}

// AIP-155 request ids: see "Idempotent creates" in crm_service.proto.
constexpr size_t kMaxRequestIdLength = 64;

absl::Status ValidateRequestId(const std::string& id) {
  bool ok = id.size() <= kMaxRequestIdLength;
  for (char c : id) {
    ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                c == '.' || c == '_' || c == '-');
  }
  if (ok) return absl::OkStatus();
  // The value is not echoed: it may be long or not even UTF-8.
  return absl::InvalidArgumentError(absl::StrCat(
      "request_id: must be at most ", kMaxRequestIdLength,
      " characters of A-Z, a-z, 0-9, '.', '_' and '-' (a UUID fits); got ",
      id.size(), " bytes that are not"));
}

// The hex SHA-256 of what a Create asks for: the non-default values of the
// creatable `fields` of `input`, each with its field name. It does not
// depend on how the client serialized the message, nor on fields added to
// the resource later (an older client leaves them default), so a retry of
// the same create always matches and a different create never does.
std::string CreateBodyHash(const ObjectSchema& schema,
                           const std::vector<int>& fields,
                           const Message& input) {
  std::string canonical;
  for (int i : fields) {
    const FieldSchema& field = schema.fields()[i];
    model::SqlValue v = model::FieldValue(field, input);
    if (IsDefaultValue(field, v)) continue;
    std::string repr;
    if (const auto* s = std::get_if<std::string>(&v)) {
      repr = *s;
    } else if (const auto* n = std::get_if<int64_t>(&v)) {
      repr = absl::StrCat(*n);
    } else if (const auto* d = std::get_if<double>(&v)) {
      uint64_t bits = 0;
      std::memcpy(&bits, d, sizeof(bits));
      repr = absl::StrCat(bits);
    }
    // Length-prefixed, so no two different bodies encode alike.
    absl::StrAppend(&canonical, field.name.size(), ":", field.name, v.index(),
                    ":", repr.size(), ":", repr, ";");
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(canonical.data()),
         canonical.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

// Clears every field the principal may not read.
void MaskUnreadable(const Evaluator& eval, const ObjectSchema& schema,
                    Message* message) {
  const auto* reflection = message->GetReflection();
  const policy::FieldAccess access = eval.Fields(schema);
  const auto& fields = schema.fields();
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!access.CanRead(static_cast<int>(i))) {
      reflection->ClearField(message, fields[i].descriptor);
    }
  }
}

// Clears the fields of the consent channels in `channels`.
void MaskChannels(const ObjectSchema& schema,
                  const std::vector<std::string>& channels, Message* message) {
  if (channels.empty()) return;
  const auto* reflection = message->GetReflection();
  for (const FieldSchema& field : schema.fields()) {
    if (field.consent_channel.empty()) continue;
    if (std::find(channels.begin(), channels.end(), field.consent_channel) !=
        channels.end()) {
      reflection->ClearField(message, field.descriptor);
    }
  }
}

class Request {
 public:
  Request(const ObjectSchema& schema, const Deps& deps, const Evaluator& eval)
      : schema_(schema), deps_(deps), eval_(eval) {}

  absl::Status Get(const Message& request, Message* response,
                   std::string* grant);
  absl::Status List(const Message& request, Message* response);
  absl::Status Create(const Message& request, Message* response);
  absl::Status Update(const Message& request, Message* response);
  absl::Status Delete(const Message& request);

 private:
  // Shadow evaluation of a List (policy/shadow.h): when the candidate's
  // record filter differs from the live one, runs the same page under it;
  // each record only one of the two pages holds is then decided by both
  // (a point decision, compared like any other).
  absl::Status CompareListWithShadow(store::Session& session,
                                     const query::CheckedFilter& filter,
                                     const std::vector<model::OrderTerm>& order,
                                     const model::SqlFragment& after,
                                     int32_t page_size,
                                     const std::vector<Record>& live) const;
  absl::StatusOr<std::string> ParseName(const std::string& name) const {
    auto parsed =
        model::ParseResourceName(name, {schema_.collection()}, "name");
    if (!parsed.ok()) return parsed.status();
    return parsed->id;
  }
  absl::Status CheckObject(Operation op) const {
    // The reason is only built for a refusal.
    if (eval_.AllowsObject(schema_, op)) return absl::OkStatus();
    return policy::ToStatus(eval_.CheckObject(schema_, op),
                            policy::DenialKind::kObject);
  }
  // Refuses writing any of `fields` that the principal may not write.
  absl::Status CheckFieldWrites(const std::vector<int>& fields,
                                const Message& input, bool only_set) const;
  // Refuses writing any of `fields` that no data source of the principal
  // may write (the source rule, Evaluator::CheckSourceWrite), before
  // anything is written. `only_set` as for CheckFieldWrites.
  absl::Status CheckSourceWrites(const std::vector<int>& fields,
                                 const Message& input, bool only_set) const;
  // The provenance of a write of `fields` (those given, with only_set, for
  // a Create) of `input`: one entry per field, each with its source.
  std::vector<store::FieldWrite> ProvenanceOf(const std::vector<int>& fields,
                                              const Message& input,
                                              bool only_set) const;
  store::FieldWriter Writer(int64_t now) const {
    return {"", absl::StrCat("services/", eval_.principal().service),
            eval_.principal().ResourceName(),
            std::string(base::CurrentRequestId()), now};
  }
  // Every reference field among `fields` must name a record the principal
  // can see (a hidden one is reported exactly like a missing one).
  absl::Status CheckReferences(store::Session& session,
                               const std::vector<int>& fields,
                               const Message& input) const;
  // Reads a record for a write and checks the principal may see it and
  // perform `op` on it.
  absl::StatusOr<LoadedRecord> LoadForWrite(store::Session& session,
                                            const std::string& id,
                                            Operation op) const;
  // ABORTED if the client's etag (if any) is not the current version.
  absl::Status CheckEtag(const std::string& id, std::optional<int64_t> expected,
                         int64_t current) const {
    if (!expected.has_value() || *expected == current) return absl::OkStatus();
    return base::StaleEtagError(schema_.ResourceName(id),
                                model::EtagOf(*expected),
                                model::EtagOf(current));
  }
  // `masked`: consent channels whose fields are masked for the principal
  // (Evaluator::MaskedChannels).
  void Respond(const Record& record, Message* response,
               const std::vector<std::string>& masked = {}) const {
    model::RecordToMessage(schema_, record, response);
    MaskUnreadable(eval_, schema_, response);
    MaskChannels(schema_, masked, response);
  }

  const ObjectSchema& schema_;
  const Deps& deps_;
  const Evaluator& eval_;
};

absl::Status Request::CheckFieldWrites(const std::vector<int>& fields,
                                       const Message& input,
                                       bool only_set) const {
  for (int i : fields) {
    const FieldSchema& field = schema_.fields()[i];
    // On Create, writing a field means giving it a non-default value.
    if (only_set && IsDefaultValue(field, model::FieldValue(field, input))) {
      continue;
    }
    policy::Decision d = eval_.CheckFieldWrite(schema_, field);
    if (!d.allowed) {
      return policy::ToStatus(d, policy::DenialKind::kField);
    }
  }
  return absl::OkStatus();
}

absl::Status Request::CheckSourceWrites(const std::vector<int>& fields,
                                        const Message& input,
                                        bool only_set) const {
  for (int i : fields) {
    const FieldSchema& field = schema_.fields()[i];
    if (only_set && IsDefaultValue(field, model::FieldValue(field, input))) {
      continue;
    }
    if (eval_.AllowsSourceWrite(schema_, field)) continue;
    return policy::ToStatus(eval_.CheckSourceWrite(schema_, field),
                            policy::DenialKind::kSource);
  }
  return absl::OkStatus();
}

std::vector<store::FieldWrite> Request::ProvenanceOf(
    const std::vector<int>& fields, const Message& input,
    bool only_set) const {
  std::vector<store::FieldWrite> out;
  out.reserve(fields.size());
  for (int i : fields) {
    const FieldSchema& field = schema_.fields()[i];
    model::SqlValue v = model::FieldValue(field, input);
    if (only_set && IsDefaultValue(field, v)) continue;
    store::FieldWrite w;
    w.field = field.name;
    w.source = eval_.SourceOf(schema_, field);
    // A sensitive field's value is encrypted at rest: never copied here.
    w.value_recorded = !field.sensitive;
    if (w.value_recorded) {
      if (const auto* s = std::get_if<std::string>(&v)) {
        w.value = *s;
      } else if (const auto* n = std::get_if<int64_t>(&v)) {
        w.value = absl::StrCat(*n);
      } else if (const auto* d = std::get_if<double>(&v)) {
        w.value = absl::StrCat(*d);
      }
    }
    out.push_back(std::move(w));
  }
  return out;
}

absl::Status Request::CheckReferences(store::Session& session,
                                      const std::vector<int>& fields,
                                      const Message& input) const {
  for (int i : fields) {
    const FieldSchema& field = schema_.fields()[i];
    if (field.references.empty()) continue;
    std::string value = std::get<std::string>(model::FieldValue(field, input));
    if (value.empty()) continue;
    auto name = model::ParseResourceName(
        value, field.references,
        absl::StrCat(schema_.singular(), ".", field.name));
    if (!name.ok()) return name.status();
    const ObjectSchema* target =
        model::SchemaRegistry::Default().Find(name->collection);
    auto not_found = absl::NotFoundError(absl::StrCat(
        schema_.singular(), ".", field.name, ": ", value, " not found"));
    if (target == nullptr) return not_found;
    auto loaded = LoadRecord(session, deps_, eval_, *target, name->id);
    if (!loaded.ok()) return loaded.status();
    if (!loaded->has_value() ||
        !eval_.AllowsRecord(*target, Operation::kRead, (*loaded)->Facts())) {
      return not_found;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<LoadedRecord> Request::LoadForWrite(store::Session& session,
                                                   const std::string& id,
                                                   Operation op) const {
  // NOT_FOUND if missing or hidden; PERMISSION_DENIED if visible but `op` is
  // refused (that reveals nothing new).
  return LoadRecordFor(session, deps_, eval_, schema_, id, op);
}

absl::Status Request::Get(const Message& request, Message* response,
                          std::string* grant) {
  auto id = ParseName(StringField(request, "name"));
  if (!id.ok()) return id.status();
  if (absl::Status s = CheckObject(Operation::kRead); !s.ok()) return s;
  std::optional<LoadedRecord> loaded;
  absl::Status s = deps_.database->WithSession([&](store::Session& session) {
    auto r = LoadRecord(session, deps_, eval_, schema_, *id);
    if (!r.ok()) return r.status();
    loaded = *std::move(r);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (!loaded.has_value()) return policy::RecordNotFound(schema_.ResourceName(*id));
  if (!eval_.AllowsRecord(schema_, Operation::kRead, loaded->Facts())) {
    // Hidden: byte-identical to missing for the caller (policy/decision.h);
    // the decision note carries the rule to the log and the audit trail.
    return policy::ToStatus(CheckLoaded(eval_, schema_, Operation::kRead, *loaded),
                            policy::DenialKind::kRecord,
                            schema_.ResourceName(*id));
  }
  if (grant != nullptr) {
    // The explaining twin, only when asked (reads audited as "all").
    *grant = CheckLoaded(eval_, schema_, Operation::kRead, *loaded).rule;
  }
  Respond(loaded->record, response,
          eval_.MaskedChannels(schema_, ConsentFacts(loaded->consents)));
  return absl::OkStatus();
}

absl::Status Request::CompareListWithShadow(
    store::Session& session, const query::CheckedFilter& filter,
    const std::vector<model::OrderTerm>& order, const model::SqlFragment& after,
    int32_t page_size, const std::vector<Record>& live) const {
  const Evaluator* shadow = eval_.shadow();
  if (shadow == nullptr) return absl::OkStatus();
  policy::ShadowSink& sink = *eval_.shadow_sink();
  // The same filter selects the same records: nothing to run.
  const model::SqlFragment mine =
      eval_.RecordFilter(schema_, Operation::kRead, {}, nullptr, &filter);
  const model::SqlFragment theirs =
      shadow->RecordFilter(schema_, Operation::kRead, {}, nullptr, &filter);
  if (mine.sql == theirs.sql && mine.params == theirs.params) {
    sink.Agreed();
    return absl::OkStatus();
  }
  // Else the page the candidate would have served, by the same query.
  auto q = PlanList(session, *deps_.records, *shadow, schema_, filter, order,
                    after, page_size + 1);
  if (!q.ok()) return q.status();
  auto other = deps_.records->List(session, schema_, *q);
  if (!other.ok()) return other.status();
  const size_t n = static_cast<size_t>(page_size);
  std::set<std::string> live_ids, shadow_ids;
  for (size_t i = 0; i < live.size() && i < n; ++i) live_ids.insert(live[i].id);
  for (size_t i = 0; i < other->size() && i < n; ++i) {
    shadow_ids.insert((*other)[i].id);
  }
  if (live_ids == shadow_ids) {
    sink.Agreed();
    return absl::OkStatus();
  }
  // A record on one page only is hidden by the other policy, or pushed
  // across the page's edge by one that is: each is decided by both policies
  // (AllowsRecord compares, and reports a disagreement with both rules).
  for (const std::set<std::string>* ids : {&live_ids, &shadow_ids}) {
    const std::set<std::string>& others =
        ids == &live_ids ? shadow_ids : live_ids;
    for (const std::string& id : *ids) {
      if (others.count(id) > 0) continue;
      auto loaded = LoadRecord(session, deps_, eval_, schema_, id);
      if (!loaded.ok()) return loaded.status();
      if (loaded->has_value()) {
        eval_.AllowsRecord(schema_, Operation::kRead, (*loaded)->Facts());
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Request::List(const Message& request, Message* response) {
  if (absl::Status s = CheckObject(Operation::kRead); !s.ok()) return s;

  // Every problem of page_size, filter and order_by is reported at once.
  base::BadRequestBuilder bad;
  int32_t page_size = Int32Field(request, "page_size");
  if (page_size < 0 || page_size > kMaxPageSize) {
    bad.Add("page_size",
            absl::StrCat(page_size, " is out of range; use 1-", kMaxPageSize,
                         " (0 means ", kDefaultPageSize, ")"));
  }
  if (page_size == 0) page_size = kDefaultPageSize;
  // Unreadable fields may be neither filtered nor sorted on: either would
  // reveal their values (an unreadable field is reported as unknown).
  // Nor, for a principal marked with a purpose, may a consent channel's
  // field (masked per record where the person opted out of the channel).
  const bool consent = eval_.ConsentApplies(schema_);
  query::FieldAccess readable = [this, consent](const FieldSchema& field) {
    if (consent && !field.consent_channel.empty()) return false;
    return eval_.CanReadField(schema_, field);
  };
  // Equality on a blind-indexed encrypted field compares index columns;
  // the store holds the keys (store/field_encryption.h).
  query::BlindIndexer blind_index;
  if (const store::FieldEncryption* enc = deps_.records->encryption();
      enc != nullptr) {
    blind_index = [enc](const model::ObjectSchema& schema,
                        const FieldSchema& field,
                        absl::string_view normalized) {
      return enc->BlindIndex(schema, field, normalized);
    };
  }
  auto filter = query::ParseAndCheckFilter(StringField(request, "filter"),
                                           schema_, readable, &blind_index);
  if (!filter.ok()) bad.Add("filter", filter.status());
  auto order =
      query::ParseOrderBy(StringField(request, "order_by"), schema_, readable);
  if (!order.ok()) bad.Add("order_by", order.status());
  if (!bad.empty()) return bad.Build();
  auto normalized_filter =
      query::NormalizeFilter(StringField(request, "filter"));
  if (!normalized_filter.ok()) return normalized_filter.status();
  std::string query_hash =
      query::PageTokenCodec::QueryHash(schema_.collection(), *normalized_filter,
                                       query::NormalizeOrderBy(*order));

  model::SqlFragment after;  // the page token's keyset predicate
  std::string token_text = StringField(request, "page_token");
  if (!token_text.empty()) {
    auto token =
        deps_.page_tokens->Decode(token_text, schema_.collection(), query_hash);
    if (!token.ok()) return token.status();
    auto keyset = KeysetFromToken(*order, *token);
    if (!keyset.ok()) return keyset.status();
    after = *std::move(keyset);
  }

  std::vector<Record> records;
  // Record id -> its channels opted out for one of the principal's
  // purposes, read for the page's records alone.
  std::map<std::string, std::vector<std::string>> opted_out;
  absl::Status s = deps_.database->WithSession([&](store::Session& session) {
    auto q = PlanList(session, *deps_.records, eval_, schema_, *filter, *order,
                      after, page_size + 1);
    if (!q.ok()) return q.status();
    auto r = deps_.records->List(session, schema_, *q);
    if (!r.ok()) return r.status();
    records = *std::move(r);
    if (consent && !records.empty()) {
      std::vector<std::string> ids;
      for (size_t i = 0; i < records.size() && i < size_t(page_size); ++i) {
        ids.push_back(records[i].id);
      }
      auto out = store::ConsentStore::OptedOutChannels(
          session, schema_.collection(), ids, eval_.purposes());
      if (!out.ok()) return out.status();
      opted_out = *std::move(out);
    }
    return CompareListWithShadow(session, *filter, *order, after, page_size,
                                 records);
  });
  if (!s.ok()) return s;

  const auto* reflection = response->GetReflection();
  const auto* items = response->GetDescriptor()->FindFieldByNumber(1);
  bool more = static_cast<int>(records.size()) > page_size;
  if (more) records.resize(page_size);
  // Record access was applied inside SQL (RecordFilter); that the SQL
  // filter and the point decision agree is proven by
  // tests/policy_differential_test.cc rather than re-checked per row, which
  // would cost a share lookup per record.
  static const std::vector<std::string> kNone;
  for (const Record& record : records) {
    auto it = opted_out.find(record.id);
    Respond(record, reflection->AddMessage(response, items),
            it == opted_out.end() ? kNone : it->second);
  }
  if (more) {
    auto token = TokenAfter(schema_, *order, records.back(), query_hash);
    reflection->SetString(
        response, response->GetDescriptor()->FindFieldByName("next_page_token"),
        deps_.page_tokens->Encode(token));
  }
  return absl::OkStatus();
}

absl::Status Request::Create(const Message& request, Message* response) {
  const std::string request_id = StringField(request, "request_id");
  if (absl::Status s = ValidateRequestId(request_id); !s.ok()) return s;
  if (absl::Status s = CheckObject(Operation::kCreate); !s.ok()) return s;
  const Message& input = ResourceOf(request);
  std::vector<int> fields = model::CreatableFields(schema_);
  if (absl::Status s = CheckFieldWrites(fields, input, /*only_set=*/true);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckSourceWrites(fields, input, /*only_set=*/true);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = model::ValidateFields(schema_, input, fields); !s.ok()) {
    return s;
  }
  Record record = model::RecordFromMessage(schema_, input);
  // Output-only fields come from the server, never from the request.
  std::unique_ptr<Message> blank(input.New());
  for (size_t i = 0; i < schema_.fields().size(); ++i) {
    if (schema_.fields()[i].output_only) {
      record.values[i] = model::FieldValue(schema_.fields()[i], *blank);
    }
  }
  int64_t now = absl::ToUnixMicros(deps_.clock->Now());
  record.id = NewRecordId();
  record.version = 1;
  record.values[FieldIndexOrDie(schema_, "create_time")] = now;
  record.values[FieldIndexOrDie(schema_, "update_time")] = now;
  record.values[FieldIndexOrDie(schema_, "owner")] =
      eval_.principal().ResourceName();
  record.values[FieldIndexOrDie(schema_, "source")] =
      absl::StrCat("services/", eval_.principal().service);
  policy::Decision d = eval_.CheckRecord(schema_, Operation::kCreate, record);
  if (!d.allowed) return policy::ToStatus(d, policy::DenialKind::kObject);

  // With a request_id, the id is claimed in the record's transaction
  // (RecordStore::ClaimCreateRequest): both commit or neither does.
  std::optional<store::CreateRequestKey> key;
  store::CreateRequestRow claim_row;
  if (!request_id.empty()) {
    key = store::CreateRequestKey{eval_.principal().service,
                                  eval_.principal().user_id,
                                  schema_.collection(), request_id};
    claim_row = {CreateBodyHash(schema_, fields, input), record.id, now};
  }
  std::optional<std::string> replay_id;  // set: an earlier create's record
  std::optional<LoadedRecord> replayed;  // that record, if it still exists
  absl::Status s = deps_.database->InTransaction([&](store::Session& session) {
    replay_id.reset();  // InTransaction may run this more than once
    replayed.reset();
    if (key.has_value()) {
      auto claim = deps_.records->ClaimCreateRequest(session, *key, claim_row);
      if (!claim.ok()) return claim.status();
      if (!claim->claimed) {
        if (claim->existing.request_hash != claim_row.request_hash) {
          return absl::AlreadyExistsError(absl::StrCat(
              "request_id \"", request_id,
              "\" was already used by this "
              "caller to create a different ",
              schema_.singular(), " (request_ids are remembered for ",
              absl::FormatDuration(store::RecordStore::kCreateRequestRetention),
              "); use a new request_id for a new ", schema_.singular()));
        }
        replay_id = claim->existing.record_id;
        auto loaded = LoadRecord(session, deps_, eval_, schema_, *replay_id);
        if (!loaded.ok()) return loaded.status();
        replayed = *std::move(loaded);
        return absl::OkStatus();
      }
    }
    if (absl::Status r = CheckReferences(session, fields, input); !r.ok()) {
      return r;
    }
    if (absl::Status w = deps_.records->Insert(session, schema_, record);
        !w.ok()) {
      return w;
    }
    if (absl::Status p = store::ProvenanceStore::Record(
            session, schema_.collection(), record.id, record.version, "create",
            Writer(now), ProvenanceOf(fields, input, /*only_set=*/true));
        !p.ok()) {
      return p;
    }
    return AppendEvent(deps_, session,
                       RecordWriteEvent(deps_, schema_, "records.create",
                                        record.id, nullptr, &record, d.rule));
  });
  if (!s.ok()) return s;
  if (replay_id.has_value()) {
    // A retry: the record as it is now, under the caller's access now,
    // exactly as Get would answer.
    if (!replayed.has_value() ||
        !eval_.AllowsRecord(schema_, Operation::kRead, replayed->Facts())) {
      return policy::RecordNotFound(schema_.ResourceName(*replay_id));
    }
    Respond(replayed->record, response);
    return absl::OkStatus();
  }
  if (key.has_value()) {
    // Housekeeping, at most once a minute per server; a failure only
    // delays it.
    auto pruned = deps_.records->PruneCreateRequestsIfDue(deps_.clock->Now());
    if (!pruned.ok()) {
      base::LogWarning("create_requests.prune_failed",
                       {{"message", std::string(pruned.status().message())}});
    }
  }
  Respond(record, response);
  return absl::OkStatus();
}

absl::Status Request::Update(const Message& request, Message* response) {
  const Message& input = ResourceOf(request);
  auto id = ParseName(StringField(input, "name"));
  if (!id.ok()) return id.status();
  const auto* mask_field =
      request.GetDescriptor()->FindFieldByName("update_mask");
  google::protobuf::FieldMask mask;
  mask.CopyFrom(request.GetReflection()->GetMessage(request, mask_field));
  auto fields = model::ResolveUpdateMask(schema_, mask);
  if (!fields.ok()) return fields.status();
  std::optional<int64_t> expected;
  if (std::string etag = StringField(input, "etag"); !etag.empty()) {
    auto v = model::ParseEtag(etag);
    if (!v.ok()) return v.status();
    expected = *v;
  }
  if (absl::Status s = CheckObject(Operation::kEdit); !s.ok()) return s;
  if (absl::Status s = CheckFieldWrites(*fields, input, /*only_set=*/false);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckSourceWrites(*fields, input, /*only_set=*/false);
      !s.ok()) {
    return s;
  }
  const std::vector<store::FieldWrite> provenance =
      ProvenanceOf(*fields, input, /*only_set=*/false);
  if (absl::Status s = model::ValidateFields(schema_, input, *fields);
      !s.ok()) {
    return s;
  }
  // Every Update also stamps these two (see "Stamping" in record_ops.h).
  const int update_time_field = FieldIndexOrDie(schema_, "update_time");
  const int source_field = FieldIndexOrDie(schema_, "source");
  std::vector<int> written = *fields;
  written.push_back(update_time_field);
  written.push_back(source_field);

  Record updated;
  std::vector<std::string> masked;  // consent channels masked in the answer
  for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
    bool lost_race = false;
    absl::Status s =
        deps_.database->InTransaction([&](store::Session& session) {
          auto current = LoadForWrite(session, *id, Operation::kEdit);
          if (!current.ok()) return current.status();
          if (absl::Status e =
                  CheckEtag(*id, expected, current->record.version);
              !e.ok()) {
            return e;
          }
          if (absl::Status r = CheckReferences(session, *fields, input);
              !r.ok()) {
            return r;
          }
          updated = current->record;
          for (int i : *fields) {
            updated.values[i] = model::FieldValue(schema_.fields()[i], input);
          }
          const int64_t now = absl::ToUnixMicros(deps_.clock->Now());
          updated.values[update_time_field] = now;
          updated.values[source_field] =
              absl::StrCat("services/", eval_.principal().service);
          // The record after the change must still be one the principal may
          // edit (criteria-based access can depend on the new values).
          LoadedRecord after = *current;
          after.record = updated;
          masked = eval_.MaskedChannels(schema_, ConsentFacts(after.consents));
          policy::Decision d =
              CheckLoaded(eval_, schema_, Operation::kEdit, after);
          if (!d.allowed)
            return policy::ToStatus(d, policy::DenialKind::kObject);
          if (deps_.before_conditional_write) {
            if (absl::Status h = deps_.before_conditional_write(session);
                !h.ok()) {
              return h;
            }
          }
          auto ok = deps_.records->UpdateIfVersion(
              session, schema_, *id, current->record.version, written, updated);
          if (!ok.ok()) return ok.status();
          if (!*ok) {
            lost_race = true;
            return absl::AbortedError(absl::StrCat(
                schema_.ResourceName(*id),
                " was changed by another writer; read it again and retry"));
          }
          updated.version = current->record.version + 1;
          if (absl::Status p = store::ProvenanceStore::Record(
                  session, schema_.collection(), *id, updated.version,
                  "update", Writer(now), provenance);
              !p.ok()) {
            return p;
          }
          return AppendEvent(
              deps_, session,
              RecordWriteEvent(deps_, schema_, "records.update", *id,
                               &current->record, &updated, d.rule));
        });
    if (s.ok()) {
      Respond(updated, response, masked);
      return absl::OkStatus();
    }
    if (!lost_race || expected.has_value()) return s;
    BackOff(attempt);
  }
  return absl::AbortedError(
      absl::StrCat(schema_.ResourceName(*id),
                   " is being changed by many writers at once; retry later"));
}

absl::Status Request::Delete(const Message& request) {
  auto id = ParseName(StringField(request, "name"));
  if (!id.ok()) return id.status();
  std::optional<int64_t> expected;
  if (std::string etag = StringField(request, "etag"); !etag.empty()) {
    auto v = model::ParseEtag(etag);
    if (!v.ok()) return v.status();
    expected = *v;
  }
  if (absl::Status s = CheckObject(Operation::kDelete); !s.ok()) return s;
  for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
    bool lost_race = false;
    absl::Status s =
        deps_.database->InTransaction([&](store::Session& session) {
          auto current = LoadForWrite(session, *id, Operation::kDelete);
          if (!current.ok()) return current.status();
          if (absl::Status e =
                  CheckEtag(*id, expected, current->record.version);
              !e.ok()) {
            return e;
          }
          // The record's manual shares go with it, in the same transaction.
          store::PolicyStore shares(deps_.database);
          auto removed =
              shares.DeleteSharesOf(session, schema_.collection(), *id);
          if (!removed.ok()) return removed.status();
          // So is its provenance and field history (no values of a deleted
          // record are kept; the audit trail records the delete).
          if (absl::Status p = store::ProvenanceStore::Forget(
                  session, schema_.collection(), *id);
              !p.ok()) {
            return p;
          }
          // And its consent and consent history.
          if (schema_.consent_subject()) {
            if (absl::Status c = store::ConsentStore::Forget(
                    session, schema_.collection(), *id);
                !c.ok()) {
              return c;
            }
          }
          if (deps_.before_conditional_write) {
            if (absl::Status h = deps_.before_conditional_write(session);
                !h.ok()) {
              return h;
            }
          }
          auto ok = deps_.records->DeleteIfVersion(session, schema_, *id,
                                                   current->record.version);
          if (!ok.ok()) return ok.status();
          if (!*ok) {
            lost_race = true;
            return absl::AbortedError(absl::StrCat(
                schema_.ResourceName(*id),
                " was changed by another writer; read it again and retry"));
          }
          crm::v1::AuditEvent event = RecordWriteEvent(
              deps_, schema_, "records.delete", *id, &current->record,
              nullptr,
              CheckLoaded(eval_, schema_, Operation::kDelete, *current).rule);
          if (removed.ok() && *removed > 0) {
            (*event.mutable_attributes())["shares_removed"] =
                absl::StrCat(*removed);
          }
          return AppendEvent(deps_, session, std::move(event));
        });
    if (s.ok() || !lost_race || expected.has_value()) return s;
    BackOff(attempt);
  }
  return absl::AbortedError(
      absl::StrCat(schema_.ResourceName(*id),
                   " is being changed by many writers at once; retry later"));
}

}  // namespace

absl::Status Get(const Deps& deps, const Evaluator& eval,
                 const ObjectSchema& schema, const Message& request,
                 Message* response,
                 std::string* grant) {
  return Request(schema, deps, eval).Get(request, response, grant);
}

absl::Status List(const Deps& deps, const Evaluator& eval,
                  const ObjectSchema& schema, const Message& request,
                  Message* response) {
  return Request(schema, deps, eval).List(request, response);
}

absl::Status Create(const Deps& deps, const Evaluator& eval,
                    const ObjectSchema& schema, const Message& request,
                    Message* response) {
  return Request(schema, deps, eval).Create(request, response);
}

absl::Status Update(const Deps& deps, const Evaluator& eval,
                    const ObjectSchema& schema, const Message& request,
                    Message* response) {
  return Request(schema, deps, eval).Update(request, response);
}

absl::Status Delete(const Deps& deps, const Evaluator& eval,
                    const ObjectSchema& schema, const Message& request) {
  return Request(schema, deps, eval).Delete(request);
}

}  // namespace crm::records
