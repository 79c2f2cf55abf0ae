package model

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// MaxDomainLen is the longest authorized-domain name accepted, in ASCII
// characters (without a trailing dot).
const MaxDomainLen = 253

// MaxLabelLen is the longest label of a domain name, in ASCII characters.
const MaxLabelLen = 63

// DomainError explains why a domain name was refused, in words a person
// understands, with the next step: e.g. Problem "it has a scheme",
// Fix "remove the scheme: enter mysite.tn".
//
// Problem and Fix are safe to print in a terminal: any text they quote from
// the input went through Escape. Input is the raw input, unescaped.
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
//
// Accepted: host names (mysite.tn, app.mysite.tn, localhost), internationalised
// names (café.tn is returned as xn--caf-dma.tn), IPv4 addresses in dotted
// decimal form (127.0.0.1), and IPv6 addresses, with or without the URL
// brackets ("::1", "[::1]", "0:0:0:0:0:0:0:1"): an IPv6 address is returned
// WITHOUT brackets in its canonical RFC 5952 form ("::1"); the gate compares
// IPv6 hosts as addresses, so a stored "::1" matches an Origin of
// http://[::1]:8080.
//
// Refused, each with a *DomainError naming the problem and the next step:
// empty input, control or bidi characters, invalid UTF-8, a scheme, a leading
// "//", userinfo, a path, a query, a fragment, a port, wildcards, empty
// labels, labels over 63 or names over 253 characters, characters other than
// letters, digits, hyphens and dots (named in the message), a hyphen at the
// start or end of a label, a last label that is numeric but not part of a
// dotted-decimal IPv4 address (browsers would read 0x7f.1 or 127.1 as an
// address), IPv6 zones, and names that break the IDNA registration rules.
func NormalizeDomain(input string) (string, error) {
	name, p := normalizeDomain(input)
	if p == nil {
		return name, nil
	}
	fix := p.fix
	if sugg := suggestDomain(input); sugg != "" && p.suggest {
		fix += ": enter " + sugg
	} else if p.fallback != "" {
		fix += ": " + p.fallback
	}
	return "", &DomainError{Input: input, Problem: p.problem, Fix: fix}
}

// domainProblem is a refusal before the Fix is completed with a suggestion.
type domainProblem struct {
	problem  string
	fix      string // the step, e.g. "remove the scheme"
	suggest  bool   // append ": enter <corrected name>" when one can be derived
	fallback string // appended when no corrected name can be derived
}

const exampleHost = "enter only the host name, e.g. mysite.tn"

func problem(prob, fix string) *domainProblem {
	return &domainProblem{problem: prob, fix: fix, suggest: true, fallback: exampleHost}
}

