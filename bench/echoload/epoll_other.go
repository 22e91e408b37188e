//go:build !linux

package main

import (
	"errors"
	"net"
	"time"
)

const defaultEngine = "goroutine"

func pingpongEpoll([]net.Conn, config, []byte, *hist, *errorCounts) (uint64, time.Duration, error) {
	return 0, 0, errors.New("-engine epoll needs Linux")
}
