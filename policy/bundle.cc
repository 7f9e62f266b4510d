#include "policy/bundle.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/error.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "model/resource_name.h"
#include "policy/profile_restrictions.h"
#include "policy/snapshot.h"
#include "policy/system_permission.h"

namespace crm::policy {
namespace {

using crm::v1::PolicyObject;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::TextFormat;

// One kind directory: its PolicyObject case (0 for profiles) and whether
// its objects are keyed by their `object` field (org-wide defaults) rather
// than by `name`.
struct Kind {
  const char* dir;
  int object_field;
  bool keyed_by_object;
};

// In the order the compiler reads them (policy/snapshot.cc).
constexpr Kind kKinds[] = {
    {"orgWideDefaults", PolicyObject::kOrgWideDefaultFieldNumber, true},
    {"roles", PolicyObject::kRoleFieldNumber, false},
    {"groups", PolicyObject::kGroupFieldNumber, false},
    {"permissionSets", PolicyObject::kPermissionSetFieldNumber, false},
    {"sharingRules", PolicyObject::kSharingRuleFieldNumber, false},
    {"restrictionRules", PolicyObject::kRestrictionRuleFieldNumber, false},
    {"dataSources", PolicyObject::kDataSourceFieldNumber, false},
    {"profiles", 0, false},
    // Read-only: compared with the server's configuration, never compiled.
    {"services", PolicyObject::kServiceFieldNumber, false},
};

const Kind* FindKind(absl::string_view dir) {
  for (const Kind& k : kKinds) {
    if (dir == k.dir) return &k;
  }
  return nullptr;
}

std::string KindList() {
  std::vector<std::string> dirs;
  for (const Kind& k : kKinds) dirs.emplace_back(k.dir);
  return absl::StrJoin(dirs, ", ");
}

const FieldDescriptor* KindField(const Kind& kind) {
  return PolicyObject::descriptor()->FindFieldByNumber(kind.object_field);
}

// The kind of a PolicyObject, or null if none is set.
const Kind* KindOf(const PolicyObject& object) {
  for (const Kind& k : kKinds) {
    if (k.object_field != 0 &&
        k.object_field == static_cast<int>(object.kind_case())) {
      return &k;
    }
  }
  return nullptr;
}

Message* MutableBody(PolicyObject* object, const Kind& kind) {
  return object->GetReflection()->MutableMessage(object, KindField(kind));
}

const Message& Body(const BundleObject& o) {
  if (o.is_profile) return o.profile;
  return o.object.GetReflection()->GetMessage(o.object,
                                              KindField(*KindOf(o.object)));
}

// The field holding an object's key ("name", or "object" for org-wide
// defaults).
const FieldDescriptor* KeyField(const Message& body, const Kind& kind) {
  return body.GetDescriptor()->FindFieldByName(kind.keyed_by_object ? "object"
                                                                    : "name");
}

const FieldDescriptor* EtagField(const Message& body) {
  return body.GetDescriptor()->FindFieldByName("etag");
}

// Collects a parse's errors (0-based positions) for one file.
class Collector : public google::protobuf::io::ErrorCollector {
 public:
  Collector(std::string file, std::vector<BundleError>* errors)
      : file_(std::move(file)), errors_(*errors) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    errors_.push_back(
        BundleError{{file_, line + 1, column + 1}, "", "", message});
  }

 private:
  std::string file_;
  std::vector<BundleError>& errors_;
};

BundleError PathError(const std::string& path, std::string message) {
  return BundleError{{path, 0, 0}, "", "", std::move(message)};
}

}  // namespace

std::string BundleError::ToString() const {
  std::string out;
  if (!location.file.empty()) {
    absl::StrAppend(&out, location.file);
    if (location.line > 0) absl::StrAppend(&out, ":", location.line);
    if (location.column > 0) absl::StrAppend(&out, ":", location.column);
    absl::StrAppend(&out, ": ");
  } else if (!object.empty()) {
    absl::StrAppend(&out, object, ": ");
  }
  if (!field.empty()) absl::StrAppend(&out, field, ": ");
  absl::StrAppend(&out, message);
  return out;
}

const std::vector<std::string>& BundleKinds() {
  static const auto* kinds = [] {
    auto* v = new std::vector<std::string>;
    for (const Kind& k : kKinds) v->emplace_back(k.dir);
    return v;
  }();
  return *kinds;
}

// --- PolicyBundle -----------------------------------------------------------

