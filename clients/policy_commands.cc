#include "clients/policy_commands.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "clients/cli_args.h"
#include "clients/descriptor_catalog.h"
#include "clients/output_format.h"
#include "clients/policy_bundle_commands.h"
#include "clients/resource_requests.h"
#include "crm/v1/admin_service.pb.h"
#include "crm/v1/sharing_service.pb.h"

namespace crm::client {
namespace {

using Args = std::vector<std::string>;
using crm::v1::PolicyObject;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

constexpr char kPolicyService[] = "crm.v1.PolicyAdminService/";
constexpr char kSharingService[] = "crm.v1.SharingService/";

// --- Policy kinds --------------------------------------------------------

// The kinds are the cases of PolicyObject's oneof; a kind's name is its
// field's JSON name in the plural ("sharing_rule" -> "sharingRules"), the
// first segment of its objects' names.
std::string KindName(const FieldDescriptor* field) {
  return absl::StrCat(field->json_name(), "s");
}

std::vector<const FieldDescriptor*> KindFields() {
  std::vector<const FieldDescriptor*> fields;
  const auto* oneof = PolicyObject::descriptor()->FindOneofByName("kind");
  for (int i = 0; i < oneof->field_count(); ++i) {
    fields.push_back(oneof->field(i));
  }
  return fields;
}

std::string KindList() {
  std::vector<std::string> names;
  for (const FieldDescriptor* f : KindFields()) names.push_back(KindName(f));
  return absl::StrJoin(names, ", ");
}

absl::StatusOr<const FieldDescriptor*> FindKind(absl::string_view kind,
                                                absl::string_view command) {
  for (const FieldDescriptor* f : KindFields()) {
    if (KindName(f) == kind) return f;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      command, ": '", kind, "' is not a policy kind; use one of ", KindList()));
}

// "roles/sales-rep" -> the roles kind and "sales-rep".
absl::StatusOr<std::pair<const FieldDescriptor*, std::string>> ParsePolicyName(
    absl::string_view name, absl::string_view command) {
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(name, absl::MaxSplits('/', 1));
  if (parts.second.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(command, ": '", name,
                     "' is not a policy object name; use KIND/ID, "
                     "e.g. roles/sales-rep, with KIND one of ",
                     KindList()));
  }
  auto kind = FindKind(parts.first, command);
  if (!kind.ok()) return kind.status();
  return std::make_pair(*kind, std::string(parts.second));
}

// The object inside a PolicyObject (an empty PermissionSet if none is set).
const Message& Body(const PolicyObject& object) {
  const FieldDescriptor* f = object.GetReflection()->GetOneofFieldDescriptor(
      object, PolicyObject::descriptor()->FindOneofByName("kind"));
  if (f == nullptr) return object.permission_set();
  return object.GetReflection()->GetMessage(object, f);
}

Message* MutableBody(PolicyObject* object, const FieldDescriptor* kind) {
  return object->GetReflection()->MutableMessage(object, kind);
}

// A JSON argument, or the contents of FILE for "@FILE".
absl::StatusOr<std::string> JsonArgument(const std::string& arg,
                                         absl::string_view command) {
  if (!absl::StartsWith(arg, "@")) return arg;
  std::ifstream in(arg.substr(1));
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(command, ": cannot read '", arg.substr(1), "'"));
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Parses the JSON (or @FILE) argument into the body of `kind` in `object`.
absl::Status ParseBody(const std::string& arg, const FieldDescriptor* kind,
                       absl::string_view command, PolicyObject* object) {
  auto json = JsonArgument(arg, command);
  if (!json.ok()) return json.status();
  return ParseJsonInto(absl::StrCat(command, ": the JSON"), *json,
                       MutableBody(object, kind));
}

std::string GetString(const Message& m, const char* field) {
  return m.GetReflection()->GetString(
      m, m.GetDescriptor()->FindFieldByName(field));
}

void SetString(Message* m, const char* field, const std::string& value) {
  m->GetReflection()->SetString(m, m->GetDescriptor()->FindFieldByName(field),
                                value);
}

absl::Status Usage(absl::string_view usage) {
  return absl::InvalidArgumentError(absl::StrCat("usage: crmctl ", usage));
}

// Prints messages of one type as a list table, or `all` as JSON.
absl::Status PrintList(CliSession& s, const Message& all,
                       const google::protobuf::Descriptor* type,
                       const std::vector<const Message*>& rows) {
  if (s.globals().output == OutputFormat::kJson) return s.PrintJson(all);
  s.out() << FormatList(type, rows, "");
  return absl::OkStatus();
}

