#include "server/access_review_service.h"

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
#include "server/pipeline.h"
#include "server/request_context.h"
#include "store/identity_store.h"

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

}  // namespace crm::server