void PolicyBundle::Add(const PolicyObject& object) {
  const Kind* kind = KindOf(object);
  if (kind == nullptr) return;
  BundleObject o;
  o.object = object;
  Message* body = MutableBody(&o.object, *kind);
  if (const FieldDescriptor* etag = EtagField(*body)) {
    body->GetReflection()->ClearField(body, etag);
  }
  const std::string key =
      body->GetReflection()->GetString(*body, KeyField(*body, *kind));
  o.name = kind->keyed_by_object ? absl::StrCat(kind->dir, "/", key) : key;
  o.file = absl::StrCat(o.name, kBundleExtension);
  objects_[o.name] = std::move(o);
}

void PolicyBundle::Add(const crm::v1::Profile& profile) {
  BundleObject o;
  o.is_profile = true;
  o.profile = profile;
  o.profile.clear_etag();
  o.name = profile.name();
  o.file = absl::StrCat(o.name, kBundleExtension);
  objects_[o.name] = std::move(o);
}

const BundleObject* PolicyBundle::Find(absl::string_view name) const {
  auto it = objects_.find(std::string(name));
  return it == objects_.end() ? nullptr : &it->second;
}

crm::internal::PolicyState PolicyBundle::ToState() const {
  crm::internal::PolicyState state;
  for (const auto& [name, o] : objects_) {
    if (o.is_profile) {
      crm::internal::PolicyProfile* p = state.add_profiles();
      p->set_name(o.profile.name());
      p->set_display_name(o.profile.display_name());
      *p->mutable_allowed_ip_ranges() = o.profile.allowed_ip_ranges();
      *p->mutable_allowed_countries() = o.profile.allowed_countries();
      p->set_login_hours(o.profile.login_hours());
      p->set_login_time_zone(o.profile.login_time_zone());
      *p->mutable_system_permissions() = o.profile.system_permissions();
      continue;
    }
    switch (o.object.kind_case()) {
      case PolicyObject::kPermissionSet:
        *state.add_permission_sets() = o.object.permission_set();
        break;
      case PolicyObject::kOrgWideDefault:
        *state.add_defaults() = o.object.org_wide_default();
        break;
      case PolicyObject::kRole:
        *state.add_roles() = o.object.role();
        break;
      case PolicyObject::kGroup:
        *state.add_groups() = o.object.group();
        break;
      case PolicyObject::kSharingRule:
        *state.add_sharing_rules() = o.object.sharing_rule();
        break;
      case PolicyObject::kRestrictionRule:
        *state.add_restriction_rules() = o.object.restriction_rule();
        break;
      case PolicyObject::kDataSource:
        *state.add_data_sources() = o.object.data_source();
        break;
      case PolicyObject::kService:  // configuration, not compiled policy
      case PolicyObject::KIND_NOT_SET:
        break;
    }
  }
  return state;
}

PolicyBundle BundleFromState(const crm::internal::PolicyState& state) {
  PolicyBundle bundle;
  auto add = [&bundle](auto set) {
    return [&bundle, set](const auto& body) {
      PolicyObject o;
      (o.*set)()->CopyFrom(body);
      bundle.Add(o);
    };
  };
  for (const auto& x : state.permission_sets()) {
    add(&PolicyObject::mutable_permission_set)(x);
  }
  for (const auto& x : state.defaults()) {
    add(&PolicyObject::mutable_org_wide_default)(x);
  }
  for (const auto& x : state.roles()) add(&PolicyObject::mutable_role)(x);
  for (const auto& x : state.groups()) add(&PolicyObject::mutable_group)(x);
  for (const auto& x : state.sharing_rules()) {
    add(&PolicyObject::mutable_sharing_rule)(x);
  }
  for (const auto& x : state.restriction_rules()) {
    add(&PolicyObject::mutable_restriction_rule)(x);
  }
  for (const auto& x : state.data_sources()) {
    add(&PolicyObject::mutable_data_source)(x);
  }
  for (const crm::internal::PolicyProfile& p : state.profiles()) {
    crm::v1::Profile profile;
    profile.set_name(p.name());
    profile.set_display_name(p.display_name());
    *profile.mutable_allowed_ip_ranges() = p.allowed_ip_ranges();
    *profile.mutable_allowed_countries() = p.allowed_countries();
    profile.set_login_hours(p.login_hours());
    profile.set_login_time_zone(p.login_time_zone());
    *profile.mutable_system_permissions() = p.system_permissions();
    bundle.Add(profile);
  }
  return bundle;
}

