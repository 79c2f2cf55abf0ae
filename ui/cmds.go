package ui

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// sctx is the context of a change made from this console.
func (a *App) sctx() context.Context { return store.WithActor(a.ctx, a.cfg.Actor) }

// dataLoadedMsg carries every key and domain (first load, or a resync).
type dataLoadedMsg struct {
	keys []model.Key
	doms []model.Domain
	err  error
}

// keyLoadedMsg carries the keys fetched after change events; gone are ids
// that no longer exist.
type keyLoadedMsg struct {
	keys []model.Key
	gone []string
	err  error
}

// domainsLoadedMsg carries every domain, fetched after a change event.
type domainsLoadedMsg struct {
	doms []model.Domain
	err  error
}

// watchStartedMsg carries the store's event channel.
type watchStartedMsg struct {
	ch  <-chan store.Event
	err error
}

// storeEventsMsg carries the change events that arrived together.
type storeEventsMsg struct {
	ch  <-chan store.Event
	evs []store.Event
}

// opDoneMsg reports a change made from this console.
type opDoneMsg struct {
	info string
	err  error
	// keys are the keys as the change left them (patched at once).
	keys []model.Key
	// deleted is a domain that no longer exists.
	deleted string
	// domains asks for a reload of the domains.
	domains bool
}

// keyCreatedMsg reports a new key (created or rotated) and its only copy of
// the secret.
type keyCreatedMsg struct {
	key    model.Key
	secret string
	old    *model.Key // set when rotated
	err    error
}

// copiedMsg reports a copy to the clipboard.
type copiedMsg struct {
	what     string // "secret" or "prefix"
	native   bool   // a native clipboard was tried
	err      error  // the native clipboard's error
	toSecret bool
}

// domainAddedMsg reports a domain added from a modal or a picker.
type domainAddedMsg struct {
	dom     model.Domain
	existed bool
	err     error
	// link is a key id to link the new domain to, with the other picked domains.
	link  string
	other []string
}

func (a *App) loadAll() tea.Cmd {
	st, ctx := a.cfg.Store, a.ctx
	return func() tea.Msg {
		keys, err := st.Keys(ctx)
		if err != nil {
			return dataLoadedMsg{err: err}
		}
		doms, err := st.Domains(ctx)
		return dataLoadedMsg{keys: keys, doms: doms, err: err}
	}
}

// loadKeys fetches a few keys in one command, so a burst of events costs one
// re-sort.
func (a *App) loadKeys(ids []string) tea.Cmd {
	st, ctx := a.cfg.Store, a.ctx
	return func() tea.Msg {
		var msg keyLoadedMsg
		for _, id := range ids {
			k, err := st.Key(ctx, id)
			switch {
			case errors.Is(err, store.ErrNotFound):
				msg.gone = append(msg.gone, id)
			case err != nil:
				msg.err = err
				return msg
			default:
				msg.keys = append(msg.keys, k)
			}
		}
		return msg
	}
}

func (a *App) loadDomains() tea.Cmd {
	st, ctx := a.cfg.Store, a.ctx
	return func() tea.Msg {
		doms, err := st.Domains(ctx)
		return domainsLoadedMsg{doms: doms, err: err}
	}
}

func (a *App) watch() tea.Cmd {
	st, ctx := a.cfg.Store, a.ctx
	return func() tea.Msg {
		ch, err := st.Watch(ctx)
		return watchStartedMsg{ch: ch, err: err}
	}
}

// waitEvents blocks for the next event, then takes whatever else is already
// queued so a burst of changes becomes one reload.
func waitEvents(ch <-chan store.Event) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return nil // the console is closing
		}
		evs := []store.Event{ev}
		for len(evs) < 512 {
			select {
			case ev, ok := <-ch:
				if !ok {
					return storeEventsMsg{evs: evs}
				}
				evs = append(evs, ev)
				continue
			default:
			}
			break
		}
		return storeEventsMsg{ch: ch, evs: evs}
	}
}

