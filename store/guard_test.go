package store

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tmaps/console/model"
)

// recorder is a store that records which methods reached it.
type recorder struct {
	mu      sync.Mutex
	called  []string
	audited []model.AuditEntry
}

func (r *recorder) hit(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.called = append(r.called, name)
}

func (r *recorder) Key(context.Context, string) (model.Key, error) {
	r.hit("Key")
	return model.Key{}, nil
}
func (r *recorder) KeyByDigest(context.Context, model.Digest) (model.Key, error) {
	r.hit("KeyByDigest")
	return model.Key{}, nil
}
func (r *recorder) Keys(context.Context) ([]model.Key, error) { r.hit("Keys"); return nil, nil }
func (r *recorder) CreateKey(context.Context, string, model.Policy) (model.Key, string, error) {
	r.hit("CreateKey")
	return model.Key{}, "", nil
}
func (r *recorder) UpdateKey(context.Context, string, model.KeyUpdate) (model.Key, error) {
	r.hit("UpdateKey")
	return model.Key{}, nil
}
func (r *recorder) RenameKey(context.Context, string, string) (model.Key, error) {
	r.hit("RenameKey")
	return model.Key{}, nil
}
func (r *recorder) DisableKey(context.Context, string) (model.Key, error) {
	r.hit("DisableKey")
	return model.Key{}, nil
}
func (r *recorder) EnableKey(context.Context, string) (model.Key, error) {
	r.hit("EnableKey")
	return model.Key{}, nil
}
func (r *recorder) RevokeKey(context.Context, string, string) (model.Key, error) {
	r.hit("RevokeKey")
	return model.Key{}, nil
}
func (r *recorder) RotateKey(context.Context, string, time.Duration) (model.Key, string, error) {
	r.hit("RotateKey")
	return model.Key{}, "", nil
}
func (r *recorder) LinkKey(context.Context, string, ...string) (model.Key, error) {
	r.hit("LinkKey")
	return model.Key{}, nil
}
func (r *recorder) UnlinkKey(context.Context, string, ...string) (model.Key, error) {
	r.hit("UnlinkKey")
	return model.Key{}, nil
}
func (r *recorder) AddDomain(context.Context, string) (model.Domain, error) {
	r.hit("AddDomain")
	return model.Domain{}, nil
}
func (r *recorder) Domain(context.Context, string) (model.Domain, error) {
	r.hit("Domain")
	return model.Domain{}, nil
}
func (r *recorder) Domains(context.Context) ([]model.Domain, error) {
	r.hit("Domains")
	return nil, nil
}
func (r *recorder) DeleteDomain(context.Context, string) (model.Domain, error) {
	r.hit("DeleteDomain")
	return model.Domain{}, nil
}
func (r *recorder) Audit(context.Context, AuditQuery) ([]model.AuditEntry, error) {
	r.hit("Audit")
	return nil, nil
}
func (r *recorder) RecordUsage(context.Context, []UsageDelta) error { r.hit("RecordUsage"); return nil }
func (r *recorder) Usage(context.Context, UsageQuery) ([]UsageBucket, error) {
	r.hit("Usage")
	return nil, nil
}
func (r *recorder) RefusedHosts(context.Context, string) ([]RefusedHost, error) {
	r.hit("RefusedHosts")
	return nil, nil
}
func (r *recorder) Watch(context.Context) (<-chan Event, error) { r.hit("Watch"); return nil, nil }
func (r *recorder) Close() error                                { r.hit("Close"); return nil }
func (r *recorder) CreateToken(context.Context, string, model.Role) (Token, string, error) {
	r.hit("CreateToken")
	return Token{}, "", nil
}
func (r *recorder) SetTokenRole(context.Context, string, model.Role) (Token, error) {
	r.hit("SetTokenRole")
	return Token{}, nil
}
func (r *recorder) Tokens(context.Context) ([]Token, error) { r.hit("Tokens"); return nil, nil }
func (r *recorder) RevokeToken(context.Context, string) error {
	r.hit("RevokeToken")
	return nil
}
func (r *recorder) TokenByDigest(context.Context, model.Digest) (Token, error) {
	r.hit("TokenByDigest")
	return Token{}, nil
}
func (r *recorder) Alerts(context.Context, AlertQuery) ([]model.Alert, error) {
	r.hit("Alerts")
	return nil, nil
}
func (r *recorder) MatchedHosts(context.Context, string) ([]MatchedHost, error) {
	r.hit("MatchedHosts")
	return nil, nil
}
func (r *recorder) AppendAudit(ctx context.Context, action, object, before, after string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.audited = append(r.audited, model.AuditEntry{Actor: Actor(ctx), Action: action, Object: object, Before: before, After: after})
	return nil
}

