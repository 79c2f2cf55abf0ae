package ui

import (
	"charm.land/bubbles/v2/key"

	"github.com/tmaps/console/model"
)

// role is what the console's user may do: Config.Role, admin when unset
// (a local console on a store file may do everything the file allows).
func (c *common) role() model.Role {
	if c.cfg.Role == "" {
		return model.RoleAdmin
	}
	return c.cfg.Role
}

// denied says why the console's role may not do op, "" when it may. The
// store under the console refuses the change too (store.Guard over SSH and
// with --read-only, the server over --api): this is for offering only
// what the role allows, and saying why on the key press.
func (c *common) denied(op model.Op) string {
	r := c.role()
	if r.Can(op) {
		return ""
	}
	msg := "Your role is " + string(r) + ": it cannot " + op.Does()
	if r == model.RoleAuditor {
		return msg + " (this console is read only)."
	}
	return msg + " (ask an admin)."
}

// allowed reports whether the console's role may do every op.
func (c *common) allowed(ops ...model.Op) bool {
	for _, op := range ops {
		if c.denied(op) != "" {
			return false
		}
	}
	return true
}

// deniedAny is the first refusal of ops, "" when the role may do them all.
func (c *common) deniedAny(ops ...model.Op) string {
	for _, op := range ops {
		if why := c.denied(op); why != "" {
			return why
		}
	}
	return ""
}

// roleNote is the line the help and the header show for a role that may
// not change everything, "" for an admin.
func (c *common) roleNote() string {
	switch c.role() {
	case model.RoleAuditor:
		return "read only (auditor)"
	case model.RoleOperator:
		return "operator"
	}
	return ""
}

// offer is b for help and the footer: disabled (so not listed) when the
// role may not do ops. Key presses are matched against the binding itself,
// so that a refused key still says why.
func (c *common) offer(b key.Binding, ops ...model.Op) key.Binding {
	if c.deniedAny(ops...) != "" {
		b.SetEnabled(false)
	}
	return b
}

// refuse warns and reports true when the role may not do ops.
func (c *common) refuse(ops ...model.Op) bool {
	if why := c.deniedAny(ops...); why != "" {
		c.warn(why)
		return true
	}
	return false
}
