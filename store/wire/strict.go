package wire

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// Unmarshal decodes one JSON value into v strictly, for request bodies:
// the body must be valid UTF-8 with no lone surrogate escape (\ud800), hold
// exactly one value, name only fields v has, spelled exactly as its json
// tags (encoding/json alone would take {"NAME":…} for "name"), and name no
// field twice in one object. The error says what is wrong and where, in
// words fit for an API answer.
func Unmarshal(data []byte, v any) error {
	if !utf8.Valid(data) {
		return fmt.Errorf("the body is not valid UTF-8 (byte %d)", invalidUTF8At(data))
	}
	p := parser{data: data}
	p.space()
	if err := p.value(reflect.TypeOf(v), ""); err != nil {
		return err
	}
	p.space()
	if p.i < len(p.data) {
		return errors.New("one JSON value expected, found more data after it")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeErr(err)
	}
	return nil
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

func decodeErr(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		if te.Field == "" {
			return fmt.Errorf("the body must be %s", te.Type)
		}
		return fmt.Errorf("field %q must be %s", te.Field, te.Type)
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "json: unknown field") {
		return errors.New(strings.TrimPrefix(msg, "json: "))
	}
	return errors.New("cannot decode the body")
}

// parser walks the JSON text beside the target type, for the checks
// encoding/json does not make. It leaves decoding to encoding/json; a
// syntax error it meets is reported as encoding/json would (at its byte).
type parser struct {
	data []byte
	i    int
}

func (p *parser) syntax() error { return fmt.Errorf("syntax error at byte %d", p.i+1) }

func (p *parser) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// value checks one value whose target type is t (nil: anything); path
// names it in errors.
func (p *parser) value(t reflect.Type, path string) error {
	t = target(t)
	if p.i >= len(p.data) {
		return errors.New("unexpected end of input")
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object(t, path)
	case c == '[':
		return p.array(t, path)
	case c == '"':
		_, err := p.str()
		return err
	default:
		// A number or a literal: encoding/json checks its form.
		for p.i < len(p.data) && !strings.ContainsRune(" \t\r\n,]}", rune(p.data[p.i])) {
			p.i++
		}
		return nil
	}
}

// target returns the type whose JSON form t decodes from: pointers are
// followed; a type with its own decoding is opaque (nil).
func target(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		if implementsDecoder(t) {
			return nil
		}
		t = t.Elem()
	}
	if t != nil && implementsDecoder(reflect.PointerTo(t)) {
		return nil
	}
	return t
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func implementsDecoder(t reflect.Type) bool {
	return t.Implements(unmarshalerType) || t.Implements(textUnmarshalerType)
}

func (p *parser) object(t reflect.Type, path string) error {
	p.i++ // {
	var fields map[string]reflect.Type
	var elem reflect.Type
	if t != nil {
		switch t.Kind() {
		case reflect.Struct:
			fields = structFields(t)
		case reflect.Map:
			elem = t.Elem()
		}
	}
	seen := map[string]bool{}
	p.space()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		return nil
	}
	for {
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return p.syntax()
		}
		name, err := p.str()
		if err != nil {
			return err
		}
		where := path + name
		if seen[name] {
			return fmt.Errorf("field %q appears twice: send it once", where)
		}
		seen[name] = true
		ft := elem
		if fields != nil {
			var ok bool
			if ft, ok = fields[name]; !ok {
				for known := range fields {
					if strings.EqualFold(known, name) {
						return fmt.Errorf("unknown field %q: field names are case-sensitive, send %q", where, path+known)
					}
				}
				return fmt.Errorf("unknown field %q", where)
			}
		}
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return p.syntax()
		}
		p.i++
		p.space()
		if err := p.value(ft, where+"."); err != nil {
			return err
		}
		p.space()
		if p.i >= len(p.data) {
			return errors.New("unexpected end of input")
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return p.syntax()
		}
	}
}

func (p *parser) array(t reflect.Type, path string) error {
	p.i++ // [
	var elem reflect.Type
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		elem = t.Elem()
	}
	p.space()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		return nil
	}
	for n := 0; ; n++ {
		p.space()
		if err := p.value(elem, fmt.Sprintf("%s[%d].", strings.TrimSuffix(path, "."), n)); err != nil {
			return err
		}
		p.space()
		if p.i >= len(p.data) {
			return errors.New("unexpected end of input")
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return nil
		default:
			return p.syntax()
		}
	}
}

// str reads a string at p.i and returns it decoded; it refuses escapes
// that encode a lone UTF-16 surrogate (encoding/json turns them into U+FFFD).
func (p *parser) str() (string, error) {
	start := p.i
	p.i++ // "
	var b strings.Builder
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c < 0x20:
			return "", p.syntax()
		case c != '\\':
			b.WriteByte(c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.data) {
			break
		}
		if p.data[p.i+1] != 'u' {
			switch e := p.data[p.i+1]; e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b', 'f', 'n', 'r', 't':
				b.WriteByte(map[byte]byte{'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}[e])
			default:
				p.i++
				return "", p.syntax()
			}
			p.i += 2
			continue
		}
		r, ok := p.hex4(p.i + 2)
		if !ok {
			return "", p.syntax()
		}
		p.i += 6
		if utf16.IsSurrogate(r) {
			r2, ok2 := rune(-1), false
			if p.i+1 < len(p.data) && p.data[p.i] == '\\' && p.data[p.i+1] == 'u' {
				r2, ok2 = p.hex4(p.i + 2)
			}
			dec := utf16.DecodeRune(r, r2)
			if !ok2 || dec == utf8.RuneError {
				return "", fmt.Errorf("the string at byte %d holds a lone surrogate escape (\\u%04x), which is not text: send UTF-8", start+1, r)
			}
			p.i += 6
			r = dec
		}
		b.WriteRune(r)
	}
	return "", errors.New("unexpected end of input")
}

func (p *parser) hex4(at int) (rune, bool) {
	if at+4 > len(p.data) {
		return 0, false
	}
	var r rune
	for _, c := range p.data[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// structFields returns the JSON names of t's fields as encoding/json sees
// them (tags, "-", embedded structs promoted), with their types.
func structFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	out := map[string]reflect.Type{}
	collectFields(t, out, 0)
	fieldCache.Store(t, out)
	return out
}

func collectFields(t reflect.Type, out map[string]reflect.Type, depth int) {
	// Shallower fields win over promoted ones, as in encoding/json.
	var embedded []reflect.Type
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			et := ft
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				embedded = append(embedded, et)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, taken := out[name]; !taken {
			out[name] = ft
		}
	}
	for _, et := range embedded {
		if depth < 8 {
			collectFields(et, out, depth+1)
		}
	}
}