// --- policy ... ----------------------------------------------------------

constexpr char kPolicyUsage[] =
    "policy list KIND | policy get NAME | policy create KIND ID JSON|@FILE | "
    "policy update NAME JSON|@FILE [--etag E] [--fields F,...] | "
    "policy delete NAME [--etag E] "
    "| policy export DIR | policy validate DIR [--server-config FILE] "
    "| policy plan DIR [--prune] [--user users/ID [--only-user]] "
    "[--service NAME] "
    "[--max-users N] [--json] | policy apply DIR [--prune] "
    "[--expect-version V] [--message TEXT] | policy history [--limit N] "
    "| policy diff V1 V2 | policy rollback V [--dry-run] "
    "| policy shadow set DIR [--prune] [--message TEXT] | policy shadow "
    "status [--json] | policy shadow report [--limit N] | policy shadow "
    "clear [--expect-revision R]";

absl::Status PolicyList(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {}, "policy list", 1, 1, "policy list KIND");
  if (!a.ok()) return a.status();
  auto kind = FindKind(a->positional[0], "policy list");
  if (!kind.ok()) return kind.status();
  crm::v1::ListPolicyObjectsRequest request;
  request.set_kind(a->positional[0]);
  crm::v1::ListPolicyObjectsResponse all;
  if (auto st = ListAll(s, absl::StrCat(kPolicyService, "ListPolicyObjects"),
                        request, &all);
      !st.ok()) {
    return st;
  }
  std::vector<const Message*> rows;
  for (const PolicyObject& o : all.objects()) rows.push_back(&Body(o));
  return PrintList(s, all, (*kind)->message_type(), rows);
}

absl::Status PolicyGet(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {}, "policy get", 1, 1, "policy get NAME");
  if (!a.ok()) return a.status();
  auto name = ParsePolicyName(a->positional[0], "policy get");
  if (!name.ok()) return name.status();
  crm::v1::GetPolicyObjectRequest request;
  request.set_name(a->positional[0]);
  PolicyObject reply;
  if (auto st = s.Call(absl::StrCat(kPolicyService, "GetPolicyObject"), request,
                       &reply);
      !st.ok()) {
    return st;
  }
  return s.PrintRecord(Body(reply));
}

absl::Status PolicyCreate(CliSession& s, const Args& args) {
  constexpr char kUsage[] = "policy create KIND ID JSON|@FILE";
  auto a = ParseCommand(args, {}, "policy create", 3, 3, kUsage);
  if (!a.ok()) return a.status();
  auto kind = FindKind(a->positional[0], "policy create");
  if (!kind.ok()) return kind.status();
  crm::v1::CreatePolicyObjectRequest request;
  request.set_id(a->positional[1]);
  if (auto st = ParseBody(a->positional[2], *kind, "policy create",
                          request.mutable_object());
      !st.ok()) {
    return st;
  }
  PolicyObject reply;
  if (auto st = s.Call(absl::StrCat(kPolicyService, "CreatePolicyObject"),
                       request, &reply);
      !st.ok()) {
    return st;
  }
  return s.PrintRecord(Body(reply));
}

absl::Status PolicyUpdate(CliSession& s, const Args& args) {
  constexpr char kUsage[] =
      "policy update NAME JSON|@FILE [--etag E] [--fields F,...]";
  auto a = ParseCommand(args, {{"etag", true}, {"fields", true}},
                        "policy update", 2, 2, kUsage);
  if (!a.ok()) return a.status();
  const std::string& name = a->positional[0];
  auto parsed = ParsePolicyName(name, "policy update");
  if (!parsed.ok()) return parsed.status();
  const FieldDescriptor* kind = parsed->first;
  crm::v1::UpdatePolicyObjectRequest request;
  if (auto st = ParseBody(a->positional[1], kind, "policy update",
                          request.mutable_object());
      !st.ok()) {
    return st;
  }
  Message* body = MutableBody(request.mutable_object(), kind);
  // Org-wide defaults are keyed by their object; every other kind by name.
  const bool by_object =
      body->GetDescriptor()->FindFieldByName("name") == nullptr;
  const char* key = by_object ? "object" : "name";
  const std::string want = by_object ? parsed->second : name;
  const std::string given = GetString(*body, key);
  if (!given.empty() && given != want) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy update: the JSON's ", key, " is '", given,
                     "' but the command "
                     "names ",
                     name, "; leave it out or make them the same"));
  }
  SetString(body, key, want);
  if (a->Has("etag")) SetString(body, "etag", a->Get("etag"));
  // --fields: only those fields are replaced (the rest stay as stored).
  for (absl::string_view f :
       absl::StrSplit(a->Get("fields"), ',', absl::SkipEmpty())) {
    request.mutable_update_mask()->add_paths(std::string(f));
  }
  PolicyObject reply;
  if (auto st = s.Call(absl::StrCat(kPolicyService, "UpdatePolicyObject"),
                       request, &reply);
      !st.ok()) {
    return st;
  }
  return s.PrintRecord(Body(reply));
}

