#include "clients/access_commands.h"

#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/numbers.h"
#include "clients/access_report.h"
#include "clients/cli_args.h"
#include "clients/error_details.h"
#include "clients/output_format.h"
#include "crm/v1/access_review_service.pb.h"
#include "google/protobuf/util/time_util.h"

namespace crm::client {
namespace {

using Args = std::vector<std::string>;
using google::protobuf::RepeatedPtrField;

constexpr char kService[] = "crm.v1.AccessReviewService/";
constexpr char kUsage[] =
    "access explain USER RECORD|OBJECT ACTION [--service S] [--field F] "
    "[--from ADDRESS] | accessors RECORD [--service S] | summary USER "
    "[OBJECT...] [--service S] | permissions USER [--service S] | matrix "
    "FILE.csv|- [--service S] | report [--html FILE] [--dormant-days N] "
    "[--changes-days N]  (explain, accessors, summary, permissions and "
    "report take --json)";

bool Json(CliSession& s, const CommandArgs& a) {
  return a.Has("json") || s.globals().output == OutputFormat::kJson;
}

std::string UserName(const std::string& arg) {
  return absl::StartsWith(arg, "users/") ? arg : absl::StrCat("users/", arg);
}

absl::StatusOr<crm::v1::AccessAction> ParseAction(const std::string& arg) {
  const std::string name =
      absl::StrCat("ACTION_", absl::AsciiStrToUpper(arg));
  crm::v1::AccessAction action;
  if (!crm::v1::AccessAction_Parse(name, &action) ||
      action == crm::v1::ACCESS_ACTION_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(
        "access explain: '", arg,
        "' is not an action; use read, create, edit, delete, share or "
        "transfer"));
  }
  return action;
}

std::string Sources(const RepeatedPtrField<crm::v1::PermissionSource>& list) {
  std::vector<std::string> out;
  for (const auto& s : list) {
    out.push_back(s.assigned_to().empty()
                      ? s.grant()
                      : absl::StrCat(s.grant(), " (", s.assigned_to(), ")"));
  }
  return out.empty() ? "-" : absl::StrJoin(out, ", ");
}

const char* YesNo(bool b) { return b ? "yes" : "no"; }

std::string LayerName(crm::v1::AccessLayer layer) {
  switch (layer) {
    case crm::v1::LAYER_PRINCIPAL:
      return "principal (user or service)";
    case crm::v1::LAYER_LOGIN_RESTRICTION:
      return "login restriction";
    case crm::v1::LAYER_OBJECT_PERMISSION:
      return "object permission";
    case crm::v1::LAYER_RECORD_ACCESS:
      return "record access";
    case crm::v1::LAYER_FIELD:
      return "field permission";
    default:
      return "-";
  }
}

std::string PathsTable(
    const RepeatedPtrField<crm::v1::RecordAccessPath>& paths) {
  if (paths.empty()) return "  (no grant reaches the record)\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : paths) {
    rows.push_back({p.kind(), p.level(), YesNo(p.sufficient()),
                    absl::StrJoin(p.via(), " > "),
                    p.parent().empty() ? "-" : p.parent()});
  }
  return FormatTable({"path", "level", "enough", "via", "through parent"},
                     rows);
}

// A field readable and writable by default (no permission set mentions
// it and it is not sensitive), for the user and the service alike.
bool PlainField(const crm::v1::FieldAccessExplanation& f) {
  return f.readable() && f.writable() &&
         Sources(f.user_edit_sources()) == "default" &&
         Sources(f.service_edit_sources()) == "default";
}

constexpr char kPlainFields[] =
    "(other fields: read and edit by default: not sensitive, no permission "
    "set mentions them)\n";

// The fields that are not plain, as a table (every field with `all`).
std::string FieldsTable(
    const RepeatedPtrField<crm::v1::FieldAccessExplanation>& all_fields,
    bool with_object) {
  RepeatedPtrField<crm::v1::FieldAccessExplanation> fields;
  for (const auto& f : all_fields) {
    if (!PlainField(f)) *fields.Add() = f;
  }
  if (fields.empty()) return std::string("  (none)\n") + kPlainFields;
  std::vector<std::vector<std::string>> rows;
  for (const auto& f : fields) {
    rows.push_back(
        {with_object ? absl::StrCat(f.object(), ".", f.field()) : f.field(),
         YesNo(f.readable()), YesNo(f.writable()),
         absl::StrCat("user: ", Sources(f.user_read_sources()),
                      "; service: ", Sources(f.service_read_sources())),
         absl::StrCat("user: ", Sources(f.user_edit_sources()),
                      "; service: ", Sources(f.service_edit_sources()))});
  }
  return FormatTable({"field", "read", "edit", "read granted by",
                      "edit granted by"},
                     rows) +
         kPlainFields;
}

