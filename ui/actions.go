package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/ui/text"
)

// action is one thing that can be done to a key or a domain: its label in
// the ⋯ menu, its binding (the same letter on a list row, on the object's
// screen and in the menu), when it applies, and what it does.
type action struct {
	label string
	bind  key.Binding
	// why says why the action does not apply ("" when it does).
	why func() string
	run func() tea.Cmd
}

// keyActions are the actions on key k, in the menu's order. They read k's
// state when built.
func (c *common) keyActions(k *model.Key) []action {
	km := &c.km.Key
	id, prefix, name, st := k.ID, k.Prefix, k.Name, k.Status
	revoked := func(what string) func() string {
		return func() string {
			if st == model.Revoked {
				return text.Quote(name) + " is revoked: it cannot be " + what + " (revoking is permanent)."
			}
			return ""
		}
	}
	return c.roleActions([]action{
		{"Open", km.Open, func() string { return "" }, func() tea.Cmd { c.openKey(id); return nil }},
		{"Rename", km.Rename, revoked("renamed"), func() tea.Cmd { c.shell.dialog(newNameDialog(c, id)); return nil }},
		{"Copy prefix", km.CopyPrefix, func() string { return "" }, func() tea.Cmd { return c.copyCmd(prefix, "prefix", false) }},
		{"Disable", km.Disable, func() string {
			switch st {
			case model.Disabled:
				return text.Quote(name) + " is already disabled: e enables it."
			case model.Revoked:
				return text.Quote(name) + " is revoked: it refuses every request already, for good."
			}
			return ""
		}, func() tea.Cmd { c.shell.dialog(newDisableDialog(c, id)); return nil }},
		{"Enable", km.Enable, func() string {
			switch st {
			case model.Active:
				return text.Quote(name) + " is already active."
			case model.Revoked:
				return text.Quote(name) + " is revoked: it can never be enabled again."
			}
			return ""
		}, func() tea.Cmd { return c.enableCmd(id) }},
		{"Rotate", km.Rotate, revoked("rotated"), func() tea.Cmd { c.shell.dialog(newRotateDialog(c, id)); return nil }},
		{"Link domain", km.Link, revoked("linked to domains"), func() tea.Cmd { c.shell.dialog(newDomainPicker(c, id)); return nil }},
		{"Policies", km.Policies, revoked("given a new policy"), func() tea.Cmd { c.shell.dialog(newPolicyMenu(c, id)); return nil }},
		{"Revoke", km.Revoke, func() string {
			if st == model.Revoked {
				return text.Quote(name) + " is already revoked."
			}
			return ""
		}, func() tea.Cmd { c.shell.dialog(newRevokeDialog(c, id)); return nil }},
	}, map[string]model.Op{"Rename": model.OpKeysRename, "Disable": model.OpKeysDisable, "Enable": model.OpKeysEnable,
		"Rotate": model.OpKeysRotate, "Link domain": model.OpKeysLink, "Policies": model.OpKeysPolicy, "Revoke": model.OpKeysRevoke})
}

// roleActions makes the actions whose label ops names refuse, before
// anything else, when the console's role may not do that op.
func (c *common) roleActions(acts []action, ops map[string]model.Op) []action {
	for i := range acts {
		op, ok := ops[acts[i].label]
		if !ok {
			continue
		}
		why := acts[i].why
		acts[i].why = func() string {
			if d := c.denied(op); d != "" {
				return d
			}
			return why()
		}
	}
	return acts
}

// domainActions are the actions on domain name, in the menu's order.
func (c *common) domainActions(name string) []action {
	km := &c.km.Domain
	ok := func() string { return "" }
	return c.roleActions([]action{
		{"Open", km.Open, ok, func() tea.Cmd { c.openDomain(name); return nil }},
		{"Link keys", km.Link, ok, func() tea.Cmd { c.shell.dialog(newKeyPicker(c, name)); return nil }},
		{"Copy name", km.CopyName, ok, func() tea.Cmd { return c.copyCmd(name, "domain name", false) }},
		{"Delete domain", km.Delete, ok, func() tea.Cmd { c.shell.dialog(newDeleteDomainDialog(c, name)); return nil }},
	}, map[string]model.Op{"Link keys": model.OpKeysLink, "Delete domain": model.OpDomainsDelete})
}

// runAction runs the action of acts that msg's key names; when it does not
// apply, the banner says why. It reports whether msg named one.
func (c *common) runAction(acts []action, msg tea.KeyPressMsg) (tea.Cmd, bool) {
	for _, a := range acts {
		if !key.Matches(msg, a.bind) {
			continue
		}
		if why := a.why(); why != "" {
			c.warn(why)
			return nil, true
		}
		return a.run(), true
	}
	return nil, false
}

// bindings are the bindings of the actions that apply, for help.
func bindings(acts []action) []key.Binding {
	var out []key.Binding
	for _, a := range acts {
		if a.why() == "" {
			out = append(out, a.bind)
		}
	}
	return out
}
