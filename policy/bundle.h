// A policy bundle: the whole access policy as reviewable text files, one
// per object, for `crmctl policy export` and `crmctl policy validate` (and,
// later, plan and apply, which load a bundle the same way).
//
// Layout (paths relative to the bundle's directory; the path is the name):
//   permissionSets/{id}.textproto     crm.v1.PermissionSet
//   profiles/{id}.textproto           crm.v1.Profile (login restrictions,
//                                     system permissions)
//   roles/{id}.textproto              crm.v1.Role
//   groups/{id}.textproto             crm.v1.Group
//   orgWideDefaults/{object}.textproto crm.v1.OrgWideDefault
//   sharingRules/{id}.textproto       crm.v1.SharingRule
//   restrictionRules/{id}.textproto   crm.v1.RestrictionRule
//   services/{name}.textproto         crm.v1.ServiceScope, READ-ONLY: a
//                                     service's own scope as the server's
//                                     configuration sets it (export writes
//                                     it so the bundle shows every grant);
//                                     validated against the configuration
//                                     when one is given, never compiled or
//                                     applied
// Each file is the object in protobuf text format, headed by
// "# proto-message: crm.v1.Role". The name (for an org-wide default its
// `object`) is the file's path and is left out when rendered; when a file
// gives it anyway it must be the path's. Etags (and versions, timestamps)
// are not part of a bundle; a file that sets `etag` is refused.
//
// Not in a bundle: users (their role and profile are managed by
// UserAdminService; a bundle names them as users/{id}, which only the server
// can check). Services are registered in the server's configuration file
// (ServiceConfig); their own scope may appear in services/ as above, and
// what permission sets assigned to services/{name} grant them is in those
// sets, which are ordinary policy.
//
// Pure: no I/O (files come and go as a path -> contents map; the caller
// reads and writes the directory), no gRPC, no SQL. Thread-compatible.
#ifndef CRM_POLICY_BUNDLE_H_
#define CRM_POLICY_BUNDLE_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "crm/internal/policy_state.pb.h"
#include "crm/internal/server_config.pb.h"
#include "crm/v1/admin_service.pb.h"
#include "crm/v1/user_admin_service.pb.h"
#include "google/protobuf/text_format.h"
#include "model/object_schema.h"

namespace crm::policy {

inline constexpr char kBundleExtension[] = ".textproto";

// Relative path ("roles/vp.textproto") -> contents. Ordered, so iterating
// is deterministic.
using BundleFiles = std::map<std::string, std::string>;

// The kind directories of a bundle, in the order the compiler reads them.
const std::vector<std::string>& BundleKinds();

// A place in a bundle. Lines and columns are 1-based; 0 when unknown.
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
};

// One problem of a bundle.
struct BundleError {
  SourceLocation location;
  std::string object;  // "roles/vp"; "" when not about one object
  std::string field;   // "parent", "members[1]", ...; "" for the object
  std::string message;
  // "roles/vp.textproto:3:9: parent: role 'roles/vp': unknown parent ..."
  // (the compiler's sentence, without its "policy: " prefix).
  std::string ToString() const;
};

// One object of a bundle with where it came from.
struct BundleObject {
  std::string name;  // "roles/vp", "orgWideDefaults/accounts", "profiles/x"
  std::string file;  // "roles/vp.textproto"
  // Exactly one is meaningful: `profile` for profiles/, else `object`
  // (name, or for an org-wide default object, set; etag empty).
  crm::v1::PolicyObject object;
  crm::v1::Profile profile;
  bool is_profile = false;
  // Field locations of the parsed file; null for an object added in memory.
  std::shared_ptr<const google::protobuf::TextFormat::ParseInfoTree> tree;
};

// The objects of a bundle, keyed (and so ordered) by name.
class PolicyBundle {
 public:
  // Adds an object as PolicyAdminService returns it: the etag is dropped.
  // Replaces an object of the same name.
  void Add(const crm::v1::PolicyObject& object);
  // Adds a profile as UserAdminService returns it (etag dropped).
  void Add(const crm::v1::Profile& profile);

  const std::map<std::string, BundleObject>& objects() const {
    return objects_;
  }
  const BundleObject* Find(absl::string_view name) const;

  // Names of objects whose file is there but does not parse (ParseBundle):
  // references to them are not reported as dangling (the parse error is
  // the problem).
  const std::set<std::string>& unparsed() const { return unparsed_; }