// methodsOf lists the methods of the interfaces a guarded store serves.
func methodsOf() []reflect.Method {
	var out []reflect.Method
	for _, it := range []reflect.Type{
		reflect.TypeFor[Store](), reflect.TypeFor[TokenStore](), reflect.TypeFor[LinkUsage](), reflect.TypeFor[AlertReader](),
	} {
		for i := range it.NumMethod() {
			out = append(out, it.Method(i))
		}
	}
	return out
}

// callAll calls every method of methodsOf on st with zero arguments (and a
// context with an actor) and returns the errors by method name.
func callAll(t *testing.T, st any) map[string]error {
	t.Helper()
	v := reflect.ValueOf(st)
	ctx := WithActor(context.Background(), "ssh:eve SHA256:x")
	out := map[string]error{}
	for _, m := range methodsOf() {
		if m.Name == "Close" {
			continue
		}
		fn := v.MethodByName(m.Name)
		if !fn.IsValid() {
			t.Fatalf("the guarded store lacks %s", m.Name)
		}
		var args []reflect.Value
		for i := range fn.Type().NumIn() {
			in := fn.Type().In(i)
			switch {
			case in == reflect.TypeFor[context.Context]():
				args = append(args, reflect.ValueOf(ctx))
			case fn.Type().IsVariadic() && i == fn.Type().NumIn()-1:
				args = append(args, reflect.Zero(in.Elem()))
			default:
				args = append(args, reflect.Zero(in))
			}
		}
		res := fn.Call(args)
		errV := res[len(res)-1]
		var err error
		if !errV.IsNil() {
			err = errV.Interface().(error)
		}
		out[m.Name] = err
	}
	return out
}

// TestGuardEveryMethodEveryRole calls every method of a guarded store as
// every role: a method reaches the store underneath exactly when the role
// table allows its op; a refused change is a ForbiddenError and is audited.
func TestGuardEveryMethodEveryRole(t *testing.T) {
	reads := []string{"Alerts", "Audit", "Domain", "Domains", "Key", "KeyByDigest", "Keys", "MatchedHosts", "RefusedHosts", "Usage", "Watch"}
	tokens := []string{"CreateToken", "RevokeToken", "SetTokenRole", "TokenByDigest", "Tokens"}
	for _, role := range model.Roles() {
		rec := &recorder{}
		g := Guard(rec, role)
		if _, ok := g.(LinkUsage); !ok {
			t.Fatal("the guard hides LinkUsage")
		}
		errs := callAll(t, g)
		sort.Strings(rec.called)
		var want []string
		for name := range errs {
			isRead := contains(reads, name)
			isToken := contains(tokens, name)
			allowed := role == model.RoleAdmin || (role == model.RoleOperator && !isToken) || (role == model.RoleAuditor && isRead)
			if allowed {
				want = append(want, name)
				if errs[name] != nil {
					t.Errorf("%s %s: %v", role, name, errs[name])
				}
				continue
			}
			var fe *model.ForbiddenError
			if !errors.As(errs[name], &fe) || !strings.HasPrefix(errs[name].Error(), "forbidden: "+string(role)+" cannot ") {
				t.Errorf("%s %s: got %v, want forbidden", role, name, errs[name])
			}
		}
		sort.Strings(want)
		if strings.Join(rec.called, ",") != strings.Join(want, ",") {
			t.Errorf("%s reached the store with %v, want %v", role, rec.called, want)
		}
		refused := len(errs) - len(want)
		if len(rec.audited) != refused {
			t.Errorf("%s: %d refusals audited, want %d", role, len(rec.audited), refused)
		}
		for _, e := range rec.audited {
			if e.Action != model.AuditRefused || e.Actor != "ssh:eve SHA256:x" || !model.Op(e.After).Changes() {
				t.Errorf("refusal audit %+v", e)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// plain is a store without LinkUsage, tokens or audit appends.
type plain struct{ Store }

func TestGuardKeepsOptionalInterfacesHonest(t *testing.T) {
	g := Guard(plain{&recorder{}}, model.RoleAdmin)
	if _, ok := g.(LinkUsage); ok {
		t.Error("the guard offers LinkUsage over a store without it")
	}
	if _, err := g.(TokenStore).Tokens(context.Background()); err == nil || !strings.Contains(err.Error(), "no operator tokens") {
		t.Errorf("tokens over a store without them: %v", err)
	}
	if _, err := g.(AlertReader).Alerts(context.Background(), AlertQuery{}); !errors.Is(err, ErrNoAlerts) {
		t.Errorf("alerts over a store without them: %v", err)
	}
	// A refusal over a store that cannot audit is still a refusal.
	if _, _, err := Guard(plain{&recorder{}}, model.RoleAuditor).CreateKey(context.Background(), "x", model.Policy{}); !errors.Is(err, model.ErrForbidden) {
		t.Errorf("CreateKey as auditor: %v", err)
	}
}
