#include "clients/policy_bundle_commands.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clients/output_format.h"
#include "clients/cli_args.h"
#include "crm/internal/server_config.pb.h"
#include "crm/v1/admin_service.pb.h"
#include "crm/v1/user_admin_service.pb.h"
#include "google/protobuf/text_format.h"
#include "model/object_schema.h"

namespace crm::client {
namespace {

namespace fs = std::filesystem;
using Args = std::vector<std::string>;

absl::StatusOr<std::string> ReadFile(const fs::path& path,
                                     absl::string_view command) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(command, ": cannot read '", path.string(), "'"));
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Writes `text` to `path` unless it already holds exactly that.
absl::StatusOr<bool> WriteIfChanged(const fs::path& path,
                                    const std::string& text) {
  if (fs::exists(path)) {
    auto old = ReadFile(path, "policy export");
    if (old.ok() && *old == text) return false;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy export: cannot write '", path.string(), "'"));
  }
  return true;
}

}  // namespace

absl::StatusOr<policy::BundleFiles> ReadBundleDirectory(
    const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", dir, "' is not a directory"));
  }
  policy::BundleFiles files;
  fs::recursive_directory_iterator it(dir, ec), end;
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read '", dir, "': ", ec.message()));
  }
  for (; it != end; it.increment(ec)) {
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read '", dir, "': ", ec.message()));
    }
    const std::string leaf = it->path().filename().string();
    if (absl::StartsWith(leaf, ".")) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    if (it.depth() == 0) continue;  // DIR's own files (a README)
    const std::string relative = fs::relative(it->path(), dir).generic_string();
    auto text = ReadFile(it->path(), "policy validate");
    if (!text.ok()) return text.status();
    files[relative] = *std::move(text);
  }
  return files;
}

absl::Status PolicyExport(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {}, "policy export", 1, 1, "policy export DIR");
  if (!a.ok()) return a.status();
  const fs::path dir = a->positional[0];

  // Read everything first: nothing is written unless the whole policy was.
  policy::PolicyBundle bundle;
  for (const std::string& kind : policy::BundleKinds()) {
    if (kind == "profiles") continue;
    crm::v1::ListPolicyObjectsRequest request;
    request.set_kind(kind);
    request.set_page_size(1000);
    crm::v1::ListPolicyObjectsResponse all;
    if (auto st = ListAll(s, "crm.v1.PolicyAdminService/ListPolicyObjects",
                          request, &all);
        !st.ok()) {
      return st;
    }
    for (const auto& o : all.objects()) bundle.Add(o);
  }
  crm::v1::ListProfilesRequest profiles_request;
  profiles_request.set_page_size(1000);
  crm::v1::ListProfilesResponse profiles;
  if (auto st = ListAll(s, "crm.v1.UserAdminService/ListProfiles",
                        profiles_request, &profiles);
      !st.ok()) {
    return st;
  }
  for (const auto& p : profiles.profiles()) bundle.Add(p);
  const policy::BundleFiles files = policy::RenderBundle(bundle);

  std::error_code ec;
  int written = 0, removed = 0;
  for (const std::string& kind : policy::BundleKinds()) {
    fs::create_directories(dir / kind, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy export: cannot create '", (dir / kind).string(),
                       "': ", ec.message()));
    }
    // Stale files: objects the server no longer has.
    for (const auto& entry : fs::directory_iterator(dir / kind, ec)) {
      const std::string relative =
          absl::StrCat(kind, "/", entry.path().filename().string());
      if (entry.is_regular_file() &&
          absl::EndsWith(relative, policy::kBundleExtension) &&
          !files.count(relative)) {
        fs::remove(entry.path(), ec);
        ++removed;
      }
    }
  }
  for (const auto& [relative, text] : files) {
    auto changed = WriteIfChanged(dir / relative, text);
    if (!changed.ok()) return changed.status();
    written += *changed ? 1 : 0;
  }
  s.out() << "exported " << files.size() << " objects to " << dir.string()
          << " (" << written << " written, " << files.size() - written
          << " unchanged, " << removed << " removed)\n";
  return absl::OkStatus();
}

