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
	// kind and owner ("owner:" and the owner, to filter by owner). It is
	// made when first needed (searchText), not for the first frame; nil
	// until then.
	hay    []string
	idx    map[string]int // key id -> index in keys
	doms   []model.Domain
	domIdx map[string]int // ASCII name -> index in doms
	uni    []string       // Unicode form per domain (escaped for display)
	uniW   []int          // width of uni per domain
	mixed  []bool         // mixed-script warning per domain
}

func keyHay(k *model.Key) string {
	return string(appendHay(nil, k))
}

// statusHay is each status as the search text has it (lowercased label).
var statusHay = map[model.Status]string{
	model.Active: "active", model.Disabled: "disabled", model.Revoked: "revoked",
}

// appendHay appends the key's search text to b (see dataset.hay).
func appendHay(b []byte, k *model.Key) []byte {
	b = appendLower(b, k.Name)
	b = append(b, 0)
	b = append(b, k.Prefix...)
	b = append(b, 0)
	b = append(b, k.ID...)
	b = append(b, 0)
	if st, ok := statusHay[k.Status]; ok {
		b = append(b, st...)
	} else {
		b = appendLower(b, k.Status.Label())
	}
	b = append(b, 0)
	b = k.Created.AppendFormat(b, "2006-01-02")
	if k.Kind != model.KindUnset {
		b = append(b, 0)
		b = append(b, k.Kind...)
	}
	if k.Owner != "" {
		// "owner:" before it, so that a filter can name the owner alone
		b = append(b, "\x00owner:"...)
		b = appendLower(b, k.Owner)
	}
	for _, d := range k.Domains {
		b = append(b, 0)
		b = append(b, d...)
		if strings.Contains(d, "xn--") {
			b = append(b, 0)
			b = appendLower(b, model.DomainUnicode(d))
		}
	}
	return b
}

// appendLower appends s lowercased (strings.ToLower) to b, without an
// allocation when s is ASCII.
func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return append(b, strings.ToLower(s)...)
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// setKeys replaces every key.
func (d *dataset) setKeys(keys []model.Key) {
	d.keys = keys
	d.hay = nil
	d.idx = make(map[string]int, len(keys))
	for i := range keys {
		d.idx[keys[i].ID] = i
	}
}

// searchText returns the search text of every key (hay), making it first
// if need be: a filter or a sort by name needs it, the first frame does not.
func (d *dataset) searchText() []string {
	if d.hay == nil && len(d.keys) > 0 {
		d.hay = make([]string, len(d.keys))
		var buf []byte
		for i := range d.keys {
			buf = appendHay(buf[:0], &d.keys[i])
			d.hay[i] = string(buf)
		}
	}
	return d.hay
}

// named counts the keys named exactly name. It reads every key (a fraction
// of a millisecond for 100,000) rather than keep a map of every name.
func (d *dataset) named(name string) int {
	n := 0
	for i := range d.keys {
		if d.keys[i].Name == name {
			n++
		}
	}
	return n
}

// putKey adds or replaces one key; it reports whether the key is new.
func (d *dataset) putKey(k model.Key) bool {
	if d.idx == nil {
		d.setKeys(nil)
	}
	if i, ok := d.idx[k.ID]; ok {
		d.keys[i] = k
		if d.hay != nil {
			d.hay[i] = keyHay(&k)
		}
		return false
	}
	d.idx[k.ID] = len(d.keys)
	d.keys = append(d.keys, k)
	if d.hay != nil {
		d.hay = append(d.hay, keyHay(&k))
	}
	return true
}

// dropKey removes a key (it vanished from the store).
func (d *dataset) dropKey(id string) {
	i, ok := d.idx[id]
	if !ok {
		return
	}
	last := len(d.keys) - 1
	d.keys[i] = d.keys[last]
	d.idx[d.keys[i].ID] = i
	d.keys = d.keys[:last]
	if d.hay != nil {
		d.hay[i] = d.hay[last]
		d.hay = d.hay[:last]
	}
	delete(d.idx, id)
}

// byName returns the keys sorted by name (case folded), then id.
func (d *dataset) byName() []*model.Key {
	out := make([]*model.Key, len(d.keys))
	idx := make([]int, len(d.keys))
	for i := range idx {
		idx[i] = i
	}
	hay := d.searchText()
	slices.SortFunc(idx, func(i, j int) int {
		if c := strings.Compare(hay[i], hay[j]); c != 0 {
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
	// Each link is checked where the key is; only the keys whose domains
	// differ get a new list (usually none: keys and domains come from the
	// same store).
	count := make([]int32, len(d.keys))
	var wrong map[int][]string // key index -> its domains, per the domains
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
			if ki, ok := d.idx[id]; ok {
				count[ki]++
				if _, found := slices.BinarySearch(d.keys[ki].Domains, dm.Name); !found {
					if wrong == nil {
						wrong = map[int][]string{}
					}
					wrong[ki] = nil
				}
			}
		}
	}
	for i := range d.keys {
		if int(count[i]) != len(d.keys[i].Domains) {
			if wrong == nil {
				wrong = map[int][]string{}
			}
			wrong[i] = nil
		}
	}
	if len(wrong) == 0 {
		return false
	}
	for i := range doms {
		for _, id := range doms[i].Keys {
			if ki, ok := d.idx[id]; ok {
				if ds, bad := wrong[ki]; bad {
					wrong[ki] = append(ds, doms[i].Name)
				}
			}
		}
	}
	for i, want := range wrong {
		slices.Sort(want)
		k := &d.keys[i]
		k.Domains = want
		if d.hay != nil {
			d.hay[i] = keyHay(k)
		}
	}
	return true
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
