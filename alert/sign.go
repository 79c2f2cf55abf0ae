package alert

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries the signature of a webhook's body:
//
//	X-Tmaps-Signature: t=1767225600,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd
//
// t is the sending time in Unix seconds and v1 the lowercase hex
// HMAC-SHA256, keyed with the shared secret, of the bytes "<t>." followed
// by the raw body. Each attempt is signed anew.
const SignatureHeader = "X-Tmaps-Signature"

// Other headers of a webhook: the alert's id (the same in every attempt,
// to deduplicate) and kind.
const (
	IDHeader   = "X-Tmaps-Alert-Id"
	KindHeader = "X-Tmaps-Alert-Kind"
)

// DefaultTolerance is how far from now a receiver should accept t.
const DefaultTolerance = 5 * time.Minute

// Sign returns the SignatureHeader value of body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("alert signature does not match")
	ErrStale        = errors.New("alert signature time is too far from now (a replay?)")
)

// Verify checks a SignatureHeader value against body, as a receiver does:
// the HMAC must match (compared in constant time) and t must be within
// tolerance of now. It returns ErrBadSignature or ErrStale.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return ErrBadSignature
	}
	if !hmac.Equal([]byte(sig), []byte(mac(secret, ts, body))) {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	return nil
}
