#include "server/access_review_service.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/error.h"
#include "login/ip_address.h"
#include "model/object_schema.h"
#include "model/resource_name.h"
#include "policy/explain.h"
#include "records/access_review.h"
#include "query/checked_filter.h"
#include "query/filter.h"
#include "server/audit_service.h"
#include "server/pipeline.h"
#include "server/request_context.h"
#include "store/audit_store.h"
#include "store/identity_store.h"
#include "audit/chain.h"

namespace crm::server {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

// Runs `fn(call)` through the pipeline as
// "crm.v1.AccessReviewService/{method}", which checks VIEW_AUDIT first and
// records the call in the audit trail as "access.{method}".
template <typename Fn>
grpc::Status Run(grpc::ServerContext* context, ServerCore* core,
                 const char* method, const google::protobuf::Message& request,
                 Fn fn) {
  // Access reviews are audited like the auditor's other queries: the
  // event names the method and carries the question asked.
  const std::string action = absl::StrCat("access.", method);
  return core->pipeline->Run(
      context, absl::StrCat("crm.v1.AccessReviewService/", method), request,
      [&](const Call& call) {
        (*call.audit().mutable_attributes())["request"] =
            request.ShortDebugString();
        return fn(call);
      },
      {.requires_permission = crm::v1::VIEW_AUDIT,
       .decision_kind = "system",
       .audit_action = action});
}

std::vector<std::string> Collections() {
  std::vector<std::string> out;
  for (const model::ObjectSchema* s : model::SchemaRegistry::Default().All()) {
    out.push_back(s->collection());
  }
  return out;
}

// The reviewed principal: a user acting through a service, resolved on the
// call's snapshot.
struct Subject {
  std::string user_id;
  std::string service;
};

// Checks the form of `user` ("users/{id}") and `service` ("services/{name}",
// "{name}" or "" for the caller's) into `bad`.
Subject ParseSubject(const Call& call, const std::string& user,
                     const std::string& service, base::BadRequestBuilder* bad) {
  Subject s;
  absl::string_view id = user;
  if (user.empty()) {
    bad->Add("user", "required: the user to review, \"users/{id}\"");
  } else if (!absl::ConsumePrefix(&id, "users/") ||
             !model::IsValidRecordId(id)) {
    bad->Add("user", absl::StrCat("'", user,
                                  "' is not a user name of the form "
                                  "\"users/{id}\""));
  } else {
    s.user_id = std::string(id);
  }
  absl::string_view name = service;
  absl::ConsumePrefix(&name, "services/");
  s.service = name.empty() ? call.principal().service : std::string(name);
  if (!service.empty() && (name.empty() || absl::StrContains(name, '/'))) {
    bad->Add("service", absl::StrCat("'", service,
                                     "' is not a service name; use "
                                     "\"services/{name}\" or \"{name}\""));
  }
  return s;
}

// NOT_FOUND for a user or service the call's policy does not know.
absl::Status CheckSubject(const Call& call, const Subject& s) {
  const policy::PolicySnapshot* snapshot = call.evaluator().snapshot();
  if (snapshot == nullptr) {
    return absl::UnavailableError("no access policy is loaded; retry later");
  }
  const policy::CompiledPolicy& p = snapshot->compiled();
  if (!p.user_index.contains(s.user_id)) {
    return base::WithResourceInfo(
        absl::NotFoundError(absl::StrCat(
            "users/", s.user_id,
            " not found; list the users with `crmctl users list`")),
        "user", absl::StrCat("users/", s.user_id));
  }
  if (!p.services.contains(s.service)) {
    return absl::NotFoundError(absl::StrCat(
        "services/", s.service,
        " is not a registered service; services are registered in the "
        "server configuration (services { identities: ... })"));
  }
  return absl::OkStatus();
}

policy::Evaluator EvaluatorFor(const Call& call, const Subject& s) {
  return policy::Evaluator(call.evaluator().shared_snapshot(),
                           {s.service, s.user_id});
}

// The schema of `collection`, or a violation of `field`.
const model::ObjectSchema* SchemaOf(const std::string& collection,
                                    const char* field,
                                    base::BadRequestBuilder* bad) {
  const model::ObjectSchema* schema =
      model::SchemaRegistry::Default().Find(collection);
  if (schema == nullptr) {
    bad->Add(field, absl::StrCat("unknown object '", collection,
                                 "'; objects are ",
                                 absl::StrJoin(Collections(), ", ")));
  }
  return schema;
}

// Parses "{collection}/{id}" into `schema` and `id`.
void ParseRecord(const std::string& record, const model::ObjectSchema** schema,
                 std::string* id, base::BadRequestBuilder* bad) {
  auto name = model::ParseResourceName(record, Collections(), "record");
  if (!name.ok()) {
    bad->Add("record", name.status());
    return;
  }
  *schema = model::SchemaRegistry::Default().Find(name->collection);
  *id = name->id;
}

// The login restriction check of the user's profile for a request from
// `address` now.
absl::StatusOr<absl::Status> CheckLogin(const Call& call, ServerCore* core,
                                        const Subject& s,
                                        const login::IpAddress& address) {
  auto user = core->authn->identities().FindUserById(s.user_id);
  if (!user.ok()) return user.status();
  if (!user->has_value()) {
    return absl::NotFoundError(
        absl::StrCat("users/", s.user_id, " not found"));
  }
  const login::LoginRestrictions* restrictions =
      call.evaluator().snapshot()->ProfileRestrictions(
          (*user)->user.profile_id);
  if (restrictions == nullptr) {
    return absl::PermissionDeniedError(absl::StrCat(
        "profile '", (*user)->user.profile_id,
        "' is not in the policy snapshot; it refuses every login"));
  }
  return restrictions->Check(
      {address, core->clock->Now(), (*user)->user.time_zone},
      core->authn->geo());
}

// Every user row, by id (usernames and display names for the reports).
absl::StatusOr<absl::flat_hash_map<std::string, store::UserRow>> AllUsers(
    ServerCore* core) {
  absl::flat_hash_map<std::string, store::UserRow> out;
  std::string after;
  for (;;) {
    auto page = core->authn->identities().ListUsers(after, 1000);
    if (!page.ok()) return page.status();
    for (store::UserWithProfile& u : *page) {
      after = u.user.username;
      std::string id = u.user.id;
      out.emplace(std::move(id), std::move(u.user));
    }
    if (page->size() < 1000) return out;
  }
}

// The users of the call's snapshot in id order (the reports' order).
std::vector<const policy::CompiledUser*> UsersInIdOrder(
    const policy::CompiledPolicy& p) {
  std::vector<const policy::CompiledUser*> users;
  users.reserve(p.users.size());
  for (const policy::CompiledUser& u : p.users) users.push_back(&u);
  std::sort(users.begin(), users.end(),
            [](const auto* a, const auto* b) { return a->id < b->id; });
  return users;
}

std::string EncodeToken(const std::string& record, const std::string& user) {
  return absl::WebSafeBase64Escape(absl::StrCat(record, "\n", user));
}

}  // namespace

