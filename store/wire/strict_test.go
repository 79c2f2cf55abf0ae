package wire

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestUnmarshalAcceptsWellFormedBodies(t *testing.T) {
	var n NameRequest
	if err := Unmarshal([]byte(` {"name":"caf\u00e9 \ud83d\udd11 \"x\"\\/"} `), &n); err != nil || n.Name != "café 🔑 \"x\"\\/" {
		t.Fatalf("Unmarshal = %v, %q", err, n.Name)
	}
	var u UsageRequest
	body := `{"deltas":[{"key_id":"k0123456789ab","hour":"2026-01-02T03:00:00Z","allowed":1,
		"refused_hosts":{"a.tn":2,"A.tn":3},"last_used":"2026-01-02T03:04:05Z"}]}`
	if err := Unmarshal([]byte(body), &u); err != nil {
		t.Fatal(err)
	}
	if len(u.Deltas) != 1 || u.Deltas[0].RefusedHosts["A.tn"] != 3 || !u.Deltas[0].Hour.Equal(time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)) {
		t.Fatalf("decoded %+v", u)
	}
	var k Key // embedded model.Key: its fields are promoted
	if err := Unmarshal([]byte(`{"id":"k1","name":"x","digest":"","domains":[]}`), &k); err != nil || k.ID != "k1" {
		t.Fatalf("embedded fields: %v %+v", err, k)
	}
}

func TestUnmarshalRefuses(t *testing.T) {
	tests := []struct {
		name, body, want string
		v                any
	}{
		{"case-folded field", `{"NAME":"x"}`, `unknown field "NAME": field names are case-sensitive, send "name"`, &NameRequest{}},
		{"case-folded nested field", `{"deltas":[{"Key_ID":"k"}]}`, `unknown field "deltas[0].Key_ID"`, &UsageRequest{}},
		{"duplicate field", `{"name":"a","name":"b"}`, `field "name" appears twice`, &NameRequest{}},
		{"duplicate map key", `{"deltas":[{"refused_hosts":{"a":1,"a":2}}]}`, `field "deltas[0].refused_hosts.a" appears twice`, &UsageRequest{}},
		{"unknown field", `{"name":"a","admin":true}`, `unknown field "admin"`, &NameRequest{}},
		{"invalid UTF-8", "{\"name\":\"a\xffb\"}", "not valid UTF-8 (byte 10)", &NameRequest{}},
		{"lone high surrogate", `{"name":"a\ud800b"}`, `lone surrogate escape (\ud800)`, &NameRequest{}},
		{"lone low surrogate", `{"name":"\udc00"}`, `lone surrogate escape (\udc00)`, &NameRequest{}},
		{"high then non-low", `{"name":"\ud800\u0041"}`, `lone surrogate escape (\ud800)`, &NameRequest{}},
		{"surrogate in a field name", `{"\ud800":1}`, `lone surrogate`, &NameRequest{}},
		{"two values", `{"name":"a"} {"name":"b"}`, "one JSON value expected", &NameRequest{}},
		{"truncated", `{"name":"a"`, "unexpected end of input", &NameRequest{}},
		{"wrong type", `{"name":3}`, `field "name" must be string`, &NameRequest{}},
		{"bad escape", `{"name":"\x"}`, "syntax error", &NameRequest{}},
	}
	for _, tt := range tests {
		err := Unmarshal([]byte(tt.body), tt.v)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Unmarshal(%s) = %v, want an error containing %q", tt.name, tt.body, err, tt.want)
		}
	}
}

// FuzzUnmarshal: whatever the strict decoder accepts, encoding/json accepts
// too and decodes to the same value.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{`{"name":"x"}`, `{"NAME":"x"}`, `{"name":"\ud800"}`, `{"deltas":[{"allowed":1}]}`, `[]`, `{"name":"a","name":"b"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var strict, loose UsageRequest
		if err := Unmarshal([]byte(body), &strict); err != nil {
			return
		}
		if err := json.Unmarshal([]byte(body), &loose); err != nil {
			t.Fatalf("strict accepted %q, encoding/json refused it: %v", body, err)
		}
		a, _ := json.Marshal(strict)
		b, _ := json.Marshal(loose)
		if string(a) != string(b) {
			t.Fatalf("%q decoded differently: %s vs %s", body, a, b)
		}
	})
}