crm::internal::PolicyState BundleState(
    const crm::internal::PolicyState& state) {
  // Through a bundle: it drops etags, keys by name (so each kind comes out
  // in name order) and ToState rebuilds the lists without users or version.
  return BundleFromState(state).ToState();
}

std::string SerializeBundleState(const crm::internal::PolicyState& state) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    BundleState(state).SerializeToCodedStream(&coded);
  }
  return bytes;
}

bool SamePolicy(const crm::internal::PolicyState& a,
                const crm::internal::PolicyState& b) {
  return SerializeBundleState(a) == SerializeBundleState(b);
}

SourceLocation PolicyBundle::Locate(absl::string_view name,
                                    absl::string_view field) const {
  const BundleObject* o = Find(name);
  if (o == nullptr) return {};
  SourceLocation loc{o->file, 1, 1};
  if (o->tree == nullptr || field.empty()) return loc;
  const TextFormat::ParseInfoTree* tree = o->tree.get();
  const Descriptor* type = Body(*o).GetDescriptor();
  std::vector<absl::string_view> segments = absl::StrSplit(field, '.');
  for (size_t i = 0; i < segments.size(); ++i) {
    // "members[2]" -> "members", 2.
    absl::string_view segment = segments[i];
    int index = -1;
    if (size_t open = segment.find('['); open != absl::string_view::npos) {
      absl::string_view digits = segment.substr(open + 1);
      absl::ConsumeSuffix(&digits, "]");
      if (!absl::SimpleAtoi(digits, &index)) index = 0;
      segment = segment.substr(0, open);
    }
    const FieldDescriptor* f = type->FindFieldByName(std::string(segment));
    if (f == nullptr) break;
    if (f->is_repeated() && index < 0) index = 0;
    if (!f->is_repeated()) index = -1;
    TextFormat::ParseLocation at = tree->GetLocation(f, index);
    if (at.line < 0) break;
    loc.line = at.line + 1;
    loc.column = at.column + 1;
    if (f->message_type() == nullptr) break;
    tree = tree->GetTreeForNested(f, index);
    type = f->message_type();
    if (tree == nullptr) break;
  }
  return loc;
}

// --- Rendering --------------------------------------------------------------

std::string RenderObject(const BundleObject& o) {
  TextFormat::Printer printer;
  printer.SetUseUtf8StringEscaping(true);
  std::unique_ptr<Message> body(Body(o).New());
  body->CopyFrom(Body(o));
  // The path is the name; etags are the server's.
  for (const char* key : {"name", "object", "etag"}) {
    const FieldDescriptor* f = body->GetDescriptor()->FindFieldByName(key);
    if (f == nullptr) continue;
    if (std::string(key) == "object" &&
        !absl::StartsWith(o.name, "orgWideDefaults/")) {
      continue;  // a rule's object is content, not its key
    }
    body->GetReflection()->ClearField(body.get(), f);
  }
  std::string text;
  printer.PrintToString(*body, &text);
  return absl::StrCat("# proto-message: ", body->GetDescriptor()->full_name(),
                      "\n", text);
}

BundleFiles RenderBundle(const PolicyBundle& bundle) {
  BundleFiles files;
  for (const auto& [name, o] : bundle.objects())
    files[o.file] = RenderObject(o);
  return files;
}

// --- Parsing ----------------------------------------------------------------

