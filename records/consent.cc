#include "records/consent.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "model/record.h"
#include "model/resource_name.h"
#include "records/pagination.h"
#include "records/record_access.h"
#include "records/record_audit.h"
#include "store/consent_store.h"

namespace crm::records {
namespace {

using policy::Evaluator;
using policy::Operation;

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
constexpr int kMaxAttempts = 5;

struct Target {
  const model::ObjectSchema* schema = nullptr;
  std::string id;
  std::string name() const { return schema->ResourceName(id); }
};

// A record of a consent subject (contacts, leads).
absl::StatusOr<Target> ParseRecord(absl::string_view name) {
  std::vector<std::string> collections;
  for (const auto* schema : model::SchemaRegistry::Default().All()) {
    if (schema->consent_subject()) collections.push_back(schema->collection());
  }
  auto parsed = model::ParseResourceName(name, collections, "record");
  if (!parsed.ok()) return parsed.status();
  return Target{model::SchemaRegistry::Default().Find(parsed->collection),
                parsed->id};
}

absl::Status CheckObjectRead(const Evaluator& eval,
                             const model::ObjectSchema& schema) {
  if (eval.AllowsObject(schema, Operation::kRead)) return absl::OkStatus();
  return policy::ToStatus(eval.CheckObject(schema, Operation::kRead),
                          policy::DenialKind::kObject);
}

// The record, if it exists and the principal may read it; else NOT_FOUND
// (Get's status, byte for byte).
absl::StatusOr<LoadedRecord> LoadReadable(store::Session& session,
                                          const Deps& deps,
                                          const Evaluator& eval,
                                          const Target& target) {
  auto loaded = LoadRecord(session, deps, eval, *target.schema, target.id);
  if (!loaded.ok()) return loaded.status();
  if (!loaded->has_value()) return policy::RecordNotFound(target.name());
  if (!eval.AllowsRecord(*target.schema, Operation::kRead,
                         (*loaded)->Facts())) {
    return policy::ToStatus(
        CheckLoaded(eval, *target.schema, Operation::kRead, **loaded),
        policy::DenialKind::kRecord, target.name());
  }
  return **std::move(loaded);
}

const char* StateText(crm::v1::ConsentState state) {
  switch (state) {
    case crm::v1::OPTED_IN:
      return store::kOptedIn;
    case crm::v1::OPTED_OUT:
      return store::kOptedOut;
    case crm::v1::UNKNOWN:
    case crm::v1::CONSENT_STATE_UNSPECIFIED:
    case crm::v1::ConsentState_INT_MIN_SENTINEL_DO_NOT_USE_:
    case crm::v1::ConsentState_INT_MAX_SENTINEL_DO_NOT_USE_:
      break;
  }
  return store::kUnknownConsent;
}

crm::v1::ConsentState StateOf(absl::string_view text) {
  if (text == store::kOptedIn) return crm::v1::OPTED_IN;
  if (text == store::kOptedOut) return crm::v1::OPTED_OUT;
  return crm::v1::UNKNOWN;
}

void ToProto(const std::string& record, const store::ConsentRow& row,
             crm::v1::Consent* out) {
  out->set_record(record);
  out->set_channel(row.channel);
  out->set_purpose(row.purpose);
  out->set_state(StateOf(row.state));
  out->set_source(row.source);
  out->set_service(row.service);
  out->set_actor(row.actor);
  out->set_request_id(row.request_id);
  model::SetTimestampMicros(row.updated_at, out->mutable_update_time());
  out->set_etag(model::EtagOf(row.version));
}

absl::Status CheckSetRequest(const crm::v1::SetConsentRequest& request,
                             std::optional<int64_t>* expected) {
  base::BadRequestBuilder bad;
  if (!model::IsConsentChannel(request.channel())) {
    bad.Add("channel", absl::StrCat("'", request.channel(),
                                    "' is not a channel; use email, phone, "
                                    "sms or post"));
  }
  if (!model::IsConsentPurpose(request.purpose())) {
    bad.Add("purpose",
            absl::StrCat("'", request.purpose(),
                         "' is not a purpose: 1-64 of lower-case letters, "
                         "digits and '-' (e.g. marketing)"));
  }
  if (request.state() != crm::v1::OPTED_IN &&
      request.state() != crm::v1::OPTED_OUT &&
      request.state() != crm::v1::UNKNOWN) {
    bad.Add("state", "use OPTED_IN, OPTED_OUT or UNKNOWN");
  }
  if (request.etag() == "v0") {
    *expected = 0;  // the entry must not exist yet
  } else if (!request.etag().empty()) {
    auto v = model::ParseEtag(request.etag());
    if (!v.ok()) {
      bad.Add("etag", v.status());
    } else {
      *expected = *v;
    }
  }
  if (!bad.empty()) return bad.Build();
  return absl::OkStatus();
}

// Who may record consent of `loaded` and as which source: edit access
// (source: the caller), else a data source allowed to record consent of
// the object (source: its name). Sets `grant` to the deciding rule.
absl::Status DecideWrite(const Evaluator& eval, const Target& target,
                         const LoadedRecord& loaded, std::string* grant,
                         std::string* source) {
  const model::ObjectSchema& schema = *target.schema;
  const policy::Decision by_source = eval.CheckConsentSource(schema);
  if (eval.AllowsObject(schema, Operation::kEdit) &&
      eval.AllowsRecord(schema, Operation::kEdit, loaded.Facts())) {
    *grant = CheckLoaded(eval, schema, Operation::kEdit, loaded).rule;
    *source = by_source.allowed ? by_source.rule.substr(7)  // "source:"
                                : eval.principal().ResourceName();
    return absl::OkStatus();
  }
  if (by_source.allowed) {
    *grant = by_source.rule;
    *source = by_source.rule.substr(7);
    return absl::OkStatus();
  }
  const policy::Decision edit =
      eval.AllowsObject(schema, Operation::kEdit)
          ? CheckLoaded(eval, schema, Operation::kEdit, loaded)
          : eval.CheckObject(schema, Operation::kEdit);
  return policy::ToStatus(
      policy::Decision::Deny(
          absl::StrCat(edit.rule, "|", by_source.rule),
          absl::StrCat("consent of ", target.name(), " may not be recorded by ",
                       eval.principal().ResourceName(), ": no edit access (",
                       edit.reason, "), and ", by_source.reason)),
      policy::DenialKind::kConsent, target.name());
}

}  // namespace

absl::Status SetConsent(const Deps& deps, const Evaluator& eval,
                        const crm::v1::SetConsentRequest& request,
                        crm::v1::Consent* response) {
  auto target = ParseRecord(request.record());
  if (!target.ok()) return target.status();
  std::optional<int64_t> expected;
  if (absl::Status s = CheckSetRequest(request, &expected); !s.ok()) return s;
  if (absl::Status s = CheckObjectRead(eval, *target->schema); !s.ok()) {
    return s;
  }
  const std::string name = target->name();
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    store::ConsentRow written;
    absl::Status s = deps.database->InTransaction([&](store::Session& session) {
      auto loaded = LoadReadable(session, deps, eval, *target);
      if (!loaded.ok()) return loaded.status();
      std::string grant;
      store::ConsentRow entry;
      if (absl::Status d = DecideWrite(eval, *target, *loaded, &grant,
                                       &entry.source);
          !d.ok()) {
        return d;
      }
      auto current = store::ConsentStore::GetOne(
          session, target->schema->collection(), target->id,
          request.channel(), request.purpose());
      if (!current.ok()) return current.status();
      const int64_t version = current->has_value() ? (*current)->version : 0;
      const std::string previous =
          current->has_value() ? (*current)->state : store::kUnknownConsent;
      if (expected.has_value() && *expected != version) {
        return base::StaleEtagError(
            absl::StrCat(name, "/consents/", request.channel(), ".",
                         request.purpose()),
            model::EtagOf(*expected), model::EtagOf(version));
      }
      const std::string state = StateText(request.state());
      if (current->has_value() && previous == state) {
        written = **current;  // already so: nothing to record
        return absl::OkStatus();
      }
      entry.channel = request.channel();
      entry.purpose = request.purpose();
      entry.state = state;
      entry.service = absl::StrCat("services/", eval.principal().service);
      entry.actor = eval.principal().ResourceName();
      entry.request_id = std::string(base::CurrentRequestId());
      entry.updated_at = absl::ToUnixMicros(deps.clock->Now());
      auto set = store::ConsentStore::Set(session, target->schema->collection(),
                                          target->id, version, previous,
                                          std::move(entry));
      if (!set.ok()) return set.status();
      written = *std::move(set);
      crm::v1::AuditEvent event;
      event.set_action("consent.set");
      event.set_resource(name);
      event.set_outcome(crm::v1::ALLOWED);
      event.set_reason(grant);
      auto& attributes = *event.mutable_attributes();
      attributes["channel"] = written.channel;
      attributes["purpose"] = written.purpose;
      attributes["state"] = written.state;
      attributes["previous_state"] = previous;
      attributes["source"] = written.source;
      return AppendEvent(deps, session, std::move(event));
    });
    if (s.ok()) {
      ToProto(name, written, response);
      return absl::OkStatus();
    }
    // A lost race without a precondition is retried.
    if (!absl::IsAborted(s) || expected.has_value() ||
        base::GetErrorInfo(s).has_value()) {
      return s;
    }
  }
  return absl::AbortedError(absl::StrCat(
      "the consent of ", name,
      " is being changed by many writers at once; retry later"));
}