absl::Status Explain(CliSession& s, const Args& args) {
  auto a = ParseCommand(args,
                        {{"service", true}, {"field", true}, {"from", true},
                         {"json", false}},
                        "access explain", 3, 3,
                        "access explain USER RECORD|OBJECT ACTION "
                        "[--service S] [--field F] [--from ADDRESS] [--json]");
  if (!a.ok()) return a.status();
  crm::v1::ExplainAccessRequest request;
  request.set_user(UserName(a->positional[0]));
  if (absl::StrContains(a->positional[1], '/')) {
    request.set_record(a->positional[1]);
  } else {
    request.set_object(a->positional[1]);
  }
  auto action = ParseAction(a->positional[2]);
  if (!action.ok()) return action.status();
  request.set_action(*action);
  request.set_service(a->Get("service"));
  request.set_field(a->Get("field"));
  request.set_client_address(a->Get("from"));
  crm::v1::AccessExplanation e;
  if (auto st = s.Call(absl::StrCat(kService, "ExplainAccess"), request, &e);
      !st.ok()) {
    return st;
  }
  if (Json(s, *a)) return s.PrintJson(e);
  std::ostream& out = s.out();
  const std::string target = e.record().empty() ? e.object() : e.record();
  out << (e.allowed() ? "ALLOWED" : "REFUSED") << ": " << e.user() << " "
      << a->positional[2] << " " << target << " (acting through "
      << e.service() << ", policy version " << e.policy_version() << ")\n";
  if (!e.allowed()) {
    out << "refused by: " << LayerName(e.refused_layer()) << "\n";
  }
  out << "decided by: " << e.rule() << "\n";
  if (!e.reason().empty()) out << "reason: " << e.reason() << "\n";
  out << "login restrictions: " << e.login() << "\n";
  const auto& op = e.object_permission();
  out << "object permission: " << (op.allowed() ? "allowed" : "refused")
      << " (" << op.rule() << "); user: " << Sources(op.user_sources())
      << "; service: " << Sources(op.service_sources()) << "\n";
  if (!e.record().empty()) {
    out << "record access level: " << e.record_level() << "\n"
        << "grants that reach the record:\n"
        << PathsTable(e.paths());
    if (!e.restrictions().empty()) {
      std::vector<std::vector<std::string>> rows;
      for (const auto& r : e.restrictions()) {
        rows.push_back({r.rule(), r.passed() ? "passed" : "FAILED (narrows)",
                        r.parent().empty() ? "-" : r.parent()});
      }
      out << "restriction rules:\n"
          << FormatTable({"rule", "record", "on parent"}, rows);
    }
  }
  out << "fields:\n" << FieldsTable(e.fields(), false);
  return absl::OkStatus();
}

absl::Status Accessors(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {{"service", true}, {"json", false}},
                        "access accessors", 1, 1,
                        "access accessors RECORD [--service S] [--json]");
  if (!a.ok()) return a.status();
  crm::v1::ListRecordAccessorsRequest request;
  request.set_record(a->positional[0]);
  request.set_service(a->Get("service"));
  request.set_page_size(1000);
  crm::v1::ListRecordAccessorsResponse all;
  if (auto st = ListAll(s, absl::StrCat(kService, "ListRecordAccessors"),
                        request, &all);
      !st.ok()) {
    return st;
  }
  if (Json(s, *a)) return s.PrintJson(all);
  if (all.accessors().empty()) {
    s.out() << "(nobody can read " << a->positional[0] << ")\n";
    return absl::OkStatus();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& acc : all.accessors()) {
    std::vector<std::string> paths;
    for (const auto& p : acc.paths()) {
      std::string text = absl::StrCat(p.kind(), " (", p.level(), ")");
      if (!p.via().empty()) {
        absl::StrAppend(&text, " via ", absl::StrJoin(p.via(), " > "));
      }
      if (!p.parent().empty()) absl::StrAppend(&text, " on ", p.parent());
      paths.push_back(text);
    }
    rows.push_back({acc.user(), acc.level(), YesNo(acc.can_read()),
                    YesNo(acc.can_edit()), YesNo(acc.can_delete()),
                    absl::StrJoin(paths, "; ")});
  }
  s.out() << FormatTable({"user", "level", "read", "edit", "delete", "paths"},
                         rows);
  return absl::OkStatus();
}

