// Package model holds the domain types and rules of tmaps: API key secrets,
// statuses and their transitions, authorized-domain normalisation, and the
// gate's decision. It does no I/O and imports nothing of ours.
package model

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
)

// SecretPrefix starts every API key secret.
const SecretPrefix = "ak_"

// SecretLen is the length of a secret: "ak_" + 32 hex characters.
const SecretLen = len(SecretPrefix) + 32

// DisplayPrefixLen is the length of a key's display prefix: "ak_" + 8 hex.
const DisplayPrefixLen = len(SecretPrefix) + 8

// MaxNameLen is the longest key name accepted, in characters.
const MaxNameLen = 100

// Digest is the SHA-256 digest of a secret; it is what the store keeps.
type Digest [sha256.Size]byte

// String returns the digest in lowercase hex.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// ParseDigest reads a digest from its lowercase hex form.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	if len(s) != 2*len(d) {
		return d, fmt.Errorf("digest: want %d hex characters, got %d", 2*len(d), len(s))
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, fmt.Errorf("digest: %w", err)
	}
	return d, nil
}

// NewSecret returns a fresh secret: "ak_" followed by 32 lowercase hex
// characters holding 128 bits from crypto/rand.
func NewSecret() string { return NewSecretFrom(nil) }

// NewSecretFrom is NewSecret drawing its bits from src (nil: crypto/rand).
// Only a throw-away store passes another source (the reproducible demo of
// the README's screenshots): a known source makes secrets known.
func NewSecretFrom(src io.Reader) string {
	var b [16]byte
	readRandom(src, b[:])
	return SecretPrefix + hex.EncodeToString(b[:])
}

// readRandom fills b from src, or from crypto/rand when src is nil.
func readRandom(src io.Reader, b []byte) {
	if src == nil {
		src = rand.Reader
	}
	if _, err := io.ReadFull(src, b); err != nil {
		panic("random source failed: " + err.Error()) // crypto/rand never does on supported systems
	}
}

// ValidSecret reports whether s matches ^ak_[0-9a-f]{32}$. It does not allocate.
func ValidSecret(s string) bool {
	if len(s) != SecretLen || s[:3] != SecretPrefix {
		return false
	}
	for i := 3; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// DigestOf returns the SHA-256 digest of a secret. It does not allocate for
// strings up to 64 bytes (every valid secret).
func DigestOf(secret string) Digest {
	if len(secret) <= 64 {
		var b [64]byte
		n := copy(b[:], secret)
		return sha256.Sum256(b[:n])
	}
	return sha256.Sum256([]byte(secret))
}

// DisplayPrefix returns "ak_" plus the first 8 hex characters of a secret.
// It returns "" when the secret is not valid.
func DisplayPrefix(secret string) string {
	if !ValidSecret(secret) {
		return ""
	}
	return secret[:DisplayPrefixLen]
}

// NewID returns a stable opaque identifier for a key: "k" + 12 lowercase hex.
// It is unrelated to the secret.
func NewID() string { return NewIDFrom(nil) }

// NewIDFrom is NewID drawing from src (nil: crypto/rand).
func NewIDFrom(src io.Reader) string {
	var b [6]byte
	readRandom(src, b[:])
	return "k" + hex.EncodeToString(b[:])
}

// Status is the lifecycle state of a key.
type Status string

// The three statuses of a key.
const (
	Active   Status = "active"
	Disabled Status = "disabled"
	Revoked  Status = "revoked"
)

// Label is the status as the console shows it: "Active", "Disabled", "Revoked".
func (s Status) Label() string {
	switch s {
	case Active:
		return "Active"
	case Disabled:
		return "Disabled"
	case Revoked:
		return "Revoked"
	}
	return "Unknown"
}

// Valid reports whether s is one of the three statuses.
func (s Status) Valid() bool { return s == Active || s == Disabled || s == Revoked }

// ParseStatus reads a status, case-insensitively.
func ParseStatus(s string) (Status, error) {
	st := Status(strings.ToLower(strings.TrimSpace(s)))
	if !st.Valid() {
		return "", fmt.Errorf("unknown status %q: use active, disabled or revoked", s)
	}
	return st, nil
}

// Errors returned when a status change is refused.
var (
	ErrKeyRevoked      = errors.New("the key is revoked: revocation is permanent, create a new key instead")
	ErrAlreadyActive   = errors.New("the key is already active")
	ErrAlreadyDisabled = errors.New("the key is already disabled")
	ErrConfirmMismatch = errors.New("the confirmation does not match the key's name")
)

// Action is a change of status.
type Action string

// The status-changing actions.
const (
	ActDisable Action = "disable"
	ActEnable  Action = "enable"
	ActRevoke  Action = "revoke"
)

// Transition returns the status that action leads to from s, or a sentinel
// error when the transition is refused: ErrKeyRevoked from Revoked (terminal),
// ErrAlreadyActive for enabling an active key, ErrAlreadyDisabled for
// disabling a disabled key.
func (s Status) Transition(a Action) (Status, error) {
	if s == Revoked {
		return s, ErrKeyRevoked
	}
	switch a {
	case ActDisable:
		if s == Disabled {
			return s, ErrAlreadyDisabled
		}
		return Disabled, nil
	case ActEnable:
		if s == Active {
			return s, ErrAlreadyActive
		}
		return Active, nil
	case ActRevoke:
		return Revoked, nil
	}
	return s, fmt.Errorf("unknown action %q", a)
}

// Errors returned for a bad key name.
var (
	ErrNameEmpty   = errors.New("the name is required")
	ErrNameTooLong = fmt.Errorf("the name is too long: at most %d characters", MaxNameLen)
	// ErrNameControl is matched by every *TextError (CheckText).
	ErrNameControl = errors.New("the name contains a character that is not allowed")
)

// NormalizeKeyName is NormalizeName("name", s): trimmed, 1–100 characters,
// CheckText's rules, not shaped like a key reference. It returns
// ErrNameEmpty, ErrNameTooLong, a *TextError (matching ErrNameControl) or
// ErrNameKeyRef.
func NormalizeKeyName(s string) (string, error) { return NormalizeName("name", s) }

// IsBidi reports whether r is a bidirectional formatting character
// (embeddings, overrides, isolates, marks) that can disguise text.
func IsBidi(r rune) bool {
	switch {
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069,
		r == 0x200E, r == 0x200F, r == 0x061C:
		return true
	}
	return false
}

// Key is an API key as the store keeps it. The secret is never part of it.
type Key struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Prefix        string    `json:"prefix"`
	Digest        Digest    `json:"-"`
	Status        Status    `json:"status"`
	Created       time.Time `json:"created"`
	StatusChanged time.Time `json:"status_changed"`
	LastUsed      time.Time `json:"last_used,omitzero"`
	// Domains are the ASCII names of the linked domains, sorted.
	Domains []string `json:"domains"`
	// Replaces is the id of the key this one was rotated from; ReplacedBy
	// the id of the key rotated from this one.
	Replaces   string `json:"replaces,omitempty"`
	ReplacedBy string `json:"replaced_by,omitempty"`
	// Policy holds the key's kind, expiry, IP allowlist, rate limit,
	// monthly quota, owner and note; its JSON fields sit beside the others.
	Policy
	// Leaked is when a leak report first named the key (zero: never), and
	// LeakURL where the latest report found it. The mark stays: a leaked
	// secret is leaked for good (rotate the key).
	Leaked  time.Time `json:"leaked,omitzero"`
	LeakURL string    `json:"leak_url,omitempty"`
}