absl::Status PolicyValidate(CliSession& s, const Args& args) {
  constexpr char kUsage[] = "policy validate DIR [--server-config FILE]";
  auto a = ParseCommand(args, {{"server-config", true}}, "policy validate", 1,
                        1, kUsage);
  if (!a.ok()) return a.status();
  const std::string dir = a->positional[0];
  auto files = ReadBundleDirectory(dir);
  if (!files.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy validate: ", files.status().message()));
  }
  crm::internal::ServerConfig config;
  policy::ValidateOptions options;
  if (a->Has("server-config")) {
    auto text = ReadFile(a->Get("server-config"), "policy validate");
    if (!text.ok()) return text.status();
    if (!google::protobuf::TextFormat::ParseFromString(*text, &config)) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy validate: '", a->Get("server-config"),
                       "' is not a server configuration "
                       "(crm.internal.ServerConfig in text format)"));
    }
    options.services = &config.services();
  }
  const std::vector<policy::BundleError> errors =
      policy::ValidateBundle(*files, model::SchemaRegistry::Default(), options);
  const std::string prefix = absl::EndsWith(dir, "/") ? dir : dir + "/";
  for (const policy::BundleError& e : errors) {
    s.err() << (e.location.file.empty() ? "" : prefix) << e.ToString() << "\n";
  }
  if (!errors.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy validate: ", errors.size(),
                     errors.size() == 1 ? " error" : " errors", " in ", dir));
  }
  s.out() << dir << ": " << files->size() << " objects; the policy compiles\n";
  return absl::OkStatus();
}

