//go:build !unix

package proxyproto

import "net"

func readExact(net.Conn) (*Conn, bool, error) { return nil, false, nil }
