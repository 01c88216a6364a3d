package main

// The task encoder: a Task as JSON, byte for byte what encoding/json would
// write for the wire struct, without reflection (lists write many).

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// timeLayout is RFC 3339 in UTC with exactly six fractional digits. The
// default time.Time encoding trims trailing zeros and keeps the zone offset.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// MarshalJSON writes the contract's field names and timestamp format, so
// that encoding/json writes a Task as the contract does should it ever be
// handed one. The handlers write with appendTask directly; the tests
// marshal tasks through it.
func (t Task) MarshalJSON() ([]byte, error) {
	return appendTask(make([]byte, 0, 256), t), nil
}

// appendTask appends t as JSON, byte for byte what encoding/json writes for
// the wire struct (fields in contract order, HTML-safe escapes), without its
// reflection and allocations: the list endpoint writes thousands of these.
func appendTask(b []byte, t Task) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, t.ID)
	b = append(b, `,"user_id":`...)
	b = appendJSONString(b, t.UserID)
	b = append(b, `,"title":`...)
	b = appendJSONString(b, t.Title)
	b = append(b, `,"description":`...)
	if t.Description == nil {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, *t.Description)
	}
	b = append(b, `,"is_completed":`...)
	b = strconv.AppendBool(b, t.IsCompleted)
	b = append(b, `,"created_at":"`...)
	b = appendTimestamp(b, t.CreatedAt)
	b = append(b, `","updated_at":"`...)
	b = appendTimestamp(b, t.UpdatedAt)
	return append(b, `"}`...)
}

// appendTimestamp appends t in UTC as 2006-01-02T15:04:05.000000Z (the
// contract's format), digit by digit: time.Format costs several times more.
func appendTimestamp(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, timeLayout) // never from either store
	}
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1000, 6)
	return append(b, 'Z')
}

// appendDigits appends n, zero-padded to width digits.
func appendDigits(b []byte, n, width int) []byte {
	var buf [8]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, buf[:width]...)
}

// appendJSONString appends s as a JSON string the way encoding/json does:
// quotes, backslashes and control characters escaped, <, > and & as \u
// escapes, U+2028 and U+2029 escaped, invalid UTF-8 as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			switch r {
			case utf8.RuneError:
				b = append(b, `\ufffd`...)
			default:
				b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