// normalizeDomain does the work of NormalizeDomain without building the
// suggestion, so that suggestDomain can call it.
func normalizeDomain(input string) (string, *domainProblem) {
	s := strings.TrimSpace(input)
	if s == "" {
		return "", &domainProblem{problem: "the domain name is empty", fix: "enter a host name such as mysite.tn"}
	}
	if !utf8.ValidString(s) {
		bad := firstInvalidUTF8(s)
		return "", &domainProblem{
			problem: fmt.Sprintf("it is not valid UTF-8 text (byte %s)", Escape(bad)),
			fix:     "retype the name", fallback: "e.g. mysite.tn",
		}
	}
	for _, r := range s {
		if unicode.IsControl(r) || IsBidi(r) {
			return "", problem(
				fmt.Sprintf("it contains the invisible control character %s", Escape(string(r))),
				"remove it")
		}
	}
	if i := strings.Index(s, "://"); i >= 0 {
		return "", problem(fmt.Sprintf("it includes a scheme (%s)", Escape(s[:i+3])), "remove the scheme")
	}
	if strings.HasPrefix(s, "//") {
		return "", problem("it starts with //", "remove the //")
	}
	if strings.ContainsRune(s, '@') {
		i := strings.LastIndexByte(s, '@')
		return "", problem(fmt.Sprintf("it includes a user name (%s)", Escape(s[:i+1])), "remove everything up to the @")
	}
	if i := strings.IndexAny(s, "/?#\\"); i >= 0 {
		switch s[i] {
		case '/', '\\':
			return "", problem(fmt.Sprintf("it includes a path (%s)", Escape(s[i:])), "remove the path")
		case '?':
			return "", problem(fmt.Sprintf("it includes a query (%s)", Escape(s[i:])), "remove the query")
		default:
			return "", problem(fmt.Sprintf("it includes a fragment (%s)", Escape(s[i:])), "remove the fragment")
		}
	}
	if strings.ContainsRune(s, '*') {
		return "", &domainProblem{
			problem: "it contains a wildcard (*)",
			fix:     "wildcards are not supported: add each subdomain, e.g. " + wildcardExample(s),
		}
	}
	// IPv6, bracketed or not, and ports.
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", &domainProblem{problem: "it has a [ without a closing ]", fix: "enter an IPv6 address such as ::1, or a host name such as mysite.tn"}
		}
		rest := s[end+1:]
		if strings.HasPrefix(rest, ":") {
			return "", problem(fmt.Sprintf("it includes a port (%s)", Escape(rest)), "remove the port")
		}
		if rest != "" {
			return "", problem(fmt.Sprintf("it has text after the ] (%s)", Escape(rest)), "remove it")
		}
		return normalizeIPv6(s[1:end])
	}
	if c := strings.Count(s, ":"); c == 1 {
		i := strings.IndexByte(s, ':')
		return "", problem(fmt.Sprintf("it includes a port (%s)", Escape(s[i:])), "remove the port")
	} else if c > 1 {
		return normalizeIPv6(s)
	}
	if strings.ContainsRune(s, ']') {
		return "", problem("it has a ] without an opening [", "remove it")
	}

	// No name longer than this many bytes can fit in 253 ASCII characters
	// (a rune takes at most 4 bytes and encodes to at least 1 character):
	// refuse it before the costly IDNA conversion.
	if len(s) > 4*(MaxDomainLen+1) {
		return "", &domainProblem{
			problem: fmt.Sprintf("the name is %d characters long; a domain name can have at most %d",
				utf8.RuneCountInString(s), MaxDomainLen),
			fix: "enter a shorter name",
		}
	}
	if p := compatProblem(s); p != nil {
		return "", p
	}
	s = strings.ToLower(s)
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return "", &domainProblem{problem: "the domain name is only a dot", fix: "enter a host name such as mysite.tn"}
	}

	// Labels, checked on the form the user typed (Unicode or ASCII).
	if strings.HasPrefix(s, ".") {
		return "", problem("it starts with a dot (empty label)", "remove the leading dot")
	}
	if strings.Contains(s, "..") {
		return "", problem("it has two dots in a row (empty label)", "remove the extra dot")
	}
	if strings.HasSuffix(s, ".") {
		return "", problem("it ends with two dots (empty label)", "remove the extra dot")
	}
	nonASCII := false
	for _, r := range s {
		switch {
		case r >= utf8.RuneSelf:
			nonASCII = true
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
		case r == ' ':
			return "", problem("it contains a space", "remove the space")
		default:
			return "", &domainProblem{
				problem: fmt.Sprintf("it contains the character %q, which is not allowed in a domain name", r),
				fix:     "use only letters, digits, hyphens and dots",
				suggest: false, fallback: "e.g. " + replaceInvalid(s, r),
			}
		}
	}
	for _, label := range strings.Split(s, ".") {
		if strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			where := "starts"
			if !strings.HasPrefix(label, "-") {
				where = "ends"
			}
			return "", problem(fmt.Sprintf("the label %q %s with a hyphen", Escape(label), where),
				"remove the hyphen")
		}
	}

	var ascii string
	if nonASCII {
		s = norm.NFC.String(s)
	}
	// Registration rules also apply to ASCII names: xn-- labels must decode
	// to valid names, and "--" in the third and fourth positions is reserved.
	a, err := idna.Registration.ToASCII(s)
	if p := lengthProblem(a); p != nil {
		return "", p // a is the (partially) converted name even on error
	}
	if err != nil {
		return "", idnaProblem(s, err)
	}
	ascii = a

	labels := strings.Split(ascii, ".")
	// A numeric last label makes browsers read the host as an IPv4 address
	// (127.1, 0x7f.0.0.1, 2130706433): only canonical dotted decimal can match.
	last := labels[len(labels)-1]
	if numericLabel(last) {
		ip, err := netip.ParseAddr(ascii)
		if err != nil || !ip.Is4() {
			return "", &domainProblem{
				problem: fmt.Sprintf("%q ends with a number but is not an IPv4 address in dotted decimal form", Escape(ascii)),
				fix:     "enter an IPv4 address such as 127.0.0.1, or a host name such as mysite.tn",
			}
		}
		return ip.String(), nil
	}
	return ascii, nil
}

