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
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	methods := map[string]bool{"get": true, "put": true, "post": true, "delete": true, "patch": true, "head": true, "options": true}
	var out []string
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
				out = append(out, strings.ToUpper(key)+" "+cur)
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
	doc := "openapi: 3.1.0\npaths:\n  /v1/keys:\n    get:\n      summary: x\n    parameters: []\n  /v1/keys/{id}:\n    delete: {}\ncomponents:\n  x:\n    get: {}\n"
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
}