grpc::Status AccessReviewServiceImpl::ExplainAccess(
    grpc::ServerContext* context, const crm::v1::ExplainAccessRequest* request,
    crm::v1::AccessExplanation* response) {
  return Run(context, core_, "ExplainAccess", *request,
             [&](const Call& call) -> absl::Status {
    const crm::v1::ExplainAccessRequest& req = *request;
    base::BadRequestBuilder bad;
    const Subject subject =
        ParseSubject(call, req.user(), req.service(), &bad);
    const model::ObjectSchema* schema = nullptr;
    std::string id;
    if (req.record().empty() == req.object().empty()) {
      bad.Add(req.record().empty() ? "record" : "object",
              "give exactly one of record (\"accounts/{id}\") and object "
              "(\"accounts\")");
    } else if (!req.record().empty()) {
      ParseRecord(req.record(), &schema, &id, &bad);
    } else {
      schema = SchemaOf(req.object(), "object", &bad);
    }
    policy::Operation op = policy::Operation::kRead;
    if (!policy::OperationOf(req.action(), &op)) {
      bad.Add("action",
              "required: ACTION_READ, ACTION_CREATE, ACTION_EDIT, "
              "ACTION_DELETE, ACTION_SHARE or ACTION_TRANSFER");
    }
    const model::FieldSchema* field = nullptr;
    if (!req.field().empty() && schema != nullptr) {
      field = schema->FindField(req.field());
      if (field == nullptr) {
        bad.Add("field", absl::StrCat("'", req.field(), "' is not a field of ",
                                      schema->collection()));
      }
    }
    std::optional<login::IpAddress> address;
    if (!req.client_address().empty()) {
      address = login::IpAddress::Parse(req.client_address());
      if (!address.has_value()) {
        bad.Add("client_address",
                absl::StrCat("'", req.client_address(),
                             "' is not an IPv4 or IPv6 address"));
      }
    }
    if (!bad.empty()) return bad.Build();
    if (absl::Status s = CheckSubject(call, subject); !s.ok()) return s;
    std::optional<absl::Status> login;
    if (address.has_value()) {
      auto checked = CheckLogin(call, core_, subject, *address);
      if (!checked.ok()) return checked.status();
      login = *checked;
    }
    const policy::Evaluator eval = EvaluatorFor(call, subject);
    auto out = records::ExplainAccess(core_->RecordDeps(), eval, *schema, id,
                                      op, field,
                                      login.has_value() ? &*login : nullptr);
    if (!out.ok()) return out.status();
    *response = *std::move(out);
    response->set_user(absl::StrCat("users/", subject.user_id));
    response->set_service(absl::StrCat("services/", subject.service));
    response->set_record(req.record());
    response->set_object(schema->collection());
    response->set_action(req.action());
    response->set_policy_version(call.evaluator().snapshot()->version());
    return absl::OkStatus();
  });
}