struct BundleParser {
  static void ParseFile(const std::string& path, const std::string& text,
                        ParsedBundle* out) {
    std::vector<BundleError>& errors = out->errors;
    std::vector<std::string> parts = absl::StrSplit(path, '/');
    if (parts.size() != 2) {
      errors.push_back(PathError(
          path,
          absl::StrCat("not a bundle file: files are {kind}/{id}",
                       kBundleExtension, " with kind one of ", KindList())));
      return;
    }
    const Kind* kind = FindKind(parts[0]);
    if (kind == nullptr) {
      errors.push_back(
          PathError(path, absl::StrCat("unknown kind directory '", parts[0],
                                       "'; kinds are ", KindList())));
      return;
    }
    absl::string_view id = parts[1];
    if (!absl::ConsumeSuffix(&id, kBundleExtension)) {
      errors.push_back(PathError(
          path, absl::StrCat("not a bundle file: only *", kBundleExtension,
                             " files belong in ", parts[0], "/")));
      return;
    }
    if (!model::IsValidRecordId(id)) {
      errors.push_back(PathError(
          path, absl::StrCat("'", id,
                             "' is not a valid id: 1-64 characters of "
                             "[A-Za-z0-9_-]")));
      return;
    }
    BundleObject o;
    o.name = absl::StrCat(kind->dir, "/", id);
    o.file = path;
    Message* body;
    if (kind->object_field == 0) {
      o.is_profile = true;
      body = &o.profile;
    } else {
      body = MutableBody(&o.object, *kind);
    }
    auto tree = std::make_shared<TextFormat::ParseInfoTree>();
    Collector collector(path, &errors);
    TextFormat::Parser parser;
    parser.RecordErrorsTo(&collector);
    parser.WriteLocationsTo(tree.get());
    const size_t before = errors.size();
    if (!parser.ParseFromString(text, body)) {
      if (errors.size() == before) {
        errors.push_back(PathError(path, "does not parse as text format"));
      }
      out->bundle.unparsed_.insert(o.name);
      return;
    }
    o.tree = std::move(tree);
    const auto* reflection = body->GetReflection();
    const FieldDescriptor* key = KeyField(*body, *kind);
    const std::string want = kind->keyed_by_object ? std::string(id) : o.name;
    const std::string given = reflection->GetString(*body, key);
    if (!given.empty() && given != want) {
      errors.push_back(
          BundleError{{},
                      o.name,
                      key->name(),
                      absl::StrCat("is '", given, "' but the file is ", path,
                                   " (its name is ", o.name,
                                   "); leave it out or make them the same")});
    }
    reflection->SetString(body, key, want);
    if (EtagField(*body) != nullptr &&
        !reflection->GetString(*body, EtagField(*body)).empty()) {
      errors.push_back(BundleError{
          {},
          o.name,
          "etag",
          "etags are not part of a bundle (the server keeps them); remove "
          "it"});
      reflection->ClearField(body, EtagField(*body));
    }
    const std::string name = o.name;
    out->bundle.objects_[name] = std::move(o);
    // The errors of a parsed file are located in it.
    for (size_t i = before; i < errors.size(); ++i) {
      errors[i].location = out->bundle.Locate(name, errors[i].field);
    }
  }
};

ParsedBundle ParseBundle(const BundleFiles& files) {
  ParsedBundle out;
  for (const auto& [path, text] : files) {
    BundleParser::ParseFile(path, text, &out);
  }
  return out;
}

// --- Validation -------------------------------------------------------------

