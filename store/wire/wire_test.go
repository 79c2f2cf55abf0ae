package wire

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// Every sentinel crosses the wire and comes back as itself.
func TestRoundTrip(t *testing.T) {
	for _, e := range table {
		err := fmt.Errorf("context: %w", e.err)
		status, body := Classify(err)
		if status != e.status || body.Code != e.code || body.Error != err.Error() {
			t.Fatalf("Classify(%v) = %d %+v", err, status, body)
		}
		back := Decode(status, body)
		if !errors.Is(back, e.err) || back.Error() != err.Error() {
			t.Fatalf("Decode(%s) = %v, not %v", e.code, back, e.err)
		}
		if status == http.StatusUnprocessableEntity && !errors.Is(back, store.ErrInvalid) {
			t.Fatalf("%s is not ErrInvalid after the round trip", e.code)
		}
	}
	// Specific not-found errors stay specific and generic.
	back := Decode(Classify(fmt.Errorf("x: %w", store.ErrKeyNotFound)))
	if !errors.Is(back, store.ErrNotFound) || errors.Is(back, store.ErrDomainNotFound) {
		t.Fatalf("key not found became %v", back)
	}
}

func TestDomainErrorRoundTrip(t *testing.T) {
	de := &model.DomainError{Input: "https://mysite.tn", Problem: "it has a scheme", Fix: "remove the scheme"}
	status, body := Classify(fmt.Errorf("%w: %w", store.ErrInvalid, de))
	if status != http.StatusUnprocessableEntity || body.DomainProblem == nil {
		t.Fatalf("Classify = %d %+v", status, body)
	}
	back := Decode(status, body)
	var got *model.DomainError
	if !errors.As(back, &got) || *got != *de || !errors.Is(back, store.ErrInvalid) {
		t.Fatalf("Decode = %v (%+v)", back, got)
	}
}

func TestUnknownErrorsDoNotLeak(t *testing.T) {
	status, body := Classify(errors.New("open /var/lib/secret/path: permission denied"))
	if status != http.StatusInternalServerError || body.Error != "internal error (see the server log)" {
		t.Fatalf("Classify = %d %+v", status, body)
	}
}

func TestKeyDigestRoundTrip(t *testing.T) {
	secret := model.NewSecret()
	k := model.Key{ID: "k0123456789ab", Name: "n", Digest: model.DigestOf(secret)}
	w := FromKey(k)
	if w.Domains == nil || w.Digest != k.Digest.String() {
		t.Fatalf("FromKey = %+v", w)
	}
	back, err := w.ToKey()
	if err != nil || back.Digest != k.Digest || back.Domains != nil {
		t.Fatalf("ToKey = %+v, %v", back, err)
	}
	w.Digest = "zz"
	if _, err := w.ToKey(); err == nil {
		t.Fatal("a bad digest was accepted")
	}
}

func TestNotFoundWithDomainProblem(t *testing.T) {
	de := &model.DomainError{Input: "a/b.tn", Problem: "it includes a path", Fix: "remove the path"}
	status, body := Classify(fmt.Errorf("%w: %w", store.ErrDomainNotFound, de))
	if status != http.StatusNotFound || body.Code != "domain_not_found" || body.DomainProblem == nil {
		t.Fatalf("Classify = %d %+v", status, body)
	}
	back := Decode(status, body)
	var got *model.DomainError
	if !errors.Is(back, store.ErrDomainNotFound) || !errors.As(back, &got) || *got != *de || errors.Is(back, store.ErrInvalid) {
		t.Fatalf("Decode = %v", back)
	}
}