grpc::Status AccessReviewServiceImpl::ListRecordAccessors(
    grpc::ServerContext* context,
    const crm::v1::ListRecordAccessorsRequest* request,
    crm::v1::ListRecordAccessorsResponse* response) {
  return Run(context, core_, "ListRecordAccessors", *request,
             [&](const Call& call) -> absl::Status {
    const crm::v1::ListRecordAccessorsRequest& req = *request;
    base::BadRequestBuilder bad;
    const model::ObjectSchema* schema = nullptr;
    std::string id;
    if (req.record().empty()) {
      bad.Add("record", "required: the record, e.g. \"accounts/{id}\"");
    } else {
      ParseRecord(req.record(), &schema, &id, &bad);
    }
    // The service only: a placeholder user passes ParseSubject's checks.
    Subject subject = ParseSubject(call, "users/-", req.service(), &bad);
    if (req.page_size() < 0 || req.page_size() > kMaxPageSize) {
      bad.Add("page_size", absl::StrCat("must be 0..", kMaxPageSize,
                                        " (0 means ", kDefaultPageSize, ")"));
    }
    std::string after;
    if (!req.page_token().empty()) {
      std::string raw;
      std::pair<std::string, std::string> parts;
      if (absl::WebSafeBase64Unescape(req.page_token(), &raw)) {
        parts = absl::StrSplit(raw, absl::MaxSplits('\n', 1));
      }
      if (parts.first != req.record() || parts.second.empty()) {
        bad.Add("page_token",
                "not a token of ListRecordAccessors for this record; start "
                "again without it");
      }
      after = parts.second;
    }
    if (!bad.empty()) return bad.Build();
    if (!call.evaluator().snapshot()->compiled().services.contains(
            subject.service)) {
      return absl::NotFoundError(absl::StrCat(
          "services/", subject.service, " is not a registered service"));
    }
    bool more = false;
    absl::Status s = records::ListRecordAccessors(
        core_->RecordDeps(), call.evaluator().shared_snapshot(),
        subject.service, *schema, id, after,
        req.page_size() == 0 ? kDefaultPageSize : req.page_size(), response,
        &more);
    if (!s.ok()) return s;
    if (more) {
      const std::string& last =
          response->accessors(response->accessors_size() - 1).user();
      response->set_next_page_token(EncodeToken(
          req.record(), std::string(absl::StripPrefix(last, "users/"))));
    }
    return absl::OkStatus();
  });
}