namespace {

// Users and services named by the bundle's grantees, assignees and data
// sources.
void CollectPrincipals(const crm::internal::PolicyState& state,
                       std::set<std::string>* users,
                       std::set<std::string>* services) {
  auto grantee = [&](const crm::v1::Grantee& g) {
    if (g.kind_case() == crm::v1::Grantee::kUser) {
      absl::string_view id = g.user();
      if (absl::ConsumePrefix(&id, "users/") && model::IsValidRecordId(id)) {
        users->emplace(id);
      }
    }
  };
  for (const auto& g : state.groups()) {
    for (const auto& m : g.members()) grantee(m);
  }
  for (const auto& r : state.sharing_rules()) {
    grantee(r.owned_by());
    grantee(r.shared_with());
  }
  for (const auto& r : state.restriction_rules()) grantee(r.applies_to());
  // A data source's writing service (offline, taken as registered too).
  for (const auto& d : state.data_sources()) {
    absl::string_view id = d.service();
    if (absl::ConsumePrefix(&id, "services/") && model::IsValidRecordId(id)) {
      services->emplace(id);
    }
  }
  for (const auto& set : state.permission_sets()) {
    for (const std::string& a : set.assignees()) {
      absl::string_view id = a;
      if (absl::ConsumePrefix(&id, "users/") && model::IsValidRecordId(id)) {
        users->emplace(id);
      } else if (absl::ConsumePrefix(&id, "services/") &&
                 model::IsValidRecordId(id)) {
        services->emplace(id);
      }
    }
  }
}

// The bundle's own rules (what a bundle must hold so that the compiler, and
// later apply, see a closed set of objects).
void CheckBundleRules(const PolicyBundle& bundle,
                      std::vector<BundleError>* errors) {
  auto fail = [&](const std::string& name, std::string field,
                  std::string message) {
    errors->push_back(BundleError{bundle.Locate(name, field), name,
                                  std::move(field), std::move(message)});
  };
  std::map<std::string, std::string> lower_names;
  std::map<std::string, std::string> display_names;
  for (const auto& [name, o] : bundle.objects()) {
    auto [it, inserted] =
        lower_names.emplace(absl::AsciiStrToLower(name), name);
    if (!inserted) {
      fail(name, "",
           absl::StrCat("differs from ", it->second,
                        " only in case; the two files clash on "
                        "case-insensitive file systems"));
    }
    if (o.is_profile) {
      // The checks UserAdminService makes before writing a profile (its
      // login restrictions are the compiler's, below).
      static const std::set<std::string> kAll = {
          "display_name", "allowed_ip_ranges", "allowed_countries",
          "login_hours",  "login_time_zone",   "system_permissions"};
      for (const base::FieldViolation& v :
           CheckProfileFields(o.profile, kAll)) {
        fail(name, v.field, v.description);
      }
      const std::string& display = o.profile.display_name();
      if (auto [d, fresh] = display_names.emplace(display, name);
          !display.empty() && !fresh) {
        fail(name, "display_name",
             absl::StrCat("'", display, "' is already the display name of ",
                          d->second, "; profile display names are unique"));
      }
      continue;
    }
    if (o.object.has_permission_set()) {
      const auto& assignees = o.object.permission_set().assignees();
      for (int i = 0; i < assignees.size(); ++i) {
        if (absl::StartsWith(assignees[i], "profiles/") &&
            bundle.Find(assignees[i]) == nullptr &&
            bundle.unparsed().count(assignees[i]) == 0) {
          fail(name, absl::StrCat("assignees[", i, "]"),
               absl::StrCat("profile '", assignees[i],
                            "' is not in the bundle (no ", assignees[i],
                            kBundleExtension, ")"));
        }
      }
    }
  }
}

// services/ files: read-only copies of the configured scopes.
void CheckServiceScopes(const PolicyBundle& bundle,
                        const google::protobuf::RepeatedPtrField<
                            crm::internal::ServiceConfig>& services,
                        std::vector<BundleError>* errors) {
  auto fail = [&](const std::string& name, std::string field,
                  std::string message) {
    errors->push_back(BundleError{bundle.Locate(name, field), name,
                                  std::move(field), std::move(message)});
  };
  const std::string kReadOnly =
      "a service's own scope is set in the server's configuration file "
      "(services { ... }), not by a bundle: change the configuration and "
      "restart the servers; or export this server's policy again, or leave "
      "services/ out of the bundle (a bundle never changes or removes a "
      "service)";
  for (const auto& [name, o] : bundle.objects()) {
    if (!o.object.has_service()) continue;
    const crm::internal::ServiceConfig* config = nullptr;
    std::vector<std::string> configured;
    for (const crm::internal::ServiceConfig& s : services) {
      configured.push_back(s.name());
      if (absl::StrCat("services/", s.name()) == name) config = &s;
    }
    if (config == nullptr) {
      fail(name, "",
           absl::StrCat("no service '", name.substr(strlen("services/")),
                        "' is in this server's configuration (configured: ",
                        configured.empty() ? "none"
                                           : absl::StrJoin(configured, ", "),
                        "); ", kReadOnly));
      continue;
    }
    const crm::v1::ServiceScope want = ServiceScopeOf(*config);
    const crm::v1::ServiceScope& got = o.object.service();
    const Descriptor* type = crm::v1::ServiceScope::descriptor();
    // Field by field, so the error points at the line that differs.
    auto only = [type](const crm::v1::ServiceScope& m,
                       const FieldDescriptor* keep) {
      crm::v1::ServiceScope copy = m;
      for (int i = 0; i < type->field_count(); ++i) {
        if (type->field(i) != keep) {
          copy.GetReflection()->ClearField(&copy, type->field(i));
        }
      }
      return copy;
    };
    for (int i = 0; i < type->field_count(); ++i) {
      const FieldDescriptor* f = type->field(i);
      if (f->name() == "name") continue;
      const crm::v1::ServiceScope a = only(got, f), b = only(want, f);
      if (a.SerializeAsString() == b.SerializeAsString()) continue;
      TextFormat::Printer printer;
      printer.SetSingleLineMode(true);
      std::string text;
      printer.PrintToString(b, &text);
      absl::StripTrailingAsciiWhitespace(&text);
      fail(name, f->name(),
           absl::StrCat("differs from this server's configuration (",
                        text.empty() ? "not set" : text, "); ", kReadOnly));
    }
  }
}

}  // namespace