absl::Status Summary(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {{"service", true}, {"json", false}},
                        "access summary", 1, 100,
                        "access summary USER [OBJECT...] [--service S] "
                        "[--json]");
  if (!a.ok()) return a.status();
  crm::v1::SummarizeUserAccessRequest request;
  request.set_user(UserName(a->positional[0]));
  request.set_service(a->Get("service"));
  for (size_t i = 1; i < a->positional.size(); ++i) {
    request.add_objects(a->positional[i]);
  }
  crm::v1::UserAccessSummary summary;
  if (auto st = s.Call(absl::StrCat(kService, "SummarizeUserAccess"), request,
                       &summary);
      !st.ok()) {
    return st;
  }
  if (Json(s, *a)) return s.PrintJson(summary);
  s.out() << summary.user() << " acting through " << summary.service()
          << " (policy version " << summary.policy_version() << ")\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& o : summary.objects()) {
    auto count = [](bool allowed, int64_t n) {
      return allowed ? absl::StrCat(n) : std::string("-");
    };
    rows.push_back({o.object(), count(o.can_read(), o.readable_records()),
                    count(o.can_edit(), o.editable_records()),
                    count(o.can_delete(), o.deletable_records()),
                    o.plan().empty() ? "-" : o.plan()});
  }
  s.out() << FormatTable({"object", "readable", "editable", "deletable",
                          "filter"},
                         rows);
  for (const auto& o : summary.objects()) {
    if (o.grants().empty()) continue;
    s.out() << o.object() << ":\n";
    for (const auto& g : o.grants()) s.out() << "  " << g << "\n";
  }
  return absl::OkStatus();
}

absl::Status Permissions(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {{"service", true}, {"json", false}},
                        "access permissions", 1, 1,
                        "access permissions USER [--service S] [--json]");
  if (!a.ok()) return a.status();
  crm::v1::EffectivePermissionsRequest request;
  request.set_user(UserName(a->positional[0]));
  request.set_service(a->Get("service"));
  crm::v1::EffectivePermissionsResponse p;
  if (auto st = s.Call(absl::StrCat(kService, "EffectivePermissions"), request,
                       &p);
      !st.ok()) {
    return st;
  }
  if (Json(s, *a)) return s.PrintJson(p);
  std::ostream& out = s.out();
  out << p.user() << " (" << (p.active() ? "active" : "INACTIVE")
      << ", profile " << (p.profile().empty() ? "-" : p.profile())
      << ", role " << (p.role().empty() ? "-" : p.role())
      << ") acting through " << p.service() << "\n";
  auto grants = [](const RepeatedPtrField<crm::v1::ObjectGrant>& list) {
    std::vector<std::string> out;
    for (const auto& g : list) {
      out.push_back(absl::StrCat(g.source().grant(), " (",
                                 g.source().assigned_to(), "): ",
                                 absl::StrJoin(g.permissions(), ",")));
    }
    return out.empty() ? std::string("-") : absl::StrJoin(out, "; ");
  };
  std::vector<std::vector<std::string>> rows;
  for (const auto& o : p.objects()) {
    std::vector<std::string> held;
    if (o.read()) held.push_back("read");
    if (o.create()) held.push_back("create");
    if (o.edit()) held.push_back("edit");
    if (o.delete_()) held.push_back("delete");
    if (o.view_all()) held.push_back("view_all");
    if (o.modify_all()) held.push_back("modify_all");
    rows.push_back({o.object(), held.empty() ? "-" : absl::StrJoin(held, ","),
                    grants(o.user_grants()), grants(o.service_grants())});
  }
  out << "object permissions:\n"
      << FormatTable({"object", "effective", "user's grants",
                      "service's grants"},
                     rows);
  out << "field permissions:\n" << FieldsTable(p.fields(), true);
  rows.clear();
  for (const auto& sp : p.system_permissions()) {
    rows.push_back({absl::AsciiStrToLower(
                        crm::v1::SystemPermission_Name(sp.permission())),
                    YesNo(sp.held()),
                    sp.user_grant().empty() ? "-" : sp.user_grant(),
                    sp.service_grant().empty() ? "-" : sp.service_grant()});
  }
  out << "system permissions:\n"
      << FormatTable({"permission", "held", "user's grant", "service's grant"},
                     rows);
  return absl::OkStatus();
}

