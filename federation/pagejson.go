package federation

import (
	"strconv"
	"unicode/utf8"
)

// appendPage appends p to b as the JSON that encoding/json writes of it
// with HTML characters unescaped, followed by a newline (writePage). A
// page is mostly entries' records, JSON themselves, escaped into JSON
// strings: encoding/json escapes them through reflection and a loop that
// appends the text between every two quotes, which made encoding the
// largest part of serving a page.
func appendPage(b []byte, p *LogPage) []byte {
	b = append(b, `{"checkpoint":`...)
	b = appendJSONString(b, p.Checkpoint)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, p.Size, 10)
	b = append(b, `,"entries":`...)
	if p.Entries == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range p.Entries {
			e := &p.Entries[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"index":`...)
			b = strconv.AppendInt(b, e.Index, 10)
			if e.Data != nil {
				b = append(b, `,"data":`...)
				b = appendJSONString(b, *e.Data)
			}
			if e.LeafHash != "" {
				b = append(b, `,"leaf_hash":`...)
				b = appendJSONString(b, e.LeafHash)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(p.Witnessed) > 0 {
		b = append(b, `,"witnessed":[`...)
		for i, w := range p.Witnessed {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, w)
		}
		b = append(b, ']')
	}
	return append(b, "}\n"...)
}

// plainJSON marks the bytes a JSON string holds as they are: printable
// ASCII but for the quote and the backslash.
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaped byte for byte as
// encoding/json escapes it with HTML characters unescaped: invalid UTF-8
// becomes U+FFFD, and U+2028 and U+2029 are escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plainJSON[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