absl::Status PolicyDelete(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {{"etag", true}}, "policy delete", 1, 1,
                        "policy delete NAME [--etag E]");
  if (!a.ok()) return a.status();
  auto name = ParsePolicyName(a->positional[0], "policy delete");
  if (!name.ok()) return name.status();
  crm::v1::DeletePolicyObjectRequest request;
  request.set_name(a->positional[0]);
  request.set_etag(a->Get("etag"));
  google::protobuf::Empty reply;
  if (auto st = s.Call(absl::StrCat(kPolicyService, "DeletePolicyObject"),
                       request, &reply);
      !st.ok()) {
    return st;
  }
  s.out() << "deleted " << a->positional[0] << "\n";
  return absl::OkStatus();
}

// --- Sharing -------------------------------------------------------------

// "accounts/acme": a name in a known collection.
absl::StatusOr<std::string> RecordName(const std::string& arg,
                                       absl::string_view command) {
  std::pair<std::string, std::string> parts =
      absl::StrSplit(arg, absl::MaxSplits('/', 1));
  if (parts.second.empty() || absl::StrContains(parts.second, '/') ||
      !FindResource(parts.first).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(command, ": '", arg,
                     "' is not a record name; use COLLECTION/ID, e.g. "
                     "accounts/acme, with COLLECTION one of ",
                     absl::StrJoin(Collections(), ", ")));
  }
  return arg;
}

absl::StatusOr<crm::v1::Grantee> ParseGrantee(const std::string& arg) {
  std::pair<std::string, std::string> parts =
      absl::StrSplit(arg, absl::MaxSplits('/', 1));
  crm::v1::Grantee g;
  const std::string& id = parts.second;
  if (!id.empty() && !absl::StrContains(id, '/')) {
    if (parts.first == "users") {
      g.set_user(arg);
      return g;
    }
    if (parts.first == "roles") {
      g.set_role(arg);
      return g;
    }
    if (parts.first == "roleAndSubordinates") {
      g.set_role_and_subordinates(absl::StrCat("roles/", id));
      return g;
    }
    if (parts.first == "groups") {
      g.set_group(arg);
      return g;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "share: grantee '", arg,
      "' is not valid; use users/ID, roles/ID, "
      "roleAndSubordinates/ID (the role and every role below it) or "
      "groups/ID"));
}

absl::StatusOr<crm::v1::AccessLevel> ParseAccess(const std::string& arg) {
  std::string level = absl::AsciiStrToLower(arg);
  if (level == "read") return crm::v1::READ;
  if (level == "read_write" || level == "read-write")
    return crm::v1::READ_WRITE;
  return absl::InvalidArgumentError(absl::StrCat(
      "share: access '", arg, "' is not valid; use read or read_write"));
}

// A grantee as `share` takes it: users/ID, roles/ID, roleAndSubordinates/ID
// or groups/ID.
std::string GranteeText(const crm::v1::Grantee& g) {
  switch (g.kind_case()) {
    case crm::v1::Grantee::kUser:
      return g.user();
    case crm::v1::Grantee::kRole:
      return g.role();
    case crm::v1::Grantee::kRoleAndSubordinates: {
      absl::string_view id = g.role_and_subordinates();
      absl::ConsumePrefix(&id, "roles/");
      return absl::StrCat("roleAndSubordinates/", id);
    }
    case crm::v1::Grantee::kGroup:
      return g.group();
    case crm::v1::Grantee::KIND_NOT_SET:
      break;
  }
  return "";
}

// Shares as a table with their full names (for `unshare`), unlike
// FormatList, which cuts long cells.
std::string SharesTable(const crm::v1::ListRecordSharesResponse& all) {
  if (all.shares().empty()) return "(no shares)\n";
  const auto* d = crm::v1::RecordShare::descriptor();
  std::vector<std::vector<std::string>> rows;
  for (const auto& share : all.shares()) {
    rows.push_back(
        {share.name(), GranteeText(share.grantee()),
         FormatFieldValue(share, d->FindFieldByName("access")),
         share.created_by(),
         FormatFieldValue(share, d->FindFieldByName("create_time"))});
  }
  return FormatTable({"name", "grantee", "access", "created_by", "create_time"},
                     rows);
}

}  // namespace