grpc::Status AccessReviewServiceImpl::SummarizeUserAccess(
    grpc::ServerContext* context,
    const crm::v1::SummarizeUserAccessRequest* request,
    crm::v1::UserAccessSummary* response) {
  return Run(context, core_, "SummarizeUserAccess", *request,
             [&](const Call& call) -> absl::Status {
    const crm::v1::SummarizeUserAccessRequest& req = *request;
    base::BadRequestBuilder bad;
    const Subject subject =
        ParseSubject(call, req.user(), req.service(), &bad);
    std::vector<const model::ObjectSchema*> schemas;
    for (int i = 0; i < req.objects_size(); ++i) {
      const model::ObjectSchema* schema = SchemaOf(
          req.objects(i), absl::StrCat("objects[", i, "]").c_str(), &bad);
      if (schema != nullptr) schemas.push_back(schema);
    }
    if (req.objects().empty()) schemas = model::SchemaRegistry::Default().All();
    if (!bad.empty()) return bad.Build();
    if (absl::Status s = CheckSubject(call, subject); !s.ok()) return s;
    const policy::Evaluator eval = EvaluatorFor(call, subject);
    absl::Status s = records::SummarizeUserAccess(core_->RecordDeps(), eval,
                                                  schemas, response);
    if (!s.ok()) return s;
    response->set_user(absl::StrCat("users/", subject.user_id));
    response->set_service(absl::StrCat("services/", subject.service));
    response->set_policy_version(call.evaluator().snapshot()->version());
    return absl::OkStatus();
  });
}

grpc::Status AccessReviewServiceImpl::EffectivePermissions(
    grpc::ServerContext* context,
    const crm::v1::EffectivePermissionsRequest* request,
    crm::v1::EffectivePermissionsResponse* response) {
  return Run(context, core_, "EffectivePermissions", *request,
             [&](const Call& call) -> absl::Status {
    base::BadRequestBuilder bad;
    const Subject subject =
        ParseSubject(call, request->user(), request->service(), &bad);
    if (!bad.empty()) return bad.Build();
    if (absl::Status s = CheckSubject(call, subject); !s.ok()) return s;
    *response = policy::EffectivePermissions(EvaluatorFor(call, subject));
    response->set_user(absl::StrCat("users/", subject.user_id));
    response->set_service(absl::StrCat("services/", subject.service));
    response->set_policy_version(call.evaluator().snapshot()->version());
    return absl::OkStatus();
  });
}

