package ui

import (
	"slices"
	"strings"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/ui/text"
)

// dataset is the console's copy of the store: every key and domain, with
// indexes for lookups and filtering. It is owned by one App.
type dataset struct {
	keys []model.Key
	// hay is the lowercased search text per key: what its row shows
	// (name, prefix, status, created date, domains in both forms), its id,
	// kind and owner ("owner:" and the owner, to filter by owner).
	hay    []string
	idx    map[string]int // key id -> index in keys
	names  map[string]int // exact key name -> how many keys carry it
	doms   []model.Domain
	domIdx map[string]int // ASCII name -> index in doms
	uni    []string       // Unicode form per domain (escaped for display)
	uniW   []int          // width of uni per domain
	mixed  []bool         // mixed-script warning per domain
}

func keyHay(k *model.Key) string {
	var b strings.Builder
	b.Grow(len(k.Name) + len(k.Prefix) + len(k.ID) + 20 + 16*len(k.Domains))
	b.WriteString(strings.ToLower(k.Name))
	b.WriteByte(0)
	b.WriteString(k.Prefix)
	b.WriteByte(0)
	b.WriteString(k.ID)
	b.WriteByte(0)
	b.WriteString(strings.ToLower(k.Status.Label()))
	b.WriteByte(0)
	b.WriteString(k.Created.Format("2006-01-02"))
	if k.Kind != model.KindUnset {
		b.WriteByte(0)
		b.WriteString(string(k.Kind))
	}
	if k.Owner != "" {
		// "owner:" before it, so that a filter can name the owner alone
		b.WriteString("\x00owner:")
		b.WriteString(strings.ToLower(k.Owner))
	}
	for _, d := range k.Domains {
		b.WriteByte(0)
		b.WriteString(d)
		if strings.Contains(d, "xn--") {
			b.WriteByte(0)
			b.WriteString(strings.ToLower(model.DomainUnicode(d)))
		}
	}
	return b.String()
}

// setKeys replaces every key.
func (d *dataset) setKeys(keys []model.Key) {
	d.keys = keys
	d.hay = make([]string, len(keys))
	d.idx = make(map[string]int, len(keys))
	d.names = make(map[string]int, len(keys))
	for i := range keys {
		d.hay[i] = keyHay(&keys[i])
		d.idx[keys[i].ID] = i
		d.names[keys[i].Name]++
	}
}

// putKey adds or replaces one key; it reports whether the key is new.
func (d *dataset) putKey(k model.Key) bool {
	if d.idx == nil {
		d.setKeys(nil)
	}
	if i, ok := d.idx[k.ID]; ok {
		d.names[d.keys[i].Name]--
		d.keys[i] = k
		d.hay[i] = keyHay(&k)
		d.names[k.Name]++
		return false
	}
	d.idx[k.ID] = len(d.keys)
	d.keys = append(d.keys, k)
	d.hay = append(d.hay, keyHay(&k))
	d.names[k.Name]++
	return true
}

// dropKey removes a key (it vanished from the store).
func (d *dataset) dropKey(id string) {
	i, ok := d.idx[id]
	if !ok {
		return
	}
	d.names[d.keys[i].Name]--
	last := len(d.keys) - 1
	d.keys[i], d.hay[i] = d.keys[last], d.hay[last]
	d.idx[d.keys[i].ID] = i
	d.keys, d.hay = d.keys[:last], d.hay[:last]
	delete(d.idx, id)
}

// byName returns the keys sorted by name (case folded), then id.
func (d *dataset) byName() []*model.Key {
	out := make([]*model.Key, len(d.keys))
	idx := make([]int, len(d.keys))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(i, j int) int {
		if c := strings.Compare(d.hay[i], d.hay[j]); c != 0 {
			return c
		}
		return strings.Compare(d.keys[i].ID, d.keys[j].ID)
	})
	for r, i := range idx {
		out[r] = &d.keys[i]
	}
	return out
}

func (d *dataset) key(id string) (*model.Key, bool) {
	i, ok := d.idx[id]
	if !ok {
		return nil, false
	}
	return &d.keys[i], true
}

func (d *dataset) domain(name string) (*model.Domain, bool) {
	i, ok := d.domIdx[name]
	if !ok {
		return nil, false
	}
	return &d.doms[i], true
}

// setDomains replaces every domain and reconciles each key's linked domains
// with the domains' key lists (a deleted domain unlinks keys without a key
// event). It reports whether any key changed.
func (d *dataset) setDomains(doms []model.Domain) bool {
	d.doms = doms
	d.domIdx = make(map[string]int, len(doms))
	d.uni = make([]string, len(doms))
	d.uniW = make([]int, len(doms))
	d.mixed = make([]bool, len(doms))
	links := map[string][]string{}
	for i := range doms {
		dm := &doms[i]
		d.domIdx[dm.Name] = i
		u := dm.Unicode
		if u == "" {
			u = model.DomainUnicode(dm.Name)
		}
		d.uni[i] = model.Escape(u)
		d.uniW[i] = text.Width(d.uni[i])
		d.mixed[i] = model.MixedScript(u)
		for _, id := range dm.Keys {
			links[id] = append(links[id], dm.Name)
		}
	}
	changed := false
	for i := range d.keys {
		k := &d.keys[i]
		want := links[k.ID]
		slices.Sort(want)
		if !slices.Equal(k.Domains, want) {
			if len(k.Domains) == 0 && len(want) == 0 {
				continue
			}
			k.Domains = want
			d.hay[i] = keyHay(k)
			changed = true
		}
	}
	return changed
}

// keysOnlyLinkedTo returns the keys (not revoked) whose only domain is name:
// they become unrestricted when it goes.
func (d *dataset) keysOnlyLinkedTo(name string) []model.Key {
	dm, ok := d.domain(name)
	if !ok {
		return nil
	}
	var out []model.Key
	for _, id := range dm.Keys {
		if k, ok := d.key(id); ok && len(k.Domains) == 1 && k.Domains[0] == name && k.Status != model.Revoked {
			out = append(out, *k)
		}
	}
	return out
}