absl::Status Matrix(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {{"service", true}}, "access matrix", 1, 1,
                        "access matrix FILE.csv|- [--service S]");
  if (!a.ok()) return a.status();
  crm::v1::ExportAccessMatrixRequest request;
  request.set_service(a->Get("service"));
  auto client = s.Client();
  if (!client.ok()) return client.status();
  int64_t users = 0;
  int64_t version = 0;
  absl::Status st = WriteOutput(s, a->positional[0], [&](std::ostream& out) {
    auto context = (*client)->NewContext();
    auto reader =
        (*client)->access_review().ExportAccessMatrix(context.get(), request);
    crm::v1::AccessMatrixChunk chunk;
    while (reader->Read(&chunk)) {
      version = chunk.policy_version();
      for (const crm::v1::AccessMatrixRow& row : chunk.rows()) {
        if (users++ == 0) out << AccessMatrixCsvHeader(row);
        out << AccessMatrixCsvRow(row);
      }
    }
    grpc::Status status = reader->Finish();
    return status.ok() ? absl::OkStatus() : RpcError(ToAbslStatus(status));
  });
  if (!st.ok()) return st;
  if (a->positional[0] != "-") {
    s.err() << "wrote " << users << " users to " << a->positional[0]
            << " (policy version " << version << ")\n";
  }
  return absl::OkStatus();
}

absl::Status Report(CliSession& s, const Args& args) {
  auto a = ParseCommand(args,
                        {{"html", true},
                         {"dormant-days", true},
                         {"changes-days", true},
                         {"json", false}},
                        "access report", 0, 0,
                        "access report [--html FILE] [--dormant-days N] "
                        "[--changes-days N] [--json]");
  if (!a.ok()) return a.status();
  crm::v1::GetAccessReviewReportRequest request;
  for (const char* flag : {"dormant-days", "changes-days"}) {
    if (!a->Has(flag)) continue;
    int days = 0;
    if (!absl::SimpleAtoi(a->Get(flag), &days) || days <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "access report: --", flag, " expects a number of days (1-3650)"));
    }
    if (std::string(flag) == "dormant-days") {
      request.set_dormant_days(days);
    } else {
      request.set_changes_days(days);
    }
  }
  crm::v1::AccessReviewReport report;
  if (auto st = s.Call(absl::StrCat(kService, "GetAccessReviewReport"),
                       request, &report);
      !st.ok()) {
    return st;
  }
  if (a->Has("html")) {
    const std::string& path = a->Get("html");
    absl::Status st = WriteOutput(s, path, [&](std::ostream& out) {
      out << AccessReviewHtml(report);
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    if (path != "-") s.err() << "wrote the access review to " << path << "\n";
    return absl::OkStatus();
  }
  if (Json(s, *a)) return s.PrintJson(report);
  std::ostream& out = s.out();
  out << "access review, policy version " << report.policy_version() << ": "
      << report.total_users() << " users (" << report.active_users()
      << " active)\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& u : report.privileged_users()) {
    for (const auto& g : u.privileges()) {
      rows.push_back({u.user(), u.username(), g.privilege(),
                      absl::StrJoin(g.sources(), "; ")});
    }
  }
  out << "privileged users:\n"
      << FormatTable({"user", "username", "privilege", "granted by"}, rows);
  rows.clear();
  for (const auto& p : report.profiles()) {
    rows.push_back({p.profile(), p.display_name(),
                    absl::StrCat(p.active_users()),
                    absl::StrCat(p.inactive_users())});
  }
  out << "users per profile:\n"
      << FormatTable({"profile", "name", "active", "inactive"}, rows);
  rows.clear();
  for (const auto& d : report.dormant_users()) {
    rows.push_back({d.user(), d.username(), d.profile(),
                    d.has_last_login() ? google::protobuf::util::TimeUtil::
                                             ToString(d.last_login())
                                       : "none"});
  }
  out << "dormant users (no login in " << report.dormant_days()
      << " days):\n"
      << FormatTable({"user", "username", "profile", "last login"}, rows);
  out << report.policy_changes_size()
      << (report.policy_changes_truncated() ? "+" : "")
      << " policy changes in the last " << report.changes_days()
      << " days (crmctl audit list --filter 'action = \"policy.update\"' for "
         "details)\n";
  return absl::OkStatus();
}

}  // namespace

absl::Status RunAccess(CliSession& s, const Args& args) {
  struct Verb {
    const char* name;
    absl::Status (*run)(CliSession&, const Args&);
  };
  static constexpr Verb kVerbs[] = {{"explain", Explain},
                                    {"accessors", Accessors},
                                    {"summary", Summary},
                                    {"permissions", Permissions},
                                    {"matrix", Matrix},
                                    {"report", Report}};
  if (!args.empty()) {
    for (const Verb& v : kVerbs) {
      if (args[0] == v.name) return v.run(s, Args(args.begin() + 1, args.end()));
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "access: ", args.empty() ? "missing verb" : "unknown verb '" + args[0] + "'",
      "; usage: crmctl ", kUsage));
}

}  // namespace crm::client
