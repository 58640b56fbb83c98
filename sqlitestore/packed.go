package sqlitestore

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Packed rows. The driver pays for every column of every row: a few calls
// into SQLite, each taking the connection's mutex, and an allocation to box
// the value. For the rows read in bulk (WP lists, the ready set, events)
// SQLite joins the columns that cannot hold free text (ids, keys, states,
// integers, times) into one value with a unit separator (0x1F) between
// them, and Go cuts the fields back out of that one string without copying.
// Free text may follow: length-prefixed (lengthPrefixed, read with text),
// and the last field as the rest of the value (read with rest). Other free
// text, REALs and blobs stay in columns of their own.

// packed returns a SQL expression that joins cols, none of which may hold
// the unit separator; NULL joins as empty text.
func packed(cols ...string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = "ifnull(" + c + ",'')"
	}
	return strings.Join(parts, "||char(31)||")
}

// unpacker cuts the fields out of a packed value in order.
type unpacker struct {
	s   string
	end bool // the last field has been read
	err error
}

// next returns the next field; ok is false for NULL or empty text.
func (u *unpacker) next() (v string, ok bool) {
	if u.err != nil {
		return "", false
	}
	if u.end {
		u.err = fmt.Errorf("packed row has too few fields")
		return "", false
	}
	i := strings.IndexByte(u.s, 0x1F)
	if i < 0 {
		v, u.s, u.end = u.s, "", true
	} else {
		v, u.s = u.s[:i], u.s[i+1:]
	}
	return v, v != ""
}

// lengthPrefixed returns a SQL expression for the text column col as its
// byte length, a colon and the text, which may hold the separator.
func lengthPrefixed(col string) string {
	return "octet_length(" + col + ")||':'||" + col
}

// text returns a field written by lengthPrefixed.
func (u *unpacker) text() string {
	if u.err != nil {
		return ""
	}
	if u.end {
		u.err = fmt.Errorf("packed row has too few fields")
		return ""
	}
	n, i := 0, 0
	for ; i < len(u.s) && i < 10 && u.s[i] >= '0' && u.s[i] <= '9'; i++ {
		n = n*10 + int(u.s[i]-'0')
	}
	if i == 0 || i >= len(u.s) || u.s[i] != ':' || n > len(u.s)-i-1 {
		u.err = fmt.Errorf("packed row: malformed text field at %.20q", u.s)
		return ""
	}
	v := u.s[i+1 : i+1+n]
	u.s = u.s[i+1+n:]
	return v
}

// rest returns the rest of the value, free text that ends the row.
func (u *unpacker) rest() string {
	v := u.s
	u.s, u.end = "", true
	return v
}

// str returns the next field as text.
func (u *unpacker) str() string {
	v, _ := u.next()
	return v
}

// int returns the next field as an integer; NULL is 0 and not ok.
func (u *unpacker) int() (n int64, ok bool) {
	v, ok := u.next()
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil && u.err == nil {
		u.err = fmt.Errorf("packed row: %w", err)
	}
	return n, ok
}

// time returns the next field as a stored time; NULL is the zero time.
func (u *unpacker) time() time.Time {
	v, ok := u.next()
	if !ok {
		return time.Time{}
	}
	t, err := parseStoredTime(v)
	if err != nil && u.err == nil {
		u.err = err
	}
	return t
}

// done reports an error if the value was malformed or has fields left.
func (u *unpacker) done() error {
	if u.err == nil && !u.end {
		u.err = fmt.Errorf("packed row has more fields than read")
	}
	return u.err
}

// parseStoredTime reads a time written with timeLayout. The layout is fixed
// width, so the digits are read in place; anything else goes to time.Parse
// for its error.
func parseStoredTime(s string) (time.Time, error) {
	if len(s) == len(timeLayout) && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' && s[19] == '.' && s[29] == 'Z' {
		num := func(i, j int) int {
			n := 0
			for ; i < j; i++ {
				c := s[i]
				if c < '0' || c > '9' {
					return -1
				}
				n = n*10 + int(c-'0')
			}
			return n
		}
		y, mo, d, h, mi, sec, ns := num(0, 4), num(5, 7), num(8, 10), num(11, 13), num(14, 16), num(17, 19), num(20, 29)
		if y >= 0 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h >= 0 && h < 24 && mi >= 0 && mi < 60 && sec >= 0 && sec < 60 && ns >= 0 &&
			(d <= 28 || d <= daysIn(time.Month(mo), y)) {
			return time.Date(y, time.Month(mo), d, h, mi, sec, ns, time.UTC), nil
		}
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t, nil
}

// daysIn is the number of days in month m of year y.
func daysIn(m time.Month, y int) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
