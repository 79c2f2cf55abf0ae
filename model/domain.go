package model

// DomainError explains why a domain name was refused, in words a person
// understands, with the next step: e.g. Problem "it has a scheme",
// Fix "remove the scheme: enter mysite.tn".
type DomainError struct {
	Input   string
	Problem string
	Fix     string
}

func (e *DomainError) Error() string {
	if e.Fix == "" {
		return e.Problem
	}
	return e.Problem + ": " + e.Fix
}

// NormalizeDomain checks and normalises an authorized-domain name per
// SPEC.md: trim, lowercase, drop one trailing dot, IDNA registration rules to
// ASCII. It returns the ASCII form to store, or a *DomainError.
func NormalizeDomain(input string) (string, error) {
	// TODO(model helper)
	return input, nil
}

// DomainUnicode returns the Unicode display form of a stored ASCII name
// (the name itself when it has no punycode label).
func DomainUnicode(ascii string) string {
	// TODO(model helper)
	return ascii
}

// MixedScript reports whether a domain's Unicode form mixes scripts within a
// label (homograph risk, e.g. a Cyrillic у in mуsite.tn).
func MixedScript(name string) bool {
	// TODO(model helper)
	return false
}
