package model

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Role is what an operator (a token, an SSH key, a local console) may do.
// Roles are ordered: an admin may do all an operator may, an operator all an
// auditor may.
type Role string

// The three roles.
const (
	// RoleAuditor reads everything (keys, domains, usage, audit, hygiene,
	// check) and changes nothing.
	RoleAuditor Role = "auditor"
	// RoleOperator manages keys, domains, links and key policies, but not
	// operator tokens.
	RoleOperator Role = "operator"
	// RoleAdmin does everything, including tokens and roles. Tokens and SSH
	// keys from before roles existed are admins.
	RoleAdmin Role = "admin"
)

// Roles lists the roles from the least to the most powerful.
func Roles() []Role { return []Role{RoleAuditor, RoleOperator, RoleAdmin} }

// rank orders the roles; 0 is not a role.
func (r Role) rank() int {
	switch r {
	case RoleAuditor:
		return 1
	case RoleOperator:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// ParseRole reads a role, case-insensitively.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", fmt.Errorf("unknown role %q: use admin, operator or auditor", s)
	}
	return r, nil
}

// Op is a thing an operator does, the unit the role table grants: every
// management route, every store method and every console action names one.
type Op string

// The operations. Their minimum roles are in the table of MinRole.
const (
	OpKeysRead      Op = "keys.read"
	OpKeysCreate    Op = "keys.create"
	OpKeysRename    Op = "keys.rename"
	OpKeysDisable   Op = "keys.disable"
	OpKeysEnable    Op = "keys.enable"
	OpKeysRevoke    Op = "keys.revoke"
	OpKeysRotate    Op = "keys.rotate"
	OpKeysLink      Op = "keys.link"
	OpKeysUnlink    Op = "keys.unlink"
	OpKeysPolicy    Op = "keys.policy"
	OpDomainsRead   Op = "domains.read"
	OpDomainsAdd    Op = "domains.add"
	OpDomainsDelete Op = "domains.delete"
	OpAuditRead     Op = "audit.read"
	OpUsageRead     Op = "usage.read"
	OpUsageRecord   Op = "usage.record"
	OpHygieneRead   Op = "hygiene.read"
	OpEventsRead    Op = "events.read"
	OpMetricsRead   Op = "metrics.read"
	OpAlertsRead    Op = "alerts.read"
	OpWhoAmI        Op = "whoami"
	OpTokensRead    Op = "tokens.read"
	OpTokensCreate  Op = "tokens.create"
	OpTokensRevoke  Op = "tokens.revoke"
	OpTokensSetRole Op = "tokens.set-role"
	OpStoreBackup   Op = "store.backup"
)

// opInfo is one row of the role table.
type opInfo struct {
	min  Role
	does string // what the op does, for "<role> cannot <does>"
}

// ops is the role table: each operation, the least role that may do it,
// and how a refusal names it. It is the only place roles are granted.
var ops = map[Op]opInfo{
	OpKeysRead:      {RoleAuditor, "read keys"},
	OpKeysCreate:    {RoleOperator, "create keys"},
	OpKeysRename:    {RoleOperator, "rename keys"},
	OpKeysDisable:   {RoleOperator, "disable keys"},
	OpKeysEnable:    {RoleOperator, "enable keys"},
	OpKeysRevoke:    {RoleOperator, "revoke keys"},
	OpKeysRotate:    {RoleOperator, "rotate keys"},
	OpKeysLink:      {RoleOperator, "link domains to keys"},
	OpKeysUnlink:    {RoleOperator, "unlink domains from keys"},
	OpKeysPolicy:    {RoleOperator, "change key policies"},
	OpDomainsRead:   {RoleAuditor, "read domains"},
	OpDomainsAdd:    {RoleOperator, "add domains"},
	OpDomainsDelete: {RoleOperator, "delete domains"},
	OpAuditRead:     {RoleAuditor, "read the audit log"},
	OpUsageRead:     {RoleAuditor, "read usage"},
	OpUsageRecord:   {RoleOperator, "record usage"},
	OpHygieneRead:   {RoleAuditor, "read the hygiene report"},
	OpEventsRead:    {RoleAuditor, "follow change events"},
	OpMetricsRead:   {RoleAuditor, "read metrics"},
	OpAlertsRead:    {RoleAuditor, "read alerts"},
	OpWhoAmI:        {RoleAuditor, "see their own role"},
	OpTokensRead:    {RoleAdmin, "list operator tokens"},
	OpTokensCreate:  {RoleAdmin, "create operator tokens"},
	OpTokensRevoke:  {RoleAdmin, "revoke operator tokens"},
	OpTokensSetRole: {RoleAdmin, "change roles"},
	OpStoreBackup:   {RoleAdmin, "back up the store"},
}

// Ops lists every operation, sorted.
func Ops() []Op {
	out := make([]Op, 0, len(ops))
	for op := range ops {
		out = append(out, op)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Known reports whether op is in the role table.
func (op Op) Known() bool { _, ok := ops[op]; return ok }

// MinRole is the least role allowed to do op, "" for an unknown op.
func (op Op) MinRole() Role { return ops[op].min }

// Does is what op does, e.g. "revoke keys".
func (op Op) Does() string {
	if i, ok := ops[op]; ok {
		return i.does
	}
	return string(op)
}

// Changes reports whether op changes data (whether an auditor is refused it).
func (op Op) Changes() bool { return op.Known() && op.MinRole() != RoleAuditor }

// Can reports whether role r may do op. Unknown roles and unknown
// operations are refused.
func (r Role) Can(op Op) bool {
	i, ok := ops[op]
	return ok && r.Valid() && r.rank() >= i.min.rank()
}

// Check returns nil when r may do op, else a *ForbiddenError.
func (r Role) Check(op Op) error {
	if r.Can(op) {
		return nil
	}
	return &ForbiddenError{Role: r, Op: op}
}

// ErrForbidden is the sentinel of every refusal by role; test it with
// errors.Is.
var ErrForbidden = errors.New("forbidden")

// ForbiddenError is a refusal by role: "forbidden: auditor cannot revoke keys".
type ForbiddenError struct {
	Role Role
	Op   Op
}

func (e *ForbiddenError) Error() string {
	who := string(e.Role)
	if !e.Role.Valid() {
		who = "this role"
	}
	return "forbidden: " + who + " cannot " + e.Op.Does()
}

// Is makes errors.Is(err, ErrForbidden) hold.
func (e *ForbiddenError) Is(target error) bool { return target == ErrForbidden }

// Audit actions of governance.
const (
	// AuditRefused records a change refused by role; After names the op.
	AuditRefused = "refused"
	// AuditRole records a token's role change; Before and After are roles.
	AuditRole = "role"
)