crm::v1::ServiceScope ServiceScopeOf(
    const crm::internal::ServiceConfig& service) {
  crm::v1::ServiceScope scope;
  scope.set_name(absl::StrCat("services/", service.name()));
  for (const crm::internal::ObjectGrant& g : service.grants()) {
    crm::v1::ObjectPermission* p = scope.add_object_permissions();
    p->set_object(g.object());
    p->set_read(g.read());
    p->set_create(g.create());
    p->set_edit(g.edit());
    p->set_delete_(g.delete_());
  }
  std::set<int> permissions;
  for (const std::string& name : service.system_permissions()) {
    if (auto p = SystemPermissionFromName(name); p.ok()) permissions.insert(*p);
  }
  for (int p : permissions) {
    scope.add_system_permissions(static_cast<crm::v1::SystemPermission>(p));
  }
  *scope.mutable_allowed_ip_ranges() = service.allowed_ip_ranges();
  *scope.mutable_allowed_countries() = service.allowed_countries();
  scope.set_trusted_gateway(service.trusted_gateway());
  scope.set_purpose(service.purpose());
  return scope;
}

std::vector<BundleError> ValidateBundle(const PolicyBundle& bundle,
                                        const model::SchemaRegistry& schemas,
                                        const ValidateOptions& options) {
  std::vector<BundleError> errors;
  CheckBundleRules(bundle, &errors);
  if (options.services != nullptr) {
    CheckServiceScopes(bundle, *options.services, &errors);
  }
  // A field the bundle's rules found wrong is not reported again by the
  // compiler (e.g. "10.0.0.0/8, 10.1.0.0/16": two entries in one).
  std::set<std::pair<std::string, std::string>> reported;
  for (const BundleError& e : errors) reported.insert({e.object, e.field});

  crm::internal::PolicyState state = bundle.ToState();
  // Objects whose file does not parse: roles, groups and profiles stand in
  // empty, so that what names them is not reported too.
  for (const std::string& name : bundle.unparsed()) {
    if (absl::StartsWith(name, "roles/")) {
      state.add_roles()->set_name(name);
    } else if (absl::StartsWith(name, "groups/")) {
      state.add_groups()->set_name(name);
    } else if (absl::StartsWith(name, "profiles/")) {
      state.add_profiles()->set_name(name);
    }
  }
  std::set<std::string> users, services;
  CollectPrincipals(state, &users, &services);
  for (const std::string& id : users) {
    crm::internal::PolicyUser* u = state.add_users();
    u->set_id(id);
    u->set_active(true);
  }
  google::protobuf::RepeatedPtrField<crm::internal::ServiceConfig> assumed;
  for (const std::string& name : services) assumed.Add()->set_name(name);

  for (const PolicyProblem& p : PolicySnapshot::Check(
           state, options.services != nullptr ? *options.services : assumed,
           schemas)) {
    auto bad = base::GetBadRequest(p.status);
    if (bad.has_value() && bad->field_violations_size() > 0 &&
        p.field.empty()) {
      for (const auto& v : bad->field_violations()) {
        if (reported.count({p.object, v.field()})) continue;
        errors.push_back(BundleError{bundle.Locate(p.object, v.field()),
                                     p.object, v.field(), v.description()});
      }
      continue;
    }
    absl::string_view message = p.status.message();
    absl::ConsumePrefix(&message, "policy: ");
    errors.push_back(BundleError{bundle.Locate(p.object, p.field), p.object,
                                 p.field, std::string(message)});
  }
  return errors;
}

std::vector<BundleError> ValidateBundle(const BundleFiles& files,
                                        const model::SchemaRegistry& schemas,
                                        const ValidateOptions& options) {
  ParsedBundle parsed = ParseBundle(files);
  std::vector<BundleError> errors = std::move(parsed.errors);
  std::vector<BundleError> more =
      ValidateBundle(parsed.bundle, schemas, options);
  errors.insert(errors.end(), more.begin(), more.end());
  // In file order, for people and for stable CI output.
  std::stable_sort(
      errors.begin(), errors.end(),
      [](const BundleError& a, const BundleError& b) {
        return std::tie(a.location.file, a.location.line, a.location.column) <
               std::tie(b.location.file, b.location.line, b.location.column);
      });
  return errors;
}

}  // namespace crm::policy
