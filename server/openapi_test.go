package server

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

// specRoutes reads the paths and methods of an OpenAPI document written in
// block style under a top-level "paths:" key (two-space indentation): path
// keys at indent 2, operation keys at indent 4. It is a reader for the
// subset of YAML docs/openapi.yaml uses, not a YAML parser.
func specRoutes(path string) ([]string, error) {
	ops, err := specOps(path)
	out := make([]string, len(ops))
	for i, o := range ops {
		out[i] = o.route
	}
	return out, err
}

// specOp is one operation of the spec and its x-tmaps-role ("" when absent).
type specOp struct {
	route string // "GET /v1/keys"
	role  string
}

// specOps is specRoutes with each operation's x-tmaps-role (a key at
// indent 6 under the operation).
func specOps(path string) ([]specOp, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	methods := map[string]bool{"get": true, "put": true, "post": true, "delete": true, "patch": true, "head": true, "options": true}
	var out []specOp
	inPaths := false
	cur := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if strings.Contains(line[:indent], "\t") {
			return nil, fmt.Errorf("line %d: tab in indentation", n)
		}
		if indent == 0 {
			inPaths = trimmed == "paths:"
			continue
		}
		if !inPaths {
			continue
		}
		switch indent {
		case 2:
			if !strings.HasPrefix(trimmed, "/") || !strings.HasSuffix(trimmed, ":") {
				return nil, fmt.Errorf("line %d: want a path key, got %q", n, trimmed)
			}
			cur = strings.TrimSuffix(trimmed, ":")
		case 4:
			key, _, _ := strings.Cut(trimmed, ":")
			if methods[key] {
				if cur == "" {
					return nil, fmt.Errorf("line %d: operation outside a path", n)
				}
				out = append(out, specOp{route: strings.ToUpper(key) + " " + cur})
			}
		case 6:
			if v, ok := strings.CutPrefix(trimmed, "x-tmaps-role:"); ok && len(out) > 0 {
				out[len(out)-1].role = strings.TrimSpace(v)
			}
		}
	}
	return out, sc.Err()
}

func TestOpenAPIMatchesRouter(t *testing.T) {
	spec, err := specRoutes("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inSpec := map[string]int{}
	for _, r := range spec {
		inSpec[r]++
	}
	inRouter := map[string]bool{}
	for _, rt := range Routes() {
		inRouter[rt.Method+" "+rt.Path] = true
	}
	var problems []string
	for r, n := range inSpec {
		if n > 1 {
			problems = append(problems, "listed twice in docs/openapi.yaml: "+r)
		}
		if !inRouter[r] {
			problems = append(problems, "in docs/openapi.yaml but not served: "+r)
		}
	}
	for r := range inRouter {
		if inSpec[r] == 0 {
			problems = append(problems, "served but missing from docs/openapi.yaml: "+r)
		}
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
	if len(inRouter) < 20 {
		t.Fatalf("the route table has only %d routes", len(inRouter))
	}
}

func TestSpecReaderSeesDifferences(t *testing.T) {
	dir := t.TempDir()
	p := dir + "/api.yaml"
	doc := "openapi: 3.1.0\npaths:\n  /v1/keys:\n    get:\n      summary: x\n      x-tmaps-role: auditor\n    parameters: []\n  /v1/keys/{id}:\n    delete: {}\ncomponents:\n  x:\n    get: {}\n"
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := specRoutes(p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "GET /v1/keys,DELETE /v1/keys/{id}" {
		t.Fatalf("specRoutes = %q", got)
	}
	ops, err := specOps(p)
	if err != nil || len(ops) != 2 || ops[0].role != "auditor" || ops[1].role != "" {
		t.Fatalf("specOps = %+v, %v", ops, err)
	}
}

// TestOpenAPIRolesMatchRouter checks each operation's x-tmaps-role in
// docs/openapi.yaml against the role table: the least role of the route's
// op, or "none" for a route without an operator token.
func TestOpenAPIRolesMatchRouter(t *testing.T) {
	ops, err := specOps("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]string{}
	for _, o := range ops {
		roles[o.route] = o.role
	}
	for _, rt := range Routes() {
		want := "none"
		if rt.Auth() {
			want = string(rt.Op.MinRole())
		}
		if got := roles[rt.Method+" "+rt.Path]; got != want {
			t.Errorf("%s %s: docs/openapi.yaml says x-tmaps-role %q, the role table %q", rt.Method, rt.Path, got, want)
		}
	}
}
