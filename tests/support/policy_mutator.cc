#include "tests/support/policy_mutator.h"

#include "absl/strings/str_cat.h"

namespace crm::testing {

std::string PolicyMutatorBase::NewName(const char* prefix) {
  return absl::StrCat(prefix, "m", next_++);
}

std::string PolicyMutatorBase::RandomUser() {
  return absl::StrCat("users/", s_.users(Uniform(s_.users_size())).id());
}

std::string PolicyMutatorBase::RandomRole() {
  return s_.roles(Uniform(s_.roles_size())).name();
}

crm::v1::Grantee PolicyMutatorBase::RandomGrantee() {
  crm::v1::Grantee g;
  switch (Uniform(4)) {
    case 0:
      g.set_user(RandomUser());
      break;
    case 1:
      g.set_role(RandomRole());
      break;
    case 2:
      g.set_role_and_subordinates(RandomRole());
      break;
    default:
      if (s_.groups_size() == 0) {
        g.set_user(RandomUser());
      } else {
        g.set_group(s_.groups(Uniform(s_.groups_size())).name());
      }
  }
  return g;
}

std::string PolicyMutatorBase::RemoveSharingRule() {
  if (s_.sharing_rules_size() == 0) return AddSharingRule();
  const int i = Uniform(s_.sharing_rules_size());
  const std::string name = s_.sharing_rules(i).name();
  s_.mutable_sharing_rules()->DeleteSubrange(i, 1);
  return absl::StrCat("remove ", name);
}

std::string PolicyMutatorBase::ChangeGroup() {
  if (s_.groups_size() == 0) return AddSharingRule();
  auto* g = s_.mutable_groups(Uniform(s_.groups_size()));
  if (g->members_size() > 0 && Chance(0.5)) {
    const int i = Uniform(g->members_size());
    const std::string what = g->members(i).ShortDebugString();
    g->mutable_members()->DeleteSubrange(i, 1);
    return absl::StrCat("remove member ", what, " of ", g->name());
  }
  crm::v1::Grantee m = RandomGrantee();
  if (m.has_group()) m.set_user(RandomUser());  // no cycles
  *g->add_members() = m;
  return absl::StrCat("add member ", m.ShortDebugString(), " to ", g->name());
}

std::string PolicyMutatorBase::MoveRoleOrNothing() {
  auto* r = s_.mutable_roles(Uniform(s_.roles_size()));
  if (r->parent().empty()) return "";
  const std::string parent = RandomRole();
  r->set_parent(parent);
  return absl::StrCat("move ", r->name(), " under ", parent);
}

std::string PolicyMutatorBase::FlipObjectPermission(
    crm::v1::ObjectPermission* p) {
  switch (Uniform(6)) {
    case 0: p->set_read(!p->read()); break;
    case 1: p->set_create(!p->create()); break;
    case 2: p->set_edit(!p->edit()); break;
    case 3: p->set_delete_(!p->delete_()); break;
    case 4: p->set_view_all(!p->view_all()); break;
    default: p->set_modify_all(!p->modify_all());
  }
  return p->ShortDebugString();
}

std::string PolicyMutatorBase::ChangeDefault(double hierarchy_chance) {
  auto* d = s_.mutable_defaults(Uniform(s_.defaults_size()));
  if (Chance(hierarchy_chance)) {
    d->set_grant_access_using_hierarchies(!d->grant_access_using_hierarchies());
  } else {
    using crm::v1::OrgWideDefault;
    const OrgWideDefault::Access kinds[] = {
        OrgWideDefault::PRIVATE, OrgWideDefault::PUBLIC_READ,
        OrgWideDefault::PUBLIC_READ_WRITE,
        OrgWideDefault::CONTROLLED_BY_PARENT};
    d->set_internal_access(kinds[Uniform(d->object() == "accounts" ? 3 : 4)]);
  }
  return absl::StrCat("default ", d->ShortDebugString());
}

}  // namespace crm::testing
