package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/wire"
)

// Headers of a secret-scanning partner report (GitHub's format): the
// identifier of the reporter's key and the base64 ASN.1 ECDSA P-256
// signature, with SHA-256, of the raw body.
const (
	LeakKeyIDHeader     = "Github-Public-Key-Identifier"
	LeakSignatureHeader = "Github-Public-Key-Signature"
)

// MaxLeakBody is the largest leak report accepted (1 MiB).
const MaxLeakBody = 1 << 20

// LeakActor is the audit actor of the changes a leak report makes.
const LeakActor = "leak-report"

// LeakKeys are the public keys whose signature a leak report must carry.
type LeakKeys struct {
	keys []leakKey
}

type leakKey struct {
	id  string // the reporter's identifier, or hex SHA-256 of the DER key
	pub *ecdsa.PublicKey
}

// ParseLeakKeys reads the reporter's ECDSA P-256 public keys: PEM "PUBLIC
// KEY" blocks, or the JSON GitHub publishes at
// https://api.github.com/meta/public_keys/secret_scanning
// ({"public_keys":[{"key_identifier":"…","key":"-----BEGIN PUBLIC KEY-----…"}]}).
func ParseLeakKeys(data []byte) (*LeakKeys, error) {
	var lk LeakKeys
	var doc struct {
		PublicKeys []struct {
			ID  string `json:"key_identifier"`
			Key string `json:"key"`
		} `json:"public_keys"`
	}
	if trimmed := strings.TrimSpace(string(data)); strings.HasPrefix(trimmed, "{") {
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("leak report keys: not the JSON of GitHub's public_keys document: %v", err)
		}
		for i, k := range doc.PublicKeys {
			keys, err := pemKeys([]byte(k.Key))
			if err != nil || len(keys) != 1 {
				return nil, fmt.Errorf("leak report keys: public_keys[%d]: want one PEM public key: %v", i, err)
			}
			keys[0].id = k.ID
			lk.keys = append(lk.keys, keys[0])
		}
	} else {
		keys, err := pemKeys(data)
		if err != nil {
			return nil, fmt.Errorf("leak report keys: %w", err)
		}
		lk.keys = keys
	}
	if len(lk.keys) == 0 {
		return nil, errors.New("leak report keys: no public key found (want PEM PUBLIC KEY blocks or GitHub's public_keys JSON)")
	}
	return &lk, nil
}

// pemKeys reads every PEM public key of data.
func pemKeys(data []byte) ([]leakKey, error) {
	var out []leakKey
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "PUBLIC KEY" {
			continue
		}
		pub, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, err
		}
		ec, ok := pub.(*ecdsa.PublicKey)
		if !ok || ec.Curve != elliptic.P256() {
			return nil, errors.New("the key is not ECDSA P-256")
		}
		sum := sha256.Sum256(b.Bytes)
		out = append(out, leakKey{id: hex.EncodeToString(sum[:]), pub: ec})
	}
	return out, nil
}

// Len is the number of keys.
func (lk *LeakKeys) Len() int { return len(lk.keys) }

// Verify checks the signature of body. The identifier picks the key when
// it names one; otherwise every key is tried (the reporter may have
// rotated to a key known under another identifier).
func (lk *LeakKeys) Verify(identifier, signature string, body []byte) error {
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(signature))
	if err != nil || len(sig) == 0 {
		return errors.New("no valid signature header")
	}
	sum := sha256.Sum256(body)
	for _, k := range lk.keys {
		if k.id == identifier && ecdsa.VerifyASN1(k.pub, sum[:], sig) {
			return nil
		}
	}
	for _, k := range lk.keys {
		if ecdsa.VerifyASN1(k.pub, sum[:], sig) {
			return nil
		}
	}
	return errors.New("the signature matches no configured key")
}

// leaks answers POST /v1/leaks: a secret-scanning partner report, a JSON
// list of {"token","type","url","source"}, signed by a configured key.
// Each token that is one of our keys is recorded as leaked (and disabled
// with Options.OnLeakDisable). The answer is 200 [] whatever the tokens
// are: no per-token feedback, so the answer tells a reporter nothing of
// which tokens are ours.
func (srv *Server) leaks(w http.ResponseWriter, r *http.Request) {
	ls, ok := srv.s.(store.LeakStore)
	if srv.opt.LeakKeys == nil || !ok {
		writeError(w, http.StatusServiceUnavailable, wire.Error{Error: "leak reports are not configured on this server (tmaps serve --leak-report-key)", Code: "unavailable"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxLeakBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, wire.Error{Error: fmt.Sprintf("request body too large: at most %d bytes", mbe.Limit), Code: wire.CodeTooLarge})
			return
		}
		badRequest(w, "cannot read the request body")
		return
	}
	if err := srv.opt.LeakKeys.Verify(r.Header.Get(LeakKeyIDHeader), r.Header.Get(LeakSignatureHeader), body); err != nil {
		srv.log.Warn("leak report refused: bad signature", "remote", r.RemoteAddr, "key_identifier", model.Escape(r.Header.Get(LeakKeyIDHeader)), "err", err)
		writeError(w, http.StatusUnauthorized, wire.Error{Error: "invalid signature", Code: "bad_signature"})
		return
	}
	var items []wire.LeakItem
	if err := wire.Unmarshal(body, &items); err != nil {
		badRequest(w, "bad JSON: "+err.Error()+` (want [{"token","type","url","source"}])`)
		return
	}
	leaks := make([]model.Leak, 0, len(items))
	for _, it := range items {
		d := model.DigestOf(it.Token)
		if model.ValidSecret(it.Token) {
			leaks = append(leaks, model.Leak{Digest: d, URL: it.URL, Source: it.Source})
		}
	}
	ctx := store.WithActor(r.Context(), LeakActor)
	res, err := ls.ReportLeaks(ctx, leaks, srv.opt.OnLeakDisable)
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	fresh, disabled := 0, 0
	for _, x := range res {
		if x.New {
			fresh++
			srv.log.Warn("leaked key reported", "key_id", x.Key.ID, "url", x.Key.LeakURL, "disabled", x.Disabled)
		}
		if x.Disabled {
			disabled++
		}
	}
	srv.log.Info("leak report", "tokens", len(items), "ours", len(res), "new", fresh, "disabled", disabled)
	// Every report waits for the gate the same way, so that a disabled key
	// is refused by this node when the reporter gets its answer.
	if srv.opt.Sync != nil {
		sctx, cancel := context.WithTimeout(r.Context(), srv.opt.SyncTimeout)
		if err := srv.opt.Sync(sctx); err != nil {
			srv.log.Error("a leak report is saved but the gate has not applied it", "err", err)
		}
		cancel()
	}
	writeJSON(w, http.StatusOK, []struct{}{})
}
