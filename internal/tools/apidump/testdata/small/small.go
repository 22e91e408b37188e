package small

import (
	"context"
	"errors"
	"io"
	"sync"
)

type Kind int

const (
	A Kind = iota
	B
	c
)

const Max = 10

var ErrX = errors.New("x")

type T struct {
	sync.Mutex
	Name string
	age  int
}

func New(n int, opts ...string) (*T, error) { return nil, nil }

func (t *T) Do(ctx context.Context) error { return nil }
func (t *T) undo()                        {}

type I interface {
	io.Reader
	M(x int) string
	m()
}

type List[E any] []E

func (l List[E]) Len() int { return len(l) }
