package ui

import (
	"fmt"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/ui/text"
)

// demoLikeKeys are keys with names of up to 29 cells and short domain
// lists, as the demo has.
func demoLikeKeys() ([]model.Key, []model.Domain) {
	day := func(d int) time.Time { return fixedNow.Add(-time.Duration(d) * 24 * time.Hour) }
	keys := []model.Key{
		{ID: "k000000000001", Name: "Carthage Tours booking widget", Prefix: "ak_0df420b5", Status: model.Active, Created: day(3),
			Domains: []string{"carthage-tours.com.tn", "xn--caf-dma.tn"}},
		{ID: "k000000000002", Name: "Server-to-server geocoding", Prefix: "ak_425b391a", Status: model.Active, Created: day(4)},
		{ID: "k000000000003", Name: "Livraison Express tracking", Prefix: "ak_de137070", Status: model.Active, Created: day(5),
			Domains: []string{"livraison-express.tn"}},
	}
	doms := []model.Domain{
		{Name: "carthage-tours.com.tn", Unicode: "carthage-tours.com.tn", Keys: []string{"k000000000001"}},
		{Name: "livraison-express.tn", Unicode: "livraison-express.tn", Keys: []string{"k000000000003"}},
		{Name: "xn--caf-dma.tn", Unicode: "café.tn", Keys: []string{"k000000000001"}},
	}
	return keys, doms
}

// TestColumnsAdaptToContent: at 120 columns no key name is cut while the
// Domains column has room (before, names were cut at 28 cells beside a
// half-empty Domains column); at 80 the names still get what the domains
// leave.
func TestColumnsAdaptToContent(t *testing.T) {
	keys, doms := demoLikeKeys()
	hs := newHarness(t, openStore(t), 120, 20)
	hs.send(dataLoadedMsg{keys: keys, doms: doms})
	hs.want("Carthage Tours booking widget ", "Server-to-server geocoding ", "carthage-tours.com.tn, café.tn")
	// At 100 the names still fit whole; the domains say the first and "+1".
	hs = newHarness(t, openStore(t), 100, 20)
	hs.send(dataLoadedMsg{keys: keys, doms: doms})
	hs.want("Carthage Tours booking widget ", "carthage-tours.com.tn +1")
	hs = newHarness(t, openStore(t), 80, 20)
	hs.send(dataLoadedMsg{keys: keys, doms: doms})
	hs.want("Carthage Tours b", "Created")
}

// TestHeaderShowsSort: the column the list is sorted by carries ▲ or ▼,
// and a click on a column's title sorts by it.
func TestHeaderShowsSort(t *testing.T) {
	hs := newHarness(t, openStore(t), 100, 20).withFixture()
	hs.want("Created ▼")
	hs.keys("s")
	hs.want("Created ▲")
	hs.keys("s")
	hs.want("Name ▲")
	hs.wantNot("Created ▲", "Created ▼")
	hs.keys("s")
	hs.want("Status ▲")
	// A click on Created sorts by it (newest first), again the other way.
	x := hs.keysPage().cols.createdX + 1
	y := hs.app.bodyTop() + listTop - 1
	hs.send(tea.MouseClickMsg{X: x, Y: y, Button: tea.MouseLeft})
	hs.want("Created ▼")
	hs.send(tea.MouseClickMsg{X: x, Y: y, Button: tea.MouseLeft})
	hs.want("Created ▲")
	hs.send(tea.MouseClickMsg{X: 3, Y: y, Button: tea.MouseLeft})
	hs.want("Name ▲", "sort: name ▲")

	hs.keys("2")
	hs.want("Domain ▲")
	hs.keys("s")
	hs.want("Keys ▼")
	hs.wantNot("Domain ▲")
	hs.send(tea.MouseClickMsg{X: 3, Y: y, Button: tea.MouseLeft})
	hs.want("Domain ▲")
}

// TestScrollPosition: a list longer than the screen says which rows it
// shows, with thousands separators, and so does a filtered one.
func TestScrollPosition(t *testing.T) {
	var keys []model.Key
	for i := range 2500 {
		name := fmt.Sprintf("key %04d", i)
		if i%2 == 0 {
			name += " even"
		}
		keys = append(keys, model.Key{ID: fmt.Sprintf("k%012d", i), Name: name, Prefix: fmt.Sprintf("ak_%08x", i),
			Status: model.Active, Created: fixedNow.Add(-time.Duration(i) * time.Minute)})
	}
	hs := newHarness(t, openStore(t), 100, 20)
	hs.send(dataLoadedMsg{keys: keys})
	h := hs.keysPage().list.Height()
	hs.want(fmt.Sprintf("1–%d of 2,500 keys", h))
	hs.keys("pgdown", "pgdown")
	from := hs.keysPage().list.Offset
	hs.want(fmt.Sprintf("%d–%d of 2,500 keys", from+1, from+h))
	hs.keys("G")
	hs.want(text.Thousands(2500-h+1) + "–2,500 of 2,500 keys")
	hs.keys("/")
	hs.typeText("even")
	hs.keys("enter")
	hs.want(fmt.Sprintf("1–%d of 1,250 matches · 2,500 keys", h))
	hs.keys("esc", "/")
	hs.typeText("key 0002")
	hs.keys("enter")
	hs.want("1 of 2,500 keys")
}
