#include "policy/compiled.h"

#include "absl/strings/str_cat.h"

namespace crm::policy {

const char* OperationName(Operation op) {
  switch (op) {
    case Operation::kRead:
      return "read";
    case Operation::kCreate:
      return "create";
    case Operation::kEdit:
      return "edit";
    case Operation::kDelete:
      return "delete";
    case Operation::kShare:
      return "share";
    case Operation::kTransfer:
      return "transfer";
  }
  return "unknown";
}

const char* LevelName(Level level) {
  switch (level) {
    case Level::kNone:
      return "none";
    case Level::kRead:
      return "read";
    case Level::kReadWrite:
      return "read-write";
    case Level::kFull:
      return "full";
  }
  return "unknown";
}

Level RequiredLevel(Operation op) {
  switch (op) {
    case Operation::kRead:
      return Level::kRead;
    case Operation::kCreate:
      return Level::kNone;
    case Operation::kEdit:
      return Level::kReadWrite;
    case Operation::kDelete:
    case Operation::kShare:
    case Operation::kTransfer:
      return Level::kFull;
  }
  return Level::kFull;
}

bool ObjectPermissions::Allows(Operation op) const {
  switch (op) {
    case Operation::kRead:
    case Operation::kShare:
      return read;
    case Operation::kCreate:
      return create;
    case Operation::kEdit:
    case Operation::kTransfer:
      return edit;
    case Operation::kDelete:
      return remove;
  }
  return false;
}

void ObjectPermissions::Normalize() {
  if (modify_all) {
    read = create = edit = remove = view_all = true;
  }
  if (edit || remove || view_all) read = true;
}

ObjectPermissions ObjectPermissions::Intersect(
    const ObjectPermissions& o) const {
  ObjectPermissions r;
  r.read = read && o.read;
  r.create = create && o.create;
  r.edit = edit && o.edit;
  r.remove = remove && o.remove;
  r.view_all = view_all && o.view_all;
  r.modify_all = modify_all && o.modify_all;
  return r;
}

void ObjectPermissions::Merge(const ObjectPermissions& o) {
  read |= o.read;
  create |= o.create;
  edit |= o.edit;
  remove |= o.remove;
  view_all |= o.view_all;
  modify_all |= o.modify_all;
}

Level ObjectPolicy::public_level() const {
  switch (access) {
    case crm::v1::OrgWideDefault::PUBLIC_READ:
      return Level::kRead;
    case crm::v1::OrgWideDefault::PUBLIC_READ_WRITE:
      return Level::kReadWrite;
    default:
      return Level::kNone;
  }
}

void PermissionBundle::Finish(const std::vector<ObjectPolicy>& objects) {
  effective.assign(objects.size(), {});
  for (size_t o = 0; o < objects.size(); ++o) {
    const auto& schema_fields = objects[o].schema->fields();
    effective[o].resize(schema_fields.size());
    for (size_t f = 0; f < schema_fields.size(); ++f) {
      FieldGrant g = fields[o][f];
      if (!g.mentioned && !schema_fields[f].sensitive) g.read = g.edit = true;
      effective[o][f] = (g.read ? kFieldRead : 0) | (g.edit ? kFieldEdit : 0);
    }
  }
}

bool CompiledPolicy::RoleAbove(int above, int below) const {
  if (above < 0 || below < 0 || above == below) return false;
  const CompiledRole& a = roles[above];
  const CompiledRole& b = roles[below];
  return a.tin < b.tin && b.tout <= a.tout;
}

bool CompiledPolicy::Contains(const GranteeRef& g, int user) const {
  switch (g.kind) {
    case GranteeRef::Kind::kUser:
      return g.index == user;
    case GranteeRef::Kind::kRole:
      return users[user].role == g.index;
    case GranteeRef::Kind::kRoleAndSubordinates: {
      int r = users[user].role;
      return r == g.index || RoleAbove(g.index, r);
    }
    case GranteeRef::Kind::kGroup:
      return groups[g.index].Contains(user);
  }
  return false;
}

int CompiledPolicy::ObjectIndex(absl::string_view collection) const {
  auto it = object_index.find(collection);
  return it == object_index.end() ? -1 : it->second;
}

int CompiledPolicy::ObjectOf(const model::ObjectSchema& schema) const {
  for (size_t i = 0; i < objects.size(); ++i) {
    if (objects[i].schema == &schema) return static_cast<int>(i);
  }
  return ObjectIndex(schema.collection());
}

void CompiledPolicy::AppendUsers(const GranteeRef& g,
                                 std::vector<int>* out) const {
  switch (g.kind) {
    case GranteeRef::Kind::kUser:
      out->push_back(g.index);
      return;
    case GranteeRef::Kind::kRole:
      out->insert(out->end(), roles[g.index].users.begin(),
                  roles[g.index].users.end());
      return;
    case GranteeRef::Kind::kRoleAndSubordinates: {
      std::vector<int> stack = {g.index};
      while (!stack.empty()) {
        int r = stack.back();
        stack.pop_back();
        out->insert(out->end(), roles[r].users.begin(), roles[r].users.end());
        stack.insert(stack.end(), roles[r].children.begin(),
                     roles[r].children.end());
      }
      return;
    }
    case GranteeRef::Kind::kGroup: {
      const auto& bits = groups[g.index].members;
      for (size_t w = 0; w < bits.size(); ++w) {
        uint64_t word = bits[w];
        while (word != 0) {
          int b = __builtin_ctzll(word);
          out->push_back(static_cast<int>(w * 64 + b));
          word &= word - 1;
        }
      }
      return;
    }
  }
}

std::string CompiledPolicy::GranteeName(const GranteeRef& g) const {
  switch (g.kind) {
    case GranteeRef::Kind::kUser:
      return users[g.index].resource_name;
    case GranteeRef::Kind::kRole:
      return roles[g.index].name;
    case GranteeRef::Kind::kRoleAndSubordinates:
      return absl::StrCat("roleAndSubordinates/",
                          absl::string_view(roles[g.index].name).substr(6));
    case GranteeRef::Kind::kGroup:
      return groups[g.index].name;
  }
  return "";
}

}  // namespace crm::policy
