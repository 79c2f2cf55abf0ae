package model

import (
	"encoding/hex"
	"fmt"
)

// TokenPrefix starts every operator token secret.
const TokenPrefix = "tm_"

// NewTokenSecret returns a new operator token secret: "tm_" + 32 lowercase
// hex characters from crypto/rand. Stores keep only its digest.
func NewTokenSecret() string {
	var b [16]byte
	readRandom(nil, b[:])
	return TokenPrefix + hex.EncodeToString(b[:])
}

// TokenDisplayPrefix is the part of a token secret that lists show: "tm_"
// and 8 hex characters.
func TokenDisplayPrefix(secret string) string { return secret[:len(TokenPrefix)+8] }

// CheckRole returns nil for admin, operator and auditor, else an error
// naming the role (escaped) and the three to choose from.
func CheckRole(role Role) error {
	if !role.Valid() {
		return fmt.Errorf("role %q: use admin, operator or auditor", Escape(string(role)))
	}
	return nil
}
