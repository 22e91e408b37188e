package service

import (
	"context"
	"errors"
	"strings"
	"testing"
)

type fakeService struct {
	name    string
	log     *[]string
	failing bool
}

func (f *fakeService) Start(context.Context, *Env) error {
	if f.failing {
		*f.log = append(*f.log, "fail "+f.name)
		return errors.New("boom")
	}
	*f.log = append(*f.log, "start "+f.name)
	return nil
}

func (f *fakeService) Stop(context.Context) error {
	*f.log = append(*f.log, "stop "+f.name)
	return nil
}

func TestMultiStartsInOrderStopsInReverse(t *testing.T) {
	var log []string
	var m Multi
	children := []Child{
		{Name: "a", Service: &fakeService{name: "a", log: &log}},
		{Name: "b", Service: &fakeService{name: "b", log: &log}},
		{Name: "c", Service: &fakeService{name: "c", log: &log}},
	}
	if err := m.Start(context.Background(), children); err != nil {
		t.Fatal(err)
	}
	if err := m.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := "start a,start b,start c,stop c,stop b,stop a"
	if got := strings.Join(log, ","); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestMultiRollsBackAFailedStart(t *testing.T) {
	var log []string
	var m Multi
	children := []Child{
		{Name: "a", Service: &fakeService{name: "a", log: &log}},
		{Name: "b", Service: &fakeService{name: "b", log: &log}},
		{Name: "c", Service: &fakeService{name: "c", log: &log, failing: true}},
		{Name: "d", Service: &fakeService{name: "d", log: &log}},
	}
	err := m.Start(context.Background(), children)
	var se *StartError
	if !errors.As(err, &se) || se.Service != "c" || !strings.Contains(err.Error(), `service "c": boom`) {
		t.Fatalf("err = %v, want a StartError for c", err)
	}
	want := "start a,start b,fail c,stop b,stop a"
	if got := strings.Join(log, ","); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if len(m.Children()) != 0 {
		t.Fatal("children left running after a failed start")
	}
}

type stopFailing struct{ fakeService }

func (s *stopFailing) Stop(ctx context.Context) error {
	_ = s.fakeService.Stop(ctx)
	return errors.New("stuck")
}

func TestMultiStopGoesOnPastErrors(t *testing.T) {
	var log []string
	var m Multi
	children := []Child{
		{Name: "a", Service: &fakeService{name: "a", log: &log}},
		{Name: "b", Service: &stopFailing{fakeService{name: "b", log: &log}}},
	}
	if err := m.Start(context.Background(), children); err != nil {
		t.Fatal(err)
	}
	err := m.Stop(context.Background())
	if err == nil || !strings.Contains(err.Error(), `service "b": stuck`) {
		t.Fatalf("err = %v", err)
	}
	if got := strings.Join(log, ","); got != "start a,start b,stop b,stop a" {
		t.Fatalf("got %s", got)
	}
}