grpc::Status AccessReviewServiceImpl::ExportAccessMatrix(
    grpc::ServerContext* context,
    const crm::v1::ExportAccessMatrixRequest* request,
    grpc::ServerWriter<crm::v1::AccessMatrixChunk>* writer) {
  return Run(context, core_, "ExportAccessMatrix", *request,
             [&](const Call& call) -> absl::Status {
    base::BadRequestBuilder bad;
    // The service only: a placeholder user passes ParseSubject's checks.
    const Subject subject =
        ParseSubject(call, "users/-", request->service(), &bad);
    if (request->chunk_size() < 0 || request->chunk_size() > kMaxPageSize) {
      bad.Add("chunk_size",
              absl::StrCat("must be 0..", kMaxPageSize, " (0 means 500)"));
    }
    if (!bad.empty()) return bad.Build();
    const policy::CompiledPolicy& p = call.evaluator().snapshot()->compiled();
    if (!p.services.contains(subject.service)) {
      return absl::NotFoundError(absl::StrCat(
          "services/", subject.service, " is not a registered service"));
    }
    auto rows = AllUsers(core_);
    if (!rows.ok()) return rows.status();
    const size_t chunk_size =
        request->chunk_size() == 0 ? 500 : request->chunk_size();
    crm::v1::AccessMatrixChunk chunk;
    auto flush = [&]() -> bool {
      chunk.set_policy_version(call.evaluator().snapshot()->version());
      chunk.set_service(absl::StrCat("services/", subject.service));
      const bool ok = writer->Write(chunk);
      chunk.Clear();
      return ok;
    };
    for (const policy::CompiledUser* u : UsersInIdOrder(p)) {
      const policy::Evaluator eval(call.evaluator().shared_snapshot(),
                                   {subject.service, u->id});
      crm::v1::AccessMatrixRow* row = chunk.add_rows();
      *row = policy::AccessMatrixRow(eval);
      row->set_user(u->resource_name);
      if (auto it = rows->find(u->id); it != rows->end()) {
        row->set_username(it->second.username);
      }
      row->set_profile(u->profile);
      if (u->role >= 0) row->set_role(p.roles[u->role].name);
      row->set_active(u->active);
      if (static_cast<size_t>(chunk.rows_size()) == chunk_size) {
        if (!flush()) return absl::CancelledError("the client went away");
        if (context->IsCancelled()) return absl::CancelledError("cancelled");
      }
    }
    if (chunk.rows_size() > 0 && !flush()) {
      return absl::CancelledError("the client went away");
    }
    return absl::OkStatus();
  });
}