func (a *App) onEvents(msg storeEventsMsg) tea.Cmd {
	var cmds []tea.Cmd
	if msg.ch != nil {
		cmds = append(cmds, waitEvents(msg.ch))
	}
	ids := map[string]bool{}
	doms, all, usage := false, false, false
	for _, ev := range msg.evs {
		switch ev.Kind {
		case store.EventKey:
			ids[ev.ID] = true
			doms = true
		case store.EventDomain:
			doms = true
		case store.EventResync:
			all = true
		case store.EventUsage:
			usage = true
		}
	}
	if usage {
		cmds = append(cmds, a.usageSoon())
	}
	if all || doms || len(ids) > 0 {
		cmds = append(cmds, a.auditStoreChanged())
	}
	if all || len(ids) > 64 {
		return tea.Batch(append(cmds, a.loadAll())...)
	}
	if len(ids) > 0 {
		list := make([]string, 0, len(ids))
		for id := range ids {
			list = append(list, id)
		}
		cmds = append(cmds, a.loadKeys(list))
	}
	if doms {
		cmds = append(cmds, a.loadDomains())
	}
	return tea.Batch(cmds...)
}

func (a *App) onDataLoaded(msg dataLoadedMsg) tea.Cmd {
	if msg.err != nil {
		if !a.loaded {
			a.loadErr = msg.err
		} else {
			a.errBanner(msg.err)
		}
		return nil
	}
	a.loaded, a.loadErr = true, nil
	a.data.setKeys(msg.keys)
	a.data.setDomains(msg.doms)
	a.dataChanged()
	return a.loadUsage()
}

func (a *App) onKeyLoaded(msg keyLoadedMsg) tea.Cmd {
	if msg.err != nil {
		a.errBanner(msg.err)
		return nil
	}
	for _, id := range msg.gone {
		a.data.dropKey(id)
	}
	for _, k := range msg.keys {
		a.data.putKey(k)
	}
	a.keysChanged()
	return nil
}

func (a *App) onDomainsLoaded(msg domainsLoadedMsg) tea.Cmd {
	if msg.err != nil {
		a.errBanner(msg.err)
		return nil
	}
	keysChanged := a.data.setDomains(msg.doms)
	if keysChanged {
		a.keysChanged()
	}
	a.dp.rebuild(a)
	if a.dd != nil {
		a.dd.refresh(a)
	}
	a.clampLists()
	return nil
}

// dataChanged rebuilds every view after a full load.
func (a *App) dataChanged() {
	a.keysChanged()
	a.dp.rebuild(a)
	if a.dd != nil {
		a.dd.refresh(a)
	}
	a.clampLists()
}

// keysChanged rebuilds the key views after keys changed.
func (a *App) keysChanged() {
	a.kp.rebuild(a)
	if a.kd != nil {
		a.kd.refresh(a)
	}
	if a.dd != nil {
		a.dd.refresh(a)
	}
	a.clampLists()
}

// op runs a change in the background and reports it with opDoneMsg.
func (a *App) op(fn func(ctx context.Context, st store.Store) opDoneMsg) tea.Cmd {
	st, ctx := a.cfg.Store, a.sctx()
	return func() tea.Msg { return fn(ctx, st) }
}

func (a *App) onOpDone(msg opDoneMsg) tea.Cmd {
	if msg.err != nil {
		a.errBanner(msg.err)
	} else if msg.info != "" {
		a.setBanner(bannerInfo, msg.info)
	}
	for _, k := range msg.keys {
		a.data.putKey(k)
	}
	if msg.deleted != "" && a.dd != nil && a.dd.name == msg.deleted {
		a.dd = nil
	}
	if len(msg.keys) > 0 {
		a.keysChanged()
	}
	if msg.domains || msg.deleted != "" {
		return a.loadDomains()
	}
	return nil
}

func (a *App) onKeyCreated(msg keyCreatedMsg) tea.Cmd {
	if msg.err != nil {
		a.errBanner(msg.err)
		if m, ok := a.modal.(*nameModal); ok {
			m.busy = false // keep the dialog and its text: the user may retry
		}
		return nil
	}
	a.data.putKey(msg.key)
	if msg.old != nil {
		a.data.putKey(*msg.old)
	}
	a.kp.selID = msg.key.ID
	a.keysChanged()
	a.modal = newSecretModal(msg.key, msg.secret, msg.old)
	return a.loadDomains()
}