namespace {

constexpr char kPolicyService[] = "crm.v1.PolicyAdminService/";

// A value of a field change as the audit trail records it (JSON text:
// strings quoted, enums by name).
std::string Value(const crm::v1::AuditFieldChange& c, bool after) {
  if (!c.values_recorded()) return "(not recorded)";
  const bool has = after ? c.has_after() : c.has_before();
  if (!has) return "(none)";
  return after ? c.after() : c.before();
}

char KindMark(crm::v1::PolicyObjectChange::Kind k) {
  switch (k) {
    case crm::v1::PolicyObjectChange::ADDED:
      return '+';
    case crm::v1::PolicyObjectChange::REMOVED:
      return '-';
    default:
      return '~';
  }
}

std::string Join(const google::protobuf::RepeatedPtrField<std::string>& v) {
  return absl::StrJoin(v, ", ");
}

std::string PermissionList(const google::protobuf::RepeatedField<int>& v) {
  std::vector<std::string> names;
  for (int p : v) {
    names.push_back(absl::AsciiStrToLower(crm::v1::SystemPermission_Name(
        static_cast<crm::v1::SystemPermission>(p))));
  }
  return absl::StrJoin(names, ", ");
}

void PrintUser(std::ostream& out, const crm::v1::UserAccessDelta& u) {
  out << "  " << u.user() << "\n";
  bool any = false;
  for (const crm::v1::ObjectAccessDelta& o : u.objects()) {
    any = true;
    if (!o.operations_gained().empty()) {
      out << "    " << o.object() << ": may now " << Join(o.operations_gained())
          << "\n";
    }
    if (!o.operations_lost().empty()) {
      out << "    " << o.object() << ": may no longer "
          << Join(o.operations_lost()) << "\n";
    }
    if (o.records_counted() &&
        (o.records_gained() != 0 || o.records_lost() != 0)) {
      out << "    " << o.object() << ": +" << o.records_gained() << " / -"
          << o.records_lost() << " records (readable " << o.readable_before()
          << " -> " << o.readable_after() << ")";
      if (!o.examples_gained().empty()) {
        out << "; gains e.g. " << Join(o.examples_gained());
      }
      if (!o.examples_lost().empty()) {
        out << "; loses e.g. " << Join(o.examples_lost());
      }
      out << "\n";
    } else if (!o.records_counted() &&
               !o.record_operations_changed().empty()) {
      out << "    " << o.object() << ": records to "
          << Join(o.record_operations_changed())
          << " change (not counted; --user " << u.user() << " counts them)\n";
    }
    if (!o.readable_fields_gained().empty()) {
      out << "    " << o.object() << ": reads fields "
          << Join(o.readable_fields_gained()) << "\n";
    }
    if (!o.readable_fields_lost().empty()) {
      out << "    " << o.object() << ": no longer reads fields "
          << Join(o.readable_fields_lost()) << "\n";
    }
    if (!o.writable_fields_gained().empty()) {
      out << "    " << o.object() << ": writes fields "
          << Join(o.writable_fields_gained()) << "\n";
    }
    if (!o.writable_fields_lost().empty()) {
      out << "    " << o.object() << ": no longer writes fields "
          << Join(o.writable_fields_lost()) << "\n";
    }
  }
  if (!u.system_permissions_gained().empty()) {
    any = true;
    out << "    system permissions gained: "
        << PermissionList(u.system_permissions_gained()) << "\n";
  }
  if (!u.system_permissions_lost().empty()) {
    any = true;
    out << "    system permissions lost: "
        << PermissionList(u.system_permissions_lost()) << "\n";
  }
  if (u.login_restrictions_changed()) {
    any = true;
    out << "    login: " << u.login_restrictions_before() << " -> "
        << u.login_restrictions_after() << "\n";
  }
  if (!any) out << "    no change\n";
}

const char* KindWord(crm::v1::PolicyObjectChange::Kind k) {
  switch (k) {
    case crm::v1::PolicyObjectChange::ADDED:
      return "added";
    case crm::v1::PolicyObjectChange::REMOVED:
      return "removed";
    default:
      return "changed";
  }
}

// `dir` names what was planned; `hint`: end with the apply command for it.
void PrintPlan(std::ostream& out, const crm::v1::PolicyPlan& plan,
               const std::string& dir, bool prune, bool hint = true) {
  if (plan.no_change()) {
    out << "no change: the live policy (version " << plan.base_version()
        << ") is already " << dir << "\n";
    return;
  }
  out << "Plan against version " << plan.base_version() << ": "
      << plan.changes_size() << " object(s) change\n";
  PrintPolicyChanges(out, plan.changes());
  out << "\nAccess impact: " << plan.users_size() << " user(s)\n";
  for (const crm::v1::UserAccessDelta& u : plan.users()) PrintUser(out, u);
  if (!plan.grants().empty()) out << "\nBy change:\n";
  for (const crm::v1::GrantImpact& g : plan.grants()) {
    out << "  " << g.object() << " (" << KindWord(g.kind()) << ")";
    if (!g.examined()) {
      out << ": not examined alone (too many changes)\n";
      continue;
    }
    if (!g.evaluable_alone()) {
      out << ": depends on other changes of the bundle; see the users above\n";
      continue;
    }
    if (absl::StartsWith(g.object(), "sharingRules/")) {
      out << ": selects " << g.rule_records_before() << " -> "
          << g.rule_records_after() << " records";
    }
    out << "\n";
    if (!g.users_gaining().empty()) {
      out << "      gaining: " << Join(g.users_gaining()) << "\n";
    }
    if (!g.users_losing().empty()) {
      out << "      losing: " << Join(g.users_losing()) << "\n";
    }
    if (!g.users_changing().empty()) {
      out << "      changing: " << Join(g.users_changing()) << "\n";
    }
    if (g.users_gaining().empty() && g.users_losing().empty() &&
        g.users_changing().empty()) {
      out << "      no user's access changes\n";
    }
  }
  if (!hint) return;
  out << "\nApply with: crmctl policy apply " << dir
      << (prune ? " --prune" : "") << " --expect-version "
      << plan.base_version() << "\n";
}

absl::StatusOr<int64_t> VersionArg(const std::string& text,
                                   absl::string_view what) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(text, &v) || v <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": '", text, "' is not a policy version (1, 2, ...)"));
  }
  return v;
}

}  // namespace

absl::Status ReadBundleInto(const std::string& dir, absl::string_view command,
                            crm::v1::PolicyBundleFiles* out) {
  auto files = ReadBundleDirectory(dir);
  if (!files.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(command, ": ", files.status().message()));
  }
  for (auto& [path, text] : *files) (*out->mutable_files())[path] = text;
  return absl::OkStatus();
}