// Unrestricted reports whether the key has no linked domain.
func (k Key) Unrestricted() bool { return len(k.Domains) == 0 }

// Clone returns a deep copy of k.
func (k Key) Clone() Key {
	k.Domains = append([]string(nil), k.Domains...)
	k.AllowIPs = slices.Clone(k.AllowIPs)
	return k
}

// Domain is an authorized domain. Name is the stored ASCII form.
type Domain struct {
	Name    string    `json:"name"`
	Unicode string    `json:"unicode"`
	Created time.Time `json:"created"`
	// Keys are the ids of the linked keys, sorted.
	Keys []string `json:"keys"`
}

// Clone returns a deep copy of d.
func (d Domain) Clone() Domain {
	d.Keys = append([]string(nil), d.Keys...)
	return d
}

// AuditEntry is one line of the append-only audit log.
type AuditEntry struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	// Object names what changed: "key:<id>", "domain:<name>", "token:<name>".
	Object string `json:"object"`
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
}

// Audit actions.
const (
	AuditCreate       = "create"
	AuditRename       = "rename"
	AuditDisable      = "disable"
	AuditEnable       = "enable"
	AuditRevoke       = "revoke"
	AuditRotate       = "rotate"
	AuditDomainAdd    = "domain.add"
	AuditDomainDelete = "domain.delete"
	AuditLink         = "link"
	AuditUnlink       = "unlink"
)

// Redacted replaces a secret found where none belongs (RedactSecrets).
const Redacted = "REDACTED"

// secretInText finds API key secrets and operator tokens in text, also cut
// short, in upper case or with a doubled underscore.
var secretInText = regexp.MustCompile(`(?i)(ak|tm)_+[0-9a-f]{4,}`)

// HasSecret reports whether s holds what looks like an API key secret or an
// operator token (see RedactSecrets). It does not allocate.
func HasSecret(s string) bool {
	return strings.IndexByte(s, '_') >= 0 && secretInText.MatchString(s)
}

// RedactSecrets returns s with every API key secret or operator token in it
// replaced by Redacted: for text from a request (an Origin's host) that is
// kept or shown. It allocates only when s holds one.
func RedactSecrets(s string) string {
	if !HasSecret(s) {
		return s
	}
	return secretInText.ReplaceAllString(s, Redacted)
}
