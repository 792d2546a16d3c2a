package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// RawHTTPChecks returns the Request that sends query i%len(bodies) as a
// what-if check, like HTTPChecks, but over a bare HTTP/1.1 keep-alive
// connection per worker (RawHTTP).
func RawHTTPChecks(server, token string, clients int, bodies [][]byte) (Request, error) {
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("raw HTTP checks need an http:// server URL, not %q", server)
	}
	reqs := make([][]byte, len(bodies))
	for i, b := range bodies {
		var buf bytes.Buffer
		fmt.Fprintf(&buf, "POST /v1/check HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", u.Host, token, len(b))
		buf.Write(b)
		reqs[i] = buf.Bytes()
	}
	return RawHTTP(server, clients, reqs, []byte(`"separation":`))
}

// RawHTTPGets returns the Request that sends GET paths[i%len(paths)] with
// the token, like RawHTTPChecks; it counts the answer's items by the
// times marker occurs in it.
func RawHTTPGets(server, token string, clients int, paths []string, marker string) (Request, error) {
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("raw HTTP requests need an http:// server URL, not %q", server)
	}
	reqs := make([][]byte, len(paths))
	for i, p := range paths {
		reqs[i] = fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", p, u.Host, token)
	}
	return RawHTTP(server, clients, reqs, []byte(marker))
}

// RawHTTP returns the Request that sends the request reqs[i%len(reqs)]
// (whole, as bytes) over a bare HTTP/1.1 keep-alive connection per
// worker: each request is written from bytes made once, and of the
// answer only the status line, Content-Length and the body are read. On
// a machine with few cores the load tool shares them with the server,
// and net/http's client costs about as much CPU as the server's work for
// a check; this client costs a fraction, so that the server, not the
// load, is measured (as with wrk). Answers carry a Content-Length or come
// in chunks, without trailers. The Request counts the times marker occurs
// in an answer (the conflicts of a check: every one has one
// "separation").
func RawHTTP(server string, clients int, reqs [][]byte, marker []byte) (Request, error) {
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("raw HTTP requests need an http:// server URL, not %q", server)
	}
	type conn struct {
		c    net.Conn
		r    *bufio.Reader
		body []byte
	}
	conns := make([]conn, clients)
	return func(ctx context.Context, worker, i int) (int, int, error) {
		c := &conns[worker]
		if c.c == nil {
			nc, err := (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, "tcp", u.Host)
			if err != nil {
				return 0, 0, err
			}
			c.c, c.r = nc, bufio.NewReaderSize(nc, 64<<10)
		}
		fail := func(err error) (int, int, error) {
			c.c.Close()
			c.c = nil
			return 0, 0, err
		}
		if d, ok := ctx.Deadline(); ok {
			c.c.SetDeadline(d)
		}
		if _, err := c.c.Write(reqs[i%len(reqs)]); err != nil {
			return fail(err)
		}
		status, length, chunked := 0, -1, false
		for first := true; ; first = false {
			line, err := c.r.ReadSlice('\n')
			if err != nil {
				return fail(err)
			}
			line = bytes.TrimRight(line, "\r\n")
			if len(line) == 0 {
				break
			}
			if first {
				f := bytes.Fields(line)
				if len(f) < 2 {
					return fail(fmt.Errorf("bad status line %q", line))
				}
				status, _ = strconv.Atoi(string(f[1]))
				continue
			}
			k, v, ok := bytes.Cut(line, []byte(":"))
			switch k = bytes.TrimSpace(k); {
			case !ok:
			case bytes.EqualFold(k, []byte("Content-Length")):
				length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
			case bytes.EqualFold(k, []byte("Transfer-Encoding")):
				chunked = bytes.EqualFold(bytes.TrimSpace(v), []byte("chunked"))
			}
		}
		var body []byte
		switch {
		case chunked:
			body = c.body[:0]
			for {
				line, err := c.r.ReadSlice('\n')
				if err != nil {
					return fail(err)
				}
				size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 32)
				if err != nil {
					return fail(fmt.Errorf("bad chunk size %q", line))
				}
				n := len(body)
				body = append(body, make([]byte, size+2)...) // the chunk and its CRLF
				if _, err := io.ReadFull(c.r, body[n:]); err != nil {
					return fail(err)
				}
				body = body[:n+int(size)]
				if size == 0 {
					break
				}
			}
			c.body = body
			length = len(body)
		case length >= 0:
			if cap(c.body) < length {
				c.body = make([]byte, length)
			}
			body = c.body[:length]
			if _, err := io.ReadFull(c.r, body); err != nil {
				return fail(err)
			}
		default:
			return fail(fmt.Errorf("%d answer with neither Content-Length nor chunks", status))
		}
		if status != 200 {
			line, _, _ := bytes.Cut(reqs[i%len(reqs)], []byte(" HTTP/"))
			return 0, 0, fmt.Errorf("%s: %d %s", line, status, bytes.TrimSpace(body))
		}
		return bytes.Count(body, marker), length, nil
	}, nil
}
