package main

import (
	"errors"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// errMismatch reports an echo whose bytes differ from what was sent.
var errMismatch = errors.New("echo differs from the message sent")

// errKind sorts a failed connection by its cause, so a report can tell a
// server that resets connections from one that stalls or truncates them.
type errKind int

const (
	kindDial     errKind = iota // connect failed
	kindReset                   // ECONNRESET or EPIPE
	kindTimeout                 // no (complete) echo before the deadline
	kindShort                   // the server closed before echoing everything
	kindMismatch                // the echo differs from what was sent
	kindOther
	numKinds
)

var kindNames = [numKinds]string{"dial", "reset", "timeout", "short", "mismatch", "other"}

func (k errKind) String() string { return kindNames[k] }

// classify maps a connection's error to its kind.
func classify(err error) errKind {
	switch {
	case errors.Is(err, errMismatch):
		return kindMismatch
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT):
		return kindTimeout
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return kindReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return kindShort
	}
	return kindOther
}

// errorCounts counts failed connections by kind and keeps the first error
// of each kind for the report. It is safe for concurrent use; the zero
// value counts nothing yet.
type errorCounts struct {
	n     [numKinds]atomic.Int64
	first [numKinds]atomic.Pointer[string]
}

// add counts one failed connection under kind k.
func (e *errorCounts) add(k errKind, err error) {
	e.n[k].Add(1)
	if e.first[k].Load() == nil {
		s := err.Error()
		e.first[k].CompareAndSwap(nil, &s)
	}
}

// addErr classifies err and counts it.
func (e *errorCounts) addErr(err error) { e.add(classify(err), err) }

// total returns the number of failed connections.
func (e *errorCounts) total() int64 {
	var t int64
	for i := range e.n {
		t += e.n[i].Load()
	}
	return t
}

// byKind returns the non-zero counts by kind name, nil when there are none.
func (e *errorCounts) byKind() map[string]int64 {
	var m map[string]int64
	for i := range e.n {
		if c := e.n[i].Load(); c > 0 {
			if m == nil {
				m = make(map[string]int64)
			}
			m[kindNames[i]] = c
		}
	}
	return m
}

// firsts returns one line per kind seen: "kind: first error".
func (e *errorCounts) firsts() []string {
	var out []string
	for i := range e.first {
		if p := e.first[i].Load(); p != nil {
			out = append(out, kindNames[i]+": "+*p)
		}
	}
	return out
}

// summary returns "reset 3, timeout 1" for the kinds seen, sorted by name.
func summary(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + strconv.FormatInt(m[k], 10)
	}
	return strings.Join(parts, ", ")
}