absl::Status RunPolicy(CliSession& s, const Args& args) {
  struct Verb {
    const char* name;
    absl::Status (*run)(CliSession&, const Args&);
  };
  static constexpr Verb kVerbs[] = {
      {"list", PolicyList},        {"get", PolicyGet},
      {"create", PolicyCreate},    {"update", PolicyUpdate},
      {"delete", PolicyDelete},    {"export", PolicyExport},
      {"validate", PolicyValidate}, {"plan", PolicyPlan},
      {"apply", PolicyApply},      {"history", PolicyHistory},
      {"diff", PolicyDiff},        {"rollback", PolicyRollback},
      {"shadow", PolicyShadow}};
  if (args.empty()) return Usage(kPolicyUsage);
  for (const Verb& v : kVerbs) {
    if (args[0] == v.name) return v.run(s, Args(args.begin() + 1, args.end()));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "policy: unknown verb '", args[0], "'; usage: crmctl ", kPolicyUsage));
}

absl::Status RunShare(CliSession& s, const Args& args) {
  constexpr char kUsage[] = "share RECORD GRANTEE [read|read_write]";
  auto a = ParseCommand(args, {}, "share", 2, 3, kUsage);
  if (!a.ok()) return a.status();
  crm::v1::ShareRecordRequest request;
  auto record = RecordName(a->positional[0], "share");
  if (!record.ok()) return record.status();
  request.set_record(*record);
  auto grantee = ParseGrantee(a->positional[1]);
  if (!grantee.ok()) return grantee.status();
  *request.mutable_grantee() = *grantee;
  auto access =
      ParseAccess(a->positional.size() == 3 ? a->positional[2] : "read");
  if (!access.ok()) return access.status();
  request.set_access(*access);
  crm::v1::RecordShare reply;
  if (auto st =
          s.Call(absl::StrCat(kSharingService, "ShareRecord"), request, &reply);
      !st.ok()) {
    return st;
  }
  return s.PrintRecord(reply);
}

absl::Status RunUnshare(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {}, "unshare", 1, 1, "unshare SHARE");
  if (!a.ok()) return a.status();
  const std::string& name = a->positional[0];
  if (!absl::StrContains(name, "/shares/")) {
    return absl::InvalidArgumentError(
        absl::StrCat("unshare: '", name,
                     "' is not a share name; use the name `crmctl "
                     "shares RECORD` prints, e.g. accounts/acme/shares/ID"));
  }
  crm::v1::UnshareRecordRequest request;
  request.set_name(name);
  google::protobuf::Empty reply;
  if (auto st = s.Call(absl::StrCat(kSharingService, "UnshareRecord"), request,
                       &reply);
      !st.ok()) {
    return st;
  }
  s.out() << "unshared " << name << "\n";
  return absl::OkStatus();
}

absl::Status RunShares(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {}, "shares", 1, 1, "shares RECORD");
  if (!a.ok()) return a.status();
  auto record = RecordName(a->positional[0], "shares");
  if (!record.ok()) return record.status();
  crm::v1::ListRecordSharesRequest request;
  request.set_record(*record);
  crm::v1::ListRecordSharesResponse all;
  if (auto st = ListAll(s, absl::StrCat(kSharingService, "ListRecordShares"),
                        request, &all);
      !st.ok()) {
    return st;
  }
  if (s.globals().output == OutputFormat::kJson) return s.PrintJson(all);
  s.out() << SharesTable(all);
  return absl::OkStatus();
}

absl::Status RunTransfer(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {{"etag", true}}, "transfer", 2, 2,
                        "transfer RECORD NEW_OWNER [--etag E]");
  if (!a.ok()) return a.status();
  auto record = RecordName(a->positional[0], "transfer");
  if (!record.ok()) return record.status();
  std::string owner = a->positional[1];
  if (!absl::StartsWith(owner, "users/")) owner = absl::StrCat("users/", owner);
  crm::v1::TransferRecordRequest request;
  request.set_record(*record);
  request.set_new_owner(owner);
  request.set_etag(a->Get("etag"));
  crm::v1::TransferRecordResponse reply;
  if (auto st = s.Call(absl::StrCat(kSharingService, "TransferRecord"), request,
                       &reply);
      !st.ok()) {
    return st;
  }
  return s.PrintRecord(reply);
}

}  // namespace crm::client
