package service_test

import (
	"context"
	"fmt"
	"time"

	"github.com/twistd-go/twistd/service"
)

func ExampleTimer() {
	ticks := make(chan int, 3)
	n := 0
	t := &service.Timer{Interval: 10 * time.Millisecond, Func: func(ctx context.Context) error {
		n++ // runs never overlap: no lock needed
		if n <= 3 {
			ticks <- n
		}
		return nil
	}}
	// The reactor starts it with the service's Env; a test may pass its own.
	if err := t.Start(context.Background(), &service.Env{}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-ticks, <-ticks, <-ticks)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	fmt.Println(t.Stop(ctx))
	// Output:
	// 1 2 3
	// <nil>
}