void PrintPolicyChanges(
    std::ostream& out,
    const google::protobuf::RepeatedPtrField<crm::v1::PolicyObjectChange>&
        changes) {
  for (const crm::v1::PolicyObjectChange& c : changes) {
    out << "  " << KindMark(c.kind()) << " " << c.name() << "\n";
    for (const crm::v1::AuditFieldChange& f : c.changes()) {
      out << "      " << f.field() << ": " << Value(f, false) << " -> "
          << Value(f, true) << "\n";
    }
  }
}


absl::Status PolicyPlan(CliSession& s, const Args& args) {
  constexpr char kUsage[] =
      "policy plan DIR [--prune] [--user users/ID [--only-user]] "
      "[--service NAME] [--max-users N] [--json]";
  auto a = ParseCommand(args,
                        {{"prune", false},
                         {"user", true},
                         {"service", true},
                         {"max-users", true},
                         {"json", false},
                         {"only-user", false}},
                        "policy plan", 1, 1, kUsage);
  if (!a.ok()) return a.status();
  crm::v1::PlanPolicyRequest request;
  if (auto st = ReadBundleInto(a->positional[0], "policy plan",
                               request.mutable_bundle());
      !st.ok()) {
    return st;
  }
  request.set_prune(a->Has("prune"));
  request.set_user(a->Get("user"));
  request.set_only_user(a->Has("only-user"));
  request.set_service(a->Get("service"));
  if (a->Has("max-users")) {
    int n = 0;
    if (!absl::SimpleAtoi(a->Get("max-users"), &n)) {
      return absl::InvalidArgumentError(
          "policy plan: --max-users takes a number");
    }
    request.set_max_counted_users(n);
  }
  crm::v1::PolicyPlan plan;
  if (auto st = s.Call(absl::StrCat(kPolicyService, "PlanPolicy"), request,
                       &plan);
      !st.ok()) {
    return st;
  }
  if (a->Has("json")) return s.PrintJson(plan);
  PrintPlan(s.out(), plan, a->positional[0], a->Has("prune"));
  return absl::OkStatus();
}

namespace {

absl::Status Apply(CliSession& s, crm::v1::ApplyPolicyRequest request) {
  crm::v1::ApplyPolicyResponse reply;
  if (auto st = s.Call(absl::StrCat(kPolicyService, "ApplyPolicy"), request,
                       &reply);
      !st.ok()) {
    return st;
  }
  if (!reply.changed()) {
    s.out() << "no change: the live policy (version " << reply.version()
            << ") already is the bundle\n";
    return absl::OkStatus();
  }
  s.out() << "applied: policy version " << reply.version() << " ("
          << reply.changes_size() << " object(s) changed)\n";
  PrintPolicyChanges(s.out(), reply.changes());
  return absl::OkStatus();
}

}  // namespace

absl::Status PolicyApply(CliSession& s, const Args& args) {
  constexpr char kUsage[] =
      "policy apply DIR [--prune] [--expect-version V] [--message TEXT]";
  auto a = ParseCommand(
      args, {{"prune", false}, {"expect-version", true}, {"message", true}},
      "policy apply", 1, 1, kUsage);
  if (!a.ok()) return a.status();
  crm::v1::ApplyPolicyRequest request;
  if (auto st = ReadBundleInto(a->positional[0], "policy apply",
                               request.mutable_bundle());
      !st.ok()) {
    return st;
  }
  request.set_prune(a->Has("prune"));
  request.set_message(a->Get("message"));
  if (a->Has("expect-version")) {
    auto v = VersionArg(a->Get("expect-version"),
                        "policy apply: --expect-version");
    if (!v.ok()) return v.status();
    request.set_expect_version(*v);
  }
  return Apply(s, std::move(request));
}