// lengthProblem checks the DNS length limits on the ASCII form.
func lengthProblem(ascii string) *domainProblem {
	for _, label := range strings.Split(ascii, ".") {
		if len(label) > MaxLabelLen {
			return &domainProblem{
				problem: fmt.Sprintf("the label %q is %d characters long; a label can have at most %d",
					Escape(shorten(label)), len(label), MaxLabelLen),
				fix: "shorten that part of the name",
			}
		}
	}
	if len(ascii) > MaxDomainLen {
		return &domainProblem{
			problem: fmt.Sprintf("the name is %d characters long; a domain name can have at most %d", len(ascii), MaxDomainLen),
			fix:     "enter a shorter name",
		}
	}
	return nil
}

// numericLabel reports whether a label would make a URL parser read the host
// as an IPv4 address: all decimal digits, or a 0x hexadecimal number.
func numericLabel(l string) bool {
	if l == "" {
		return false
	}
	if strings.HasPrefix(l, "0x") {
		l = l[2:]
		for i := 0; i < len(l); i++ {
			c := l[i]
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(l); i++ {
		if l[i] < '0' || l[i] > '9' {
			return false
		}
	}
	return true
}

func normalizeIPv6(s string) (string, *domainProblem) {
	if strings.ContainsRune(s, '%') {
		return "", &domainProblem{
			problem: fmt.Sprintf("the IPv6 address %s has a zone (%s)", Escape(s), Escape(s[strings.IndexByte(s, '%'):])),
			fix:     "remove the zone", suggest: true, fallback: "e.g. ::1",
		}
	}
	ip, err := netip.ParseAddr(s)
	if err != nil || !ip.Is6() {
		return "", &domainProblem{
			problem: fmt.Sprintf("%s is not a valid IPv6 address", Escape(s)),
			fix:     "enter a host name such as mysite.tn, or an IPv6 address such as ::1 (a port is not allowed)",
		}
	}
	return ip.String(), nil
}

// idnaProblem explains an IDNA refusal, naming the offending character when
// one can be found.
func idnaProblem(s string, err error) *domainProblem {
	for _, label := range strings.Split(s, ".") {
		for _, r := range label {
			if r < utf8.RuneSelf {
				continue
			}
			if _, e := idna.Registration.ToASCII("a" + string(r)); e != nil {
				return &domainProblem{
					problem: fmt.Sprintf("it contains the character %s (%U), which is not allowed in a domain name",
						Escape(string(r)), r),
					fix:     "replace it with a letter or a digit",
					suggest: false, fallback: hintForRune(r),
				}
			}
		}
		if strings.HasPrefix(label, "xn--") {
			if _, e := idna.Registration.ToASCII(label); e != nil {
				return &domainProblem{
					problem: fmt.Sprintf("the label %q is not a valid encoded (xn--) name", Escape(label)),
					fix:     "enter the name in its Unicode form, e.g. café.tn",
				}
			}
		}
		if len(label) >= 4 && label[2] == '-' && label[3] == '-' {
			return &domainProblem{
				problem: fmt.Sprintf("the label %q has -- in the third and fourth positions, which is reserved for encoded names", Escape(label)),
				fix:     "use a single hyphen there",
			}
		}
	}
	return &domainProblem{
		problem: fmt.Sprintf("it is not a valid internationalised domain name (%s)", Escape(strings.TrimPrefix(err.Error(), "idna: "))),
		fix:     "check the spelling, or enter its ASCII form",
	}
}

// compatProblem refuses a character that UTS 46 maps to another one where
// lowercasing or normalisation before the IDNA conversion would fold it
// silently: compatibility forms (NFKC changes them: the Kelvin sign into K,
// fullwidth letters, ligatures, the long s, circled digits, the CJK
// compatibility ideographs) and letters whose lowercase is not their own
// (U+0130 lowercases to an ASCII i, U+1E9E to ß). Registration rules accept
// a character only as it stands, so the input is refused, naming the
// character and what to type instead. Ordinary upper case (É, Σ, Я) is not
// refused: it lowercases to its own small letter.
func compatProblem(s string) *domainProblem {
	for _, r := range s {
		if r < utf8.RuneSelf {
			continue
		}
		want := norm.NFKC.String(string(r))
		if want == string(r) {
			l := unicode.ToLower(r)
			if l == r || unicode.ToUpper(l) == r {
				continue
			}
			want = string(l)
		}
		p := &domainProblem{
			problem: fmt.Sprintf("it contains the character %s (%s), a compatibility form that IDNA registration rules refuse",
				Escape(string(r)), RuneName(r)),
			fix: "replace it with the ordinary character",
		}
		switch hint := strings.ToLower(want); {
		case r >= 0xFF01 && r <= 0xFF5E:
			p.fix = hintForRune(r)
		case hint == ".":
			p.fix = "type an ordinary dot (.) instead"
		case validHint(hint):
			p.fix = fmt.Sprintf("type %q instead", hint)
		}
		return p
	}
	return nil
}

// validHint reports whether hint can stand in a domain label.
func validHint(hint string) bool {
	if hint == "" || strings.ContainsAny(hint, ". ") {
		return false
	}
	_, err := idna.Registration.ToASCII("a" + hint)
	return err == nil
}

func hintForRune(r rune) string {
	if r >= 0xFF01 && r <= 0xFF5E {
		return fmt.Sprintf("it is a full-width form: type %q instead", rune(r-0xFF01+'!'))
	}
	if r == 0x3002 || r == 0xFF0E || r == 0xFF61 {
		return "type an ordinary dot (.) instead"
	}
	return "e.g. mysite.tn"
}

// suggestDomain derives the name the user probably meant from a refused
// input (without scheme, userinfo, path, query, fragment, port, control
// characters, extra dots or leading/trailing hyphens), or "" when none
// can be derived or it is the input itself.
func suggestDomain(input string) string {
	s := strings.TrimSpace(input)
	if !utf8.ValidString(s) {
		return ""
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || IsBidi(r) || r == ' ' {
			return -1
		}
		return r
	}, s)
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	s = strings.TrimLeft(s, "/")
	if i := strings.IndexAny(s, "/?#\\"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s = s[i+1:]
	}
	if strings.HasPrefix(s, "[") {
		if end := strings.IndexByte(s, ']'); end > 0 {
			s = s[1:end]
		}
	} else if strings.Count(s, ":") == 1 {
		s = s[:strings.IndexByte(s, ':')]
	}
	if i := strings.IndexByte(s, '%'); i >= 0 && strings.Contains(s, ":") {
		s = s[:i] // IPv6 zone
	}
	if !strings.Contains(s, ":") {
		labels := strings.Split(s, ".")
		kept := labels[:0]
		for _, l := range labels {
			l = strings.Trim(l, "-")
			if l != "" {
				kept = append(kept, l)
			}
		}
		s = strings.Join(kept, ".")
	}
	if s == "" {
		return ""
	}
	name, p := normalizeDomain(s)
	if p != nil {
		return ""
	}
	return name
}

// wildcardExample turns *.mysite.tn into app.mysite.tn for the Fix of a
// wildcard refusal.
func wildcardExample(s string) string {
	rest := strings.TrimLeft(s, "*.")
	if rest != "" && !strings.ContainsRune(rest, '*') {
		if name, p := normalizeDomain("app." + rest); p == nil {
			return name + " (one entry per subdomain)"
		}
	}
	return "app.mysite.tn, admin.mysite.tn"
}

// replaceInvalid guesses the name meant when s holds the invalid ASCII
// character r: '_' becomes '-', anything else is dropped. It falls back to
// my-site.tn when the guess is not a valid name either.
func replaceInvalid(s string, r rune) string {
	repl := ""
	if r == '_' {
		repl = "-"
	}
	if name, p := normalizeDomain(strings.ReplaceAll(s, string(r), repl)); p == nil {
		return name
	}
	return "my-site.tn"
}

func shorten(s string) string {
	if len(s) <= 20 {
		return s
	}
	return s[:17] + "..."
}

func firstInvalidUTF8(s string) string {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return s[i : i+1]
		}
		i += size
	}
	return ""
}