grpc::Status AccessReviewServiceImpl::GetAccessReviewReport(
    grpc::ServerContext* context,
    const crm::v1::GetAccessReviewReportRequest* request,
    crm::v1::AccessReviewReport* response) {
  return Run(context, core_, "GetAccessReviewReport", *request,
             [&](const Call& call) -> absl::Status {
    constexpr int kMaxDays = 3650;
    constexpr int kMaxChanges = 1000;
    base::BadRequestBuilder bad;
    if (request->dormant_days() < 0 || request->dormant_days() > kMaxDays) {
      bad.Add("dormant_days",
              absl::StrCat("must be 0..", kMaxDays, " (0 means 90)"));
    }
    if (request->changes_days() < 0 || request->changes_days() > kMaxDays) {
      bad.Add("changes_days",
              absl::StrCat("must be 0..", kMaxDays, " (0 means 30)"));
    }
    if (!bad.empty()) return bad.Build();
    const int dormant_days =
        request->dormant_days() == 0 ? 90 : request->dormant_days();
    const int changes_days =
        request->changes_days() == 0 ? 30 : request->changes_days();
    const absl::Time now = core_->clock->Now();
    const int64_t dormant_since =
        absl::ToUnixMicros(now - absl::Hours(24) * dormant_days);
    const absl::Time changes_since = now - absl::Hours(24) * changes_days;

    // Recent changes, through the audit trail's own filter language.
    auto checked = query::ParseAndCheckFilter(
        absl::StrCat("time >= \"", absl::FormatTime(absl::RFC3339_sec,
                                                    changes_since,
                                                    absl::UTCTimeZone()),
                     "\" AND (action = \"policy.create\" OR action = "
                     "\"policy.update\" OR action = \"policy.delete\")"),
        AuditColumnsSchema(), query::AllFields());
    if (!checked.ok()) return checked.status();
    absl::flat_hash_map<std::string, int64_t> last_login;
    int64_t trail_start = 0;
    std::vector<crm::v1::AuditEvent> changes;
    absl::Status read =
        core_->database->WithSession([&](store::Session& session) {
          auto logins = store::LatestEventTimeByActor(
              session, "login", crm::v1::ALLOWED, 0);
          if (!logins.ok()) return logins.status();
          last_login = *std::move(logins);
          auto oldest = store::OldestAuditEventTime(session);
          if (!oldest.ok()) return oldest.status();
          trail_start = *oldest;
          auto listed = store::ListAuditEvents(
              session, query::ToSql(*checked), 0, 0, kMaxChanges + 1, true);
          if (!listed.ok()) return listed.status();
          changes = *std::move(listed);
          return absl::OkStatus();
        });
    if (!read.ok()) return read;
    auto rows = AllUsers(core_);
    if (!rows.ok()) return rows.status();
    auto profiles = core_->authn->identities().ListProfiles("", 100000);
    if (!profiles.ok()) return profiles.status();

    const policy::CompiledPolicy& p = call.evaluator().snapshot()->compiled();
    absl::flat_hash_map<std::string, crm::v1::ProfileUserCount*> by_profile;
    for (const store::ProfileRow& profile : *profiles) {
      crm::v1::ProfileUserCount* c = response->add_profiles();
      c->set_profile(absl::StrCat("profiles/", profile.id));
      c->set_display_name(profile.name);
      by_profile[c->profile()] = c;
    }
    int active = 0;
    for (const policy::CompiledUser* u : UsersInIdOrder(p)) {
      const store::UserRow* row = nullptr;
      if (auto it = rows->find(u->id); it != rows->end()) row = &it->second;
      if (u->active) ++active;
      if (auto it = by_profile.find(u->profile); it != by_profile.end()) {
        crm::v1::ProfileUserCount* c = it->second;
        if (u->active) {
          c->set_active_users(c->active_users() + 1);
        } else {
          c->set_inactive_users(c->inactive_users() + 1);
        }
      }
      const policy::Evaluator eval(call.evaluator().shared_snapshot(),
                                   {call.principal().service, u->id});
      std::vector<crm::v1::PrivilegeGrant> privileges =
          policy::UserPrivileges(eval);
      if (!privileges.empty()) {
        crm::v1::PrivilegedUser* pu = response->add_privileged_users();
        pu->set_user(u->resource_name);
        if (row != nullptr) {
          pu->set_username(row->username);
          pu->set_display_name(row->display_name);
        }
        pu->set_profile(u->profile);
        pu->set_active(u->active);
        for (crm::v1::PrivilegeGrant& g : privileges) {
          *pu->add_privileges() = std::move(g);
        }
      }
      if (!u->active) continue;
      const int64_t created = row == nullptr ? 0 : row->create_time;
      if (created >= dormant_since) continue;  // too new to be dormant
      const auto login = last_login.find(u->resource_name);
      if (login != last_login.end() && login->second >= dormant_since) {
        continue;
      }
      crm::v1::DormantUser* d = response->add_dormant_users();
      if (login != last_login.end()) {
        *d->mutable_last_login() = audit::TimeFromMicros(login->second);
      }
      d->set_user(u->resource_name);
      if (row != nullptr) {
        d->set_username(row->username);
        d->set_display_name(row->display_name);
        *d->mutable_create_time() = audit::TimeFromMicros(row->create_time);
      }
      d->set_profile(u->profile);
    }
    response->set_total_users(static_cast<int32_t>(p.users.size()));
    response->set_active_users(active);
    response->set_dormant_days(dormant_days);
    response->set_changes_days(changes_days);
    if (trail_start > 0) {
      *response->mutable_audit_trail_start() =
          audit::TimeFromMicros(trail_start);
    }
    if (changes.size() > static_cast<size_t>(kMaxChanges)) {
      changes.resize(kMaxChanges);
      response->set_policy_changes_truncated(true);
    }
    for (crm::v1::AuditEvent& e : changes) {
      *response->add_policy_changes() = std::move(e);
    }
    *response->mutable_generate_time() = audit::TimeFromMicros(
        absl::ToUnixMicros(now));
    response->set_policy_version(call.evaluator().snapshot()->version());
    return absl::OkStatus();
  });
}

}  // namespace crm::server
