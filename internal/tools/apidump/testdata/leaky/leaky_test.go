package leaky_test

import (
	"fmt"

	"example.com/leaky/internal/engine"
)

func Example() {
	fmt.Println(engine.Start())
	// Output: ok
}
