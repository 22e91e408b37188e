package leaky

import (
	"testing"

	_ "example.com/leaky/internal/engine"
	_ "example.com/leakyinternal"
)

func TestNothing(t *testing.T) {}
