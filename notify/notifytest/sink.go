// Package notifytest holds what the tests of e-mail notifications share.
package notifytest

import (
	"io"
	"net"
	"net/textproto"
	"strings"
	"testing"
)

// Sink is a minimal mail server on loopback for the tests: it speaks just
// enough SMTP (no TLS, no authentication) to accept messages and hands each
// over, as received after the dot-transparency is undone (LF line ends).
func Sink(t testing.TB) (addr string, got <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tp := textproto.NewConn(c)
				_ = tp.PrintfLine("220 sink ready")
				for {
					line, err := tp.ReadLine()
					if err != nil {
						return
					}
					switch cmd := strings.ToUpper(strings.Fields(line + " x")[0]); cmd {
					case "EHLO", "HELO":
						_ = tp.PrintfLine("250-sink\r\n250 8BITMIME")
					case "MAIL", "RCPT":
						_ = tp.PrintfLine("250 ok")
					case "DATA":
						_ = tp.PrintfLine("354 go on")
						data, err := io.ReadAll(tp.DotReader())
						if err != nil {
							return
						}
						ch <- string(data)
						_ = tp.PrintfLine("250 queued")
					case "QUIT":
						_ = tp.PrintfLine("221 bye")
						return
					default:
						_ = tp.PrintfLine("502 not here")
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), ch
}