// copyCmd copies text to the native clipboard (when the host gave one) and
// to the terminal's clipboard with OSC 52, which also works over SSH.
func (a *App) copyCmd(text, what string, secret bool) tea.Cmd {
	clip := a.cfg.Clipboard
	native := func() tea.Msg {
		if clip == nil {
			return copiedMsg{what: what, toSecret: secret}
		}
		return copiedMsg{what: what, native: true, err: clip(text), toSecret: secret}
	}
	return tea.Sequence(tea.SetClipboard(text), native)
}

// copyReport says which clipboard received the copy.
func copyReport(msg copiedMsg) (string, bannerKind) {
	switch {
	case msg.native && msg.err == nil:
		return "Copied the " + msg.what + " to the system clipboard (and sent it to the terminal with OSC 52).", bannerInfo
	case msg.native:
		return "The system clipboard failed (" + describeErr(msg.err) + "); the " + msg.what +
			" was sent to the terminal with OSC 52: paste to check it arrived.", bannerWarn
	}
	return "No system clipboard here; the " + msg.what +
		" was sent to your terminal with OSC 52 (works over SSH if the terminal allows it): paste to check.", bannerInfo
}

func (a *App) onCopied(msg copiedMsg) tea.Cmd {
	text, kind := copyReport(msg)
	if sm, ok := a.modal.(*secretModal); ok && msg.toSecret {
		sm.copied = true
		sm.note = text
		sm.noteKind = kind
		return nil
	}
	a.setBanner(kind, text)
	return nil
}

func (a *App) onDomainAdded(msg domainAddedMsg) tea.Cmd {
	if msg.err != nil && !msg.existed {
		// leave the modal open so the user can fix the name
		if m, ok := a.modal.(*domainModal); ok {
			m.serverErr = describeErr(msg.err)
			m.busy = false
			return nil
		}
		a.errBanner(msg.err)
		return nil
	}
	name := model.Escape(msg.dom.Name)
	if msg.link != "" {
		doms := append(append([]string(nil), msg.other...), msg.dom.Name)
		return tea.Batch(a.loadDomains(), a.linkDomainsCmd(msg.link, doms))
	}
	if _, ok := a.modal.(*domainModal); ok {
		a.modal = nil
	}
	a.dp.selName = msg.dom.Name
	if msg.existed {
		a.setBanner(bannerWarn, name+" is already in the list: nothing was added.")
	} else {
		a.setBanner(bannerInfo, "Added "+name+". Link it to keys from its screen (enter, then l).")
	}
	return a.loadDomains()
}

func (a *App) linkDomainsCmd(keyID string, doms []string) tea.Cmd {
	return a.op(func(ctx context.Context, st store.Store) opDoneMsg {
		k, err := st.LinkKey(ctx, keyID, doms...)
		if err != nil {
			return opDoneMsg{err: err}
		}
		return opDoneMsg{keys: []model.Key{k}, domains: true,
			info: fmt.Sprintf("Linked %s to %s.", listNames(doms), quoteName(k.Name))}
	})
}

// describeErr turns an error into one line for the banner, escaped.
func describeErr(err error) string {
	if err == nil {
		return ""
	}
	var de *model.DomainError
	if errors.As(err, &de) {
		return model.Escape(de.Error())
	}
	return model.Escape(err.Error())
}

func quoteName(name string) string { return "“" + model.Escape(name) + "”" }

func listNames(names []string) string {
	switch len(names) {
	case 0:
		return "nothing"
	case 1:
		return model.Escape(names[0])
	case 2:
		return model.Escape(names[0]) + " and " + model.Escape(names[1])
	}
	return model.Escape(names[0]) + " and " + strconv.Itoa(len(names)-1) + " more"
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// thousands formats n as 100,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	if len(s) <= 3 {
		return s
	}
	var out []byte
	pre := len(s) % 3
	if pre > 0 {
		out = append(out, s[:pre]...)
	}
	for i := pre; i < len(s); i += 3 {
		if len(out) > 0 {
			out = append(out, ',')
		}
		out = append(out, s[i:i+3]...)
	}
	return string(out)
}