absl::Status GetConsent(const Deps& deps, const Evaluator& eval,
                        const crm::v1::GetConsentRequest& request,
                        crm::v1::RecordConsent* response) {
  auto target = ParseRecord(request.record());
  if (!target.ok()) return target.status();
  if (absl::Status s = CheckObjectRead(eval, *target->schema); !s.ok()) {
    return s;
  }
  std::vector<store::ConsentRow> rows;
  absl::Status s = deps.database->WithSession([&](store::Session& session) {
    auto loaded = LoadReadable(session, deps, eval, *target);
    if (!loaded.ok()) return loaded.status();
    auto got = store::ConsentStore::Get(session, target->schema->collection(),
                                        target->id);
    if (!got.ok()) return got.status();
    rows = *std::move(got);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  const std::string name = target->name();
  response->set_record(name);
  for (const store::ConsentRow& row : rows) {
    ToProto(name, row, response->add_consents());
  }
  return absl::OkStatus();
}

absl::Status ListConsentHistory(
    const Deps& deps, const Evaluator& eval,
    const crm::v1::ListConsentHistoryRequest& request,
    crm::v1::ListConsentHistoryResponse* response) {
  auto target = ParseRecord(request.record());
  if (!target.ok()) return target.status();
  int page_size = request.page_size();
  if (page_size < 0 || page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: ", page_size, " is out of range; use 1-",
                     kMaxPageSize, " (0 means ", kDefaultPageSize, ")"));
  }
  if (page_size == 0) page_size = kDefaultPageSize;
  int64_t after = 0;
  if (!request.page_token().empty()) {
    std::string unused;
    if (absl::Status s = DecodeKeyToken(request.page_token(),
                                        "ListConsentHistory", &after, &unused);
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = CheckObjectRead(eval, *target->schema); !s.ok()) {
    return s;
  }
  std::vector<store::ConsentChangeRow> rows;
  absl::Status s = deps.database->WithSession([&](store::Session& session) {
    auto loaded = LoadReadable(session, deps, eval, *target);
    if (!loaded.ok()) return loaded.status();
    auto got = store::ConsentStore::History(
        session, target->schema->collection(), target->id, after,
        page_size + 1);
    if (!got.ok()) return got.status();
    rows = *std::move(got);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  const bool more = static_cast<int>(rows.size()) > page_size;
  if (more) rows.resize(page_size);
  const std::string name = target->name();
  for (const store::ConsentChangeRow& row : rows) {
    crm::v1::ConsentChange* change = response->add_changes();
    change->set_sequence(row.sequence);
    ToProto(name, row.entry, change->mutable_consent());
    change->set_previous_state(StateOf(row.previous_state));
  }
  if (more) response->set_next_page_token(EncodeKeyToken(rows.back().sequence, ""));
  return absl::OkStatus();
}

}  // namespace crm::records