absl::Status PolicyHistory(CliSession& s, const Args& args) {
  constexpr char kUsage[] = "policy history [--limit N]";
  auto a = ParseCommand(args, {{"limit", true}}, "policy history", 0, 0,
                        kUsage);
  if (!a.ok()) return a.status();
  int limit = 20;
  if (a->Has("limit") &&
      (!absl::SimpleAtoi(a->Get("limit"), &limit) || limit <= 0)) {
    return absl::InvalidArgumentError(
        "policy history: --limit takes a number of versions (1 or more)");
  }
  crm::v1::ListPolicyVersionsRequest request;
  request.set_page_size(std::min(limit, 1000));
  std::vector<std::vector<std::string>> rows;
  for (;;) {
    crm::v1::ListPolicyVersionsResponse page;
    if (auto st = s.Call(absl::StrCat(kPolicyService, "ListPolicyVersions"),
                         request, &page);
        !st.ok()) {
      return st;
    }
    for (const crm::v1::PolicyVersionInfo& v : page.versions()) {
      if (static_cast<int>(rows.size()) == limit) break;
      rows.push_back(
          {absl::StrCat(v.version()),
           FormatFieldValue(v, v.GetDescriptor()->FindFieldByName("time")),
           v.actor_user().empty() ? v.actor_service()
                                  : absl::StrCat(v.actor_user(), " via ",
                                                 v.actor_service()),
           v.method(), absl::StrJoin(v.changed(), ", "), v.message()});
    }
    if (page.next_page_token().empty() ||
        static_cast<int>(rows.size()) == limit) {
      break;
    }
    request.set_page_token(page.next_page_token());
  }
  s.out() << FormatTable(
      {"version", "time", "by", "method", "changed", "message"}, rows);
  return absl::OkStatus();
}

absl::Status PolicyDiff(CliSession& s, const Args& args) {
  constexpr char kUsage[] = "policy diff V1 V2";
  auto a = ParseCommand(args, {}, "policy diff", 2, 2, kUsage);
  if (!a.ok()) return a.status();
  auto from = VersionArg(a->positional[0], "policy diff");
  if (!from.ok()) return from.status();
  auto to = VersionArg(a->positional[1], "policy diff");
  if (!to.ok()) return to.status();
  crm::v1::DiffPolicyVersionsRequest request;
  request.set_from_version(*from);
  request.set_to_version(*to);
  crm::v1::DiffPolicyVersionsResponse reply;
  if (auto st = s.Call(absl::StrCat(kPolicyService, "DiffPolicyVersions"),
                       request, &reply);
      !st.ok()) {
    return st;
  }
  if (reply.changes().empty()) {
    s.out() << "versions " << *from << " and " << *to
            << " hold the same policy objects and profiles\n";
    return absl::OkStatus();
  }
  s.out() << "from version " << *from << " to " << *to << ":\n";
  PrintPolicyChanges(s.out(), reply.changes());
  return absl::OkStatus();
}

absl::Status PolicyRollback(CliSession& s, const Args& args) {
  constexpr char kUsage[] = "policy rollback V [--dry-run] [--message TEXT]";
  auto a = ParseCommand(args, {{"dry-run", false}, {"message", true}},
                        "policy rollback", 1, 1, kUsage);
  if (!a.ok()) return a.status();
  auto version = VersionArg(a->positional[0], "policy rollback");
  if (!version.ok()) return version.status();
  crm::v1::GetPolicyVersionRequest get;
  get.set_version(*version);
  crm::v1::PolicyVersionBundle old;
  if (auto st = s.Call(absl::StrCat(kPolicyService, "GetPolicyVersion"), get,
                       &old);
      !st.ok()) {
    return st;
  }
  // Planned and applied like any bundle: the whole policy of that version
  // (pruning what came after it), applied only to the version planned.
  crm::v1::PlanPolicyRequest plan_request;
  *plan_request.mutable_bundle() = old.bundle();
  plan_request.set_prune(true);
  crm::v1::PolicyPlan plan;
  if (auto st = s.Call(absl::StrCat(kPolicyService, "PlanPolicy"),
                       plan_request, &plan);
      !st.ok()) {
    return st;
  }
  const std::string label = absl::StrCat("version ", *version);
  PrintPlan(s.out(), plan, label, true, /*hint=*/false);
  if (a->Has("dry-run") || plan.no_change()) return absl::OkStatus();
  crm::v1::ApplyPolicyRequest apply;
  *apply.mutable_bundle() = old.bundle();
  apply.set_prune(true);
  apply.set_expect_version(plan.base_version());
  apply.set_message(a->Has("message")
                        ? a->Get("message")
                        : absl::StrCat("rollback to version ", *version));
  s.out() << "\n";
  return Apply(s, std::move(apply));
}

}  // namespace crm::client