// DomainUnicode returns the Unicode display form of a stored ASCII name
// (the name itself when it has no punycode label, or when a label does not
// decode).
func DomainUnicode(ascii string) string {
	if !strings.Contains(ascii, "xn--") {
		return ascii
	}
	u, err := idna.Display.ToUnicode(ascii)
	if err != nil {
		return ascii
	}
	return u
}

// MixedScript reports whether a domain's Unicode form mixes scripts within a
// label (homograph risk, e.g. a Cyrillic у in mуsite.tn). It accepts the
// ASCII (punycode) or the Unicode form. Digits, hyphens and combining marks
// (Common and Inherited scripts) are neutral. The combinations that
// Unicode's "highly restrictive" profile (UTS #39) allows are not flagged:
// Latin with Han, Hiragana and Katakana (Japanese), with Han and Bopomofo
// (Chinese), or with Han and Hangul (Korean).
func MixedScript(name string) bool {
	if strings.Contains(strings.ToLower(name), "xn--") {
		if u, err := idna.Punycode.ToUnicode(strings.ToLower(name)); err == nil {
			name = u
		}
	}
	for _, label := range strings.Split(name, ".") {
		if labelMixesScripts(label) {
			return true
		}
	}
	return false
}

// scriptOrder lists the scripts checked first; the rest of unicode.Scripts
// is searched only for rarer characters.
var scriptOrder = []string{"Latin", "Cyrillic", "Greek", "Arabic", "Hebrew", "Han", "Hiragana",
	"Katakana", "Hangul", "Bopomofo", "Armenian", "Georgian", "Thai", "Devanagari", "Cherokee"}

func scriptOf(r rune) string {
	if unicode.Is(unicode.Common, r) || unicode.Is(unicode.Inherited, r) {
		return ""
	}
	for _, name := range scriptOrder {
		if unicode.Is(unicode.Scripts[name], r) {
			return name
		}
	}
	for name, table := range unicode.Scripts {
		if name != "Common" && name != "Inherited" && unicode.Is(table, r) {
			return name
		}
	}
	return "Unknown"
}

var allowedScriptSets = []map[string]bool{
	{"Latin": true, "Han": true, "Hiragana": true, "Katakana": true},
	{"Latin": true, "Han": true, "Bopomofo": true},
	{"Latin": true, "Han": true, "Hangul": true},
}

func labelMixesScripts(label string) bool {
	seen := map[string]bool{}
	for _, r := range label {
		if r < utf8.RuneSelf {
			if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
				seen["Latin"] = true
			}
			continue
		}
		if sc := scriptOf(r); sc != "" {
			seen[sc] = true
		}
	}
	if len(seen) <= 1 {
		return false
	}
next:
	for _, allowed := range allowedScriptSets {
		for sc := range seen {
			if !allowed[sc] {
				continue next
			}
		}
		return false
	}
	return true
}
