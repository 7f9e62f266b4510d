// Shadow evaluation: the decisions of one call made against the live policy
// and against a candidate (crm.v1.PolicyAdminService.SetShadowPolicy),
// compared where they are made, in the Evaluator.
//
// An Evaluator with a shadow attached (Evaluator::AttachShadow) decides
// every question exactly as without one, from the live snapshot; it then
// asks its shadow, an Evaluator of the same principal bound to the
// candidate snapshot, the same question with the same facts, and tells the
// sink whether the two agree. The comparison is of outcomes (allowed or
// not; for fields, the sets of readable and writable fields); the rules are
// built only for a disagreement, so agreeing calls allocate nothing.
//
// Compared: CheckObject / AllowsObject, CheckRecord / AllowsRecord,
// Fields / CanReadField, CanWriteField / CheckFieldWrite, CheckSystem /
// AllowsSystem, AllowsSourceWrite / CheckSourceWrite (the data-source rule;
// question "source-write:{field}"; SourceOf, which only names the source
// for provenance, is not compared). RecordFilter is not compared here (two different SQL texts
// may select the same records): records/ runs List's page under both
// filters when they differ and decides each record found on one page only
// by both policies (AllowsRecord). TraceRecord (explanations) and the report-style accessors
// (SystemPermissions, EffectiveObjectPermissions) are not compared.
//
// Thread-safety: a sink is called from the threads of the one call it
// belongs to; implementations synchronise if a call uses several.
#ifndef CRM_POLICY_SHADOW_H_
#define CRM_POLICY_SHADOW_H_

#include <string>

#include "policy/decision.h"

namespace crm::policy {

// One question both policies answered differently.
struct ShadowDisagreement {
  // What was asked: "object:read", "record:edit", "fields",
  // "field-edit:phone", "system:manage_users".
  std::string question;
  // What it was asked about: "accounts/a1", "accounts", "" for a system
  // permission.
  std::string resource;
  // Both answers, with the rule that decided each (for "fields", the
  // fields each allows in `rule`: "read: name, phone; edit: name").
  Decision live;
  Decision shadow;
};

class ShadowSink {
 public:
  virtual ~ShadowSink() = default;
  // One question both answered alike.
  virtual void Agreed() = 0;
  // One they did not.
  virtual void Disagreed(ShadowDisagreement disagreement) = 0;
};

}  // namespace crm::policy

#endif  // CRM_POLICY_SHADOW_H_
