package model

import (
	"errors"
	"testing"
)

func TestRoleTable(t *testing.T) {
	// Every op: an auditor may only read, an operator may do all but
	// tokens and roles, an admin everything.
	for _, op := range Ops() {
		min := op.MinRole()
		if !min.Valid() || op.Does() == "" || op.Does() == string(op) {
			t.Errorf("%s: min role %q, does %q", op, min, op.Does())
		}
		for _, r := range Roles() {
			want := r.rank() >= min.rank()
			if r.Can(op) != want {
				t.Errorf("%s can %s = %v, want %v", r, op, r.Can(op), want)
			}
			err := r.Check(op)
			if (err == nil) != want {
				t.Errorf("%s check %s = %v", r, op, err)
			}
		}
	}
	if !RoleAdmin.Can(OpTokensSetRole) || RoleOperator.Can(OpTokensCreate) || RoleOperator.Can(OpTokensRead) {
		t.Error("tokens are for admins only")
	}
	if !RoleOperator.Can(OpKeysRevoke) || !RoleOperator.Can(OpDomainsDelete) || !RoleOperator.Can(OpKeysPolicy) {
		t.Error("operators manage keys, domains, links and policies")
	}
	for _, op := range []Op{OpKeysRead, OpDomainsRead, OpUsageRead, OpAuditRead, OpHygieneRead, OpEventsRead, OpAlertsRead, OpWhoAmI} {
		if !RoleAuditor.Can(op) || op.Changes() {
			t.Errorf("auditors read %s", op)
		}
	}
	for _, op := range []Op{OpKeysCreate, OpKeysRevoke, OpKeysRename, OpKeysDisable, OpKeysEnable, OpKeysRotate, OpKeysLink, OpKeysUnlink, OpDomainsAdd, OpDomainsDelete, OpUsageRecord} {
		if RoleAuditor.Can(op) || !op.Changes() {
			t.Errorf("auditors must not %s", op)
		}
	}
}

func TestRoleUnknownRefused(t *testing.T) {
	if Role("").Can(OpKeysRead) || Role("root").Can(OpKeysRead) {
		t.Error("an unknown role may do something")
	}
	if RoleAdmin.Can(Op("keys.explode")) || Op("keys.explode").Known() {
		t.Error("an unknown op is allowed")
	}
	err := Role("").Check(OpKeysRevoke)
	if err == nil || err.Error() != "forbidden: this role cannot revoke keys" {
		t.Errorf("empty role: %v", err)
	}
}

func TestForbiddenError(t *testing.T) {
	err := RoleAuditor.Check(OpKeysRevoke)
	if err == nil || err.Error() != "forbidden: auditor cannot revoke keys" {
		t.Fatalf("got %v", err)
	}
	if !errors.Is(err, ErrForbidden) {
		t.Error("not ErrForbidden")
	}
	var fe *ForbiddenError
	if !errors.As(err, &fe) || fe.Role != RoleAuditor || fe.Op != OpKeysRevoke {
		t.Errorf("As: %+v", fe)
	}
	if e := RoleOperator.Check(OpTokensCreate); e.Error() != "forbidden: operator cannot create operator tokens" {
		t.Errorf("operator: %v", e)
	}
}

func TestParseRole(t *testing.T) {
	for in, want := range map[string]Role{"admin": RoleAdmin, " Operator ": RoleOperator, "AUDITOR": RoleAuditor} {
		if r, err := ParseRole(in); err != nil || r != want {
			t.Errorf("ParseRole(%q) = %q, %v", in, r, err)
		}
	}
	for _, in := range []string{"", "root", "admins"} {
		if _, err := ParseRole(in); err == nil {
			t.Errorf("ParseRole(%q) accepted", in)
		}
	}
}
