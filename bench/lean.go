package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/agileplus/agileplus/httpapi"
)

// leanConn is one keep-alive HTTP/1.1 connection that sends a load's
// requests with a single write each and reads the answer in place, the way
// wrk does. The server under test still parses full HTTP with net/http;
// only the load generator is lean, because it shares the machine's cores
// with the server: net/http's client costs about 23 µs of CPU per request
// here (a goroutine pair per connection, a header map, a body reader),
// which the server would otherwise lose.
type leanConn struct {
	addr string // host:port
	host string // the Host header
	conn net.Conn
	r    *bufio.Reader
	out  []byte
	stop func() bool // detaches the context watch
	// token is the API key every request carries.
	token string
}

const leanTimeout = 30 * time.Second // per request, as newHTTPClient's

func newLeanConn(base string) (*leanConn, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("lean client: %q is not an http://host:port base", base)
	}
	return &leanConn{addr: u.Host, host: u.Host, token: tokenFor(base)}, nil
}

// dial connects, and arranges for ctx's end to fail a pending read or
// write at once.
func (l *leanConn) dial(ctx context.Context) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", l.addr)
	if err != nil {
		return err
	}
	l.conn, l.r = c, bufio.NewReaderSize(c, 16<<10)
	l.stop = context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	return nil
}

func (l *leanConn) close() {
	if l.conn != nil {
		l.stop()
		l.conn.Close()
		l.conn = nil
	}
}

// do sends r and reads the response; any status but 2xx is an error that
// carries the start of the body.
func (l *leanConn) do(ctx context.Context, r request) error {
	if l.conn == nil {
		if err := l.dial(ctx); err != nil {
			return fmt.Errorf("%s %s: %w", r.method, r.path, err)
		}
	}
	b := append(l.out[:0], r.method...)
	b = append(b, ' ')
	b = append(b, r.path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, l.host...)
	b = append(b, "\r\n"+httpapi.ActorHeader+": bench\r\n"...)
	if l.token != "" {
		b = append(b, "Authorization: Bearer "...)
		b = append(b, l.token...)
		b = append(b, "\r\n"...)
	}
	if r.body != nil {
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(r.body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, r.body...)
	l.out = b
	l.conn.SetDeadline(time.Now().Add(leanTimeout))
	if _, err := l.conn.Write(b); err != nil {
		l.close()
		return fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	status, body, err := l.readResponse()
	if err != nil {
		l.close()
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	if status/100 != 2 {
		return fmt.Errorf("%s %s %s: %d: %s", r.method, r.path, r.body, status, bytes.TrimSpace(body))
	}
	return nil
}

var errMalformed = errors.New("lean client: malformed response")

// readResponse reads one response. The body is discarded unless the
// status is not 2xx, when its first KiB is returned.
func (l *leanConn) readResponse() (status int, body []byte, err error) {
	line, err := l.r.ReadSlice('\n')
	if err != nil {
		return 0, nil, err
	}
	if len(line) < 13 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[12] != ' ' && line[12] != '\r' {
		return 0, nil, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	length, chunked, closing := -1, false, false
	for {
		line, err := l.r.ReadSlice('\n')
		if err != nil {
			return 0, nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, nil, fmt.Errorf("%w: header line %q", errMalformed, line)
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(v)); err != nil || length < 0 {
				return 0, nil, fmt.Errorf("%w: Content-Length %q", errMalformed, v)
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		case bytes.EqualFold(k, []byte("Connection")):
			closing = bytes.EqualFold(v, []byte("close"))
		}
	}
	keep := status/100 != 2 // keep the body for the error
	var buf bytes.Buffer
	take := func(n int) error {
		if k := min(n, 1024-buf.Len()); keep && k > 0 {
			if _, err := io.CopyN(&buf, l.r, int64(k)); err != nil {
				return err
			}
			n -= k
		}
		_, err := l.r.Discard(n)
		return err
	}
	switch {
	case status/100 == 1 || status == 204 || status == 304:
		// no body
	case chunked:
		for {
			line, err := l.r.ReadSlice('\n')
			if err != nil {
				return 0, nil, err
			}
			size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
			n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 32)
			if err != nil || n < 0 {
				return 0, nil, fmt.Errorf("%w: chunk size %q", errMalformed, line)
			}
			if n == 0 {
				break
			}
			if err := take(int(n)); err != nil {
				return 0, nil, err
			}
			if _, err := l.r.Discard(2); err != nil { // CRLF after the chunk
				return 0, nil, err
			}
		}
		for { // trailers, then the empty line
			line, err := l.r.ReadSlice('\n')
			if err != nil {
				return 0, nil, err
			}
			if len(bytes.TrimRight(line, "\r\n")) == 0 {
				break
			}
		}
	case length >= 0:
		if err := take(length); err != nil {
			return 0, nil, err
		}
	default: // the body ends with the connection
		if _, err := io.Copy(io.Discard, io.TeeReader(l.r, &limitedBuffer{&buf, keep})); err != nil {
			return 0, nil, err
		}
		closing = true
	}
	if closing {
		l.close()
	}
	return status, buf.Bytes(), nil
}

// limitedBuffer keeps the first KiB written to it when keep is set.
type limitedBuffer struct {
	b    *bytes.Buffer
	keep bool
}

func (w *limitedBuffer) Write(p []byte) (int, error) {
	if w.keep && w.b.Len() < 1024 {
		w.b.Write(p[:min(len(p), 1024-w.b.Len())])
	}
	return len(p), nil
}
