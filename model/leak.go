package model

import "bytes"

// Leak is one secret named by a leak report (a secret-scanning partner
// report), reduced to what the store may see: the secret's digest, never
// the secret.
type Leak struct {
	Digest Digest
	// URL is where the secret was found (may be empty); Source what kind
	// of place that is (e.g. "content", "commit").
	URL    string
	Source string
}

// AuditLeak records a leak report naming a key; After is the URL.
const AuditLeak = "leak"

// MaxLeakURL is the longest leak URL kept; longer ones are cut.
const MaxLeakURL = 2048

// FindSecrets returns the offsets in b where a secret ("ak_" + 32
// lowercase hex) starts and stands alone: the byte before it (prev for
// the first byte of b, 0 when none) and the byte after it are not ASCII
// letters or digits, so "xak_…" or a 33rd hex digit is not a secret. A
// secret that reaches the end of b counts only when end is true (more
// bytes may follow otherwise); offsets are below limit.
func FindSecrets(b []byte, prev byte, limit int, end bool) []int {
	var out []int
	for i := 0; i+SecretLen <= len(b) && i < limit; {
		j := indexAK(b[i:])
		if j < 0 {
			break
		}
		i += j
		if i >= limit || i+SecretLen > len(b) {
			break
		}
		before := prev
		if i > 0 {
			before = b[i-1]
		}
		ok := !alnum(before) && ValidSecret(string(b[i:i+SecretLen]))
		if ok {
			if i+SecretLen < len(b) {
				ok = !alnum(b[i+SecretLen])
			} else {
				ok = end
			}
		}
		if ok {
			out = append(out, i)
			i += SecretLen
			continue
		}
		i++
	}
	return out
}

func indexAK(b []byte) int { return bytes.Index(b, []byte(SecretPrefix)) }

func alnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