  // The bundle as the compiler's input: every object (names set), every
  // profile as a PolicyProfile, version 0 and no users.
  crm::internal::PolicyState ToState() const;

  // Where field path `field` ("object_permissions[1].object", "" for the
  // object itself) of object `name` is: the field's line if the file sets
  // it, else its nearest enclosing value's, else the file's first line.
  // A name the bundle does not have: an empty location.
  SourceLocation Locate(absl::string_view name, absl::string_view field) const;

 private:
  friend struct BundleParser;
  std::map<std::string, BundleObject> objects_;
  std::set<std::string> unparsed_;
};

// The policy objects and profiles of `state` (as PolicyStore::LoadState
// reads them) as a bundle: what `crmctl policy export` would write for that
// policy. Users, the version and etags are left out.
PolicyBundle BundleFromState(const crm::internal::PolicyState& state);

// `state` reduced to what a bundle holds, in a canonical order (each kind in
// name order; no users, version or etags): the form the policy's history
// keeps (store/policy_store.h) and plans compare.
crm::internal::PolicyState BundleState(const crm::internal::PolicyState& state);

// BundleState's deterministic serialization (equal bytes: same policy).
std::string SerializeBundleState(const crm::internal::PolicyState& state);

// Whether two states hold the same policy objects and profiles (users,
// versions, etags and order aside).
bool SamePolicy(const crm::internal::PolicyState& a,
                const crm::internal::PolicyState& b);

// The text of every object: deterministic (the same objects always give the
// same bytes: fields in field-number order, repeated fields in their order,
// UTF-8 unescaped), with no name, etag, version or time inside.
BundleFiles RenderBundle(const PolicyBundle& bundle);

// One object's file text (RenderBundle's). Equal texts are the same
// object, so plan and apply can compare a bundle's object with the live one
// by it (and leave an unchanged object, and its etag, alone); a reordered
// repeated field counts as a change.
std::string RenderObject(const BundleObject& object);

// Parses every file; errors for: a path that is not {kind}/{id}.textproto
// with a known kind and a valid id (1-64 of [A-Za-z0-9_-]), text that does
// not parse (unknown fields and enum values included), a name or object that
// is not the path's, an etag. A file that does not parse is left out of
// `bundle` (its name is in unparsed()); a wrong name or an etag is reported
// and the object kept.
struct ParsedBundle {
  PolicyBundle bundle;
  std::vector<BundleError> errors;
};
ParsedBundle ParseBundle(const BundleFiles& files);

struct ValidateOptions {
  // The registered services (the server's ServiceConfig list): permission
  // set assignees services/{name} must be one of them, and their grants are
  // compiled too. Null: every services/{name} a bundle names is taken as
  // registered (with no grants of its own). When set, every services/
  // file must name one of them and equal its scope (ServiceScopeOf): a
  // difference is an error on the field that differs.
  const google::protobuf::RepeatedPtrField<crm::internal::ServiceConfig>*
      services = nullptr;
};

// A configured service's own scope as the API shows it (PolicyAdminService
// kind "services", and a bundle's services/{name}.textproto): name
// "services/{name}", the grants in configuration order, the system
// permissions in enum order (a name that is not one is left out; the server
// refuses to start with one).
crm::v1::ServiceScope ServiceScopeOf(
    const crm::internal::ServiceConfig& service);

// Every problem of the bundle, located: ParseBundle's, then the bundle's own
// rules (every profile a permission set is assigned to is in the bundle;
// profile display names are unique; no two ids differ only in case), each
// profile's own fields as UserAdminService checks them
// (CheckProfileFields, profile_restrictions.h),
// then everything the policy compiler refuses
// (PolicySnapshot::Check: unknown objects and fields of model/'s schemas,
// dangling roles, groups and grantees, duplicate names, role and group
// cycles, criteria that do not parse or name unknown fields, invalid login
// restrictions, ...). The users the bundle names are assumed to exist (the
// server checks them). Sorted by file, line and column (problems outside
// the bundle, e.g. of a configured service, first). Empty: the bundle
// compiles.
std::vector<BundleError> ValidateBundle(const BundleFiles& files,
                                        const model::SchemaRegistry& schemas,
                                        const ValidateOptions& options = {});

// As above, for a parsed bundle (ParseBundle's errors not included).
std::vector<BundleError> ValidateBundle(const PolicyBundle& bundle,
                                        const model::SchemaRegistry& schemas,
                                        const ValidateOptions& options = {});

}  // namespace crm::policy

#endif  // CRM_POLICY_BUNDLE_H_
