package ui

import (
	"context"
	"errors"
	"fmt"

	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/ui/text"
)

// The shell keeps the console's copy of the store (dataset) fresh: it loads
// it, follows the store's events, applies the changes made from the
// console, then tells every page (dataChangedMsg).

// errMsg reports a failure that only needs the banner.
type errMsg struct{ err error }

// infoMsg shows a message in the banner.
type infoMsg struct{ text string }

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
	ch    <-chan store.Event
	evs   []store.Event
	ended bool // the channel closed after these events
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

// domainAddedMsg reports a domain added from a dialog or a picker.
type domainAddedMsg struct {
	dom     model.Domain
	existed bool
	err     error
	// dialog says the Add Domain dialog asked: it shows a refusal itself.
	dialog bool
	// link is a key id to link the new domain to, with the other picked domains.
	link  string
	other []string
}

func (a *App) loadAll() tea.Cmd {
	st, ctx := a.c.cfg.Store, a.c.ctx
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
	st, ctx := a.c.cfg.Store, a.c.ctx
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
	st, ctx := a.c.cfg.Store, a.c.ctx
	return func() tea.Msg {
		doms, err := st.Domains(ctx)
		return domainsLoadedMsg{doms: doms, err: err}
	}
}

func (a *App) watch() tea.Cmd {
	st, ctx := a.c.cfg.Store, a.c.ctx
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
			return watchEndedMsg{}
		}
		evs := []store.Event{ev}
		for len(evs) < 512 {
			select {
			case ev, ok := <-ch:
				if !ok {
					return storeEventsMsg{evs: evs, ended: true}
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

// onData handles the messages that are not input: the shell's own, then
// every page and the dialog get them.
func (a *App) onData(msg tea.Msg) tea.Cmd {
	if cmd, ok := a.onConnMsg(msg); ok {
		return cmd
	}
	switch msg := msg.(type) {
	case errMsg:
		a.errBanner(msg.err)
		return nil
	case infoMsg:
		a.setBanner(bannerInfo, msg.text)
		return nil
	case dataLoadedMsg:
		return a.onDataLoaded(msg)
	case keyLoadedMsg:
		return a.onKeyLoaded(msg)
	case domainsLoadedMsg:
		return a.onDomainsLoaded(msg)
	case watchStartedMsg:
		return a.onWatchStarted(msg)
	case storeEventsMsg:
		return a.onEvents(msg)
	case opDoneMsg:
		return tea.Batch(a.onOpDone(msg), a.broadcast(msg))
	case keyCreatedMsg:
		return tea.Batch(a.broadcast(msg), a.onKeyCreated(msg))
	case copiedMsg:
		return tea.Batch(a.broadcast(msg), a.onCopied(msg))
	case domainAddedMsg:
		return tea.Batch(a.broadcast(msg), a.onDomainAdded(msg))
	case usageLoadedMsg:
		return a.onUsageLoaded(msg)
	case usageTickMsg:
		return a.onUsageTick()
	}
	return a.broadcast(msg)
}

func (a *App) onEvents(msg storeEventsMsg) tea.Cmd {
	var cmds []tea.Cmd
	switch {
	case msg.ended:
		cmds = append(cmds, func() tea.Msg { return watchEndedMsg{} })
	case msg.ch != nil:
		cmds = append(cmds, waitEvents(msg.ch))
	}
	ids := map[string]bool{}
	doms, all, usage, alerts := false, false, false, false
	for _, ev := range msg.evs {
		switch ev.Kind {
		case store.EventAlert:
			alerts = true
		case store.EventKey:
			ids[ev.ID] = true
			doms = true
		case store.EventDomain:
			doms = true
		case store.EventResync:
			all = true
			a.conn.streamDown = false
		case store.EventOffline:
			a.conn.streamDown = true
		case store.EventUsage:
			usage = true
		}
	}
	a.connStatus()
	if usage {
		cmds = append(cmds, a.usageSoon())
	}
	if all || doms || len(ids) > 0 {
		cmds = append(cmds, a.broadcast(storeChangedMsg{}))
	}
	if all || alerts {
		cmds = append(cmds, a.broadcast(alertsChangedMsg{}))
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
		switch {
		case !a.loaded:
			a.loadErr = msg.err
		case !unreachable(msg.err):
			a.errBanner(msg.err)
		}
		if unreachable(msg.err) {
			return a.loadFailed()
		}
		return nil
	}
	a.loaded, a.loadErr = true, nil
	a.loadDone()
	a.data.setKeys(msg.keys)
	a.data.setDomains(msg.doms)
	return tea.Batch(a.broadcast(dataChangedMsg{keys: true, domains: true}), a.loadUsage())
}

func (a *App) onKeyLoaded(msg keyLoadedMsg) tea.Cmd {
	if unreachable(msg.err) {
		return a.loadFailed()
	}
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
	return a.broadcast(dataChangedMsg{keys: true})
}

func (a *App) onDomainsLoaded(msg domainsLoadedMsg) tea.Cmd {
	if unreachable(msg.err) {
		return a.loadFailed()
	}
	if msg.err != nil {
		a.errBanner(msg.err)
		return nil
	}
	keysChanged := a.data.setDomains(msg.doms)
	return a.broadcast(dataChangedMsg{keys: keysChanged, domains: true})
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
	var cmds []tea.Cmd
	if len(msg.keys) > 0 {
		cmds = append(cmds, a.broadcast(dataChangedMsg{keys: true}))
	}
	if msg.domains || msg.deleted != "" {
		cmds = append(cmds, a.loadDomains())
	}
	return tea.Batch(cmds...)
}

func (a *App) onKeyCreated(msg keyCreatedMsg) tea.Cmd {
	if msg.err != nil {
		a.errBanner(msg.err)
		return nil
	}
	a.data.putKey(msg.key)
	if msg.old != nil {
		a.data.putKey(*msg.old)
	}
	cmd := a.broadcast(dataChangedMsg{keys: true})
	a.dialog(newSecretDialog(&a.c, msg.key, msg.secret, msg.old))
	return tea.Batch(cmd, a.loadDomains())
}

// copyCmd copies text to the native clipboard (when the host gave one) and
// to the terminal's clipboard with OSC 52, which also works over SSH.
func (c *common) copyCmd(text, what string, secret bool) tea.Cmd {
	clip := c.cfg.Clipboard
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
		return "Sent the " + msg.what + " to your terminal with OSC 52: paste to check it arrived (the system clipboard did not take it: " +
			describeErr(msg.err) + ").", bannerWarn
	}
	return "No system clipboard here; the " + msg.what +
		" was sent to your terminal with OSC 52 (works over SSH if the terminal allows it): paste to check.", bannerInfo
}

func (a *App) onCopied(msg copiedMsg) tea.Cmd {
	if msg.toSecret {
		return nil // the secret's dialog says it
	}
	s, kind := copyReport(msg)
	a.setBanner(kind, s)
	return nil
}

func (a *App) onDomainAdded(msg domainAddedMsg) tea.Cmd {
	if msg.err != nil && !msg.existed {
		if !msg.dialog {
			a.errBanner(msg.err)
		}
		return nil
	}
	name := domainLabel(msg.dom.Name)
	if msg.link != "" {
		doms := append(append([]string(nil), msg.other...), msg.dom.Name)
		return tea.Batch(a.loadDomains(), a.c.linkDomainsCmd(msg.link, doms))
	}
	if msg.existed {
		a.setBanner(bannerWarn, name+" is already in the list: nothing was added.")
	} else {
		a.setBanner(bannerInfo, "Added "+name+". Link it to keys from its screen (enter, then l).")
	}
	return a.loadDomains()
}

func (c *common) addDomainCmd(input string, fromDialog bool, link string, other []string) tea.Cmd {
	st, ctx := c.cfg.Store, c.sctx()
	return func() tea.Msg {
		d, err := st.AddDomain(ctx, input)
		if errors.Is(err, store.ErrDomainExists) {
			return domainAddedMsg{dom: d, existed: true, dialog: fromDialog, link: link, other: other}
		}
		return domainAddedMsg{dom: d, err: err, dialog: fromDialog, link: link, other: other}
	}
}

func (c *common) linkDomainsCmd(keyID string, doms []string) tea.Cmd {
	wasUnrestricted := false
	if k, ok := c.data.key(keyID); ok {
		wasUnrestricted = k.Unrestricted()
	}
	return c.op(func(ctx context.Context, st store.Store) opDoneMsg {
		k, err := st.LinkKey(ctx, keyID, doms...)
		if err != nil {
			return opDoneMsg{err: err}
		}
		info := fmt.Sprintf("Linked %s to %s.", domainLabels(doms), text.Quote(k.Name))
		if wasUnrestricted && !k.Unrestricted() {
			info += unrestrictedNotice
		}
		return opDoneMsg{keys: []model.Key{k}, domains: true, info: info}
	})
}

// unrestrictedNotice is what linking the first domain to a key changes (the
// CLI says the same).
const unrestrictedNotice = " The key was unrestricted: requests that send an Origin or Referer must now come from a linked domain (calls with neither still pass)."

// describeErr turns an error into one line for the banner, escaped.
func describeErr(err error) string {
	if err == nil {
		return ""
	}
	var de *model.DomainError
	if errors.As(err, &de) {
		return text.Safe(de.Error())
	}
	return text.Safe(err.Error())
}
