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

func TestMultiReplaceStartsTheNewAndReturnsTheGone(t *testing.T) {
	var log []string
	var m Multi
	a := Child{Name: "a", Service: &fakeService{name: "a", log: &log}}
	b := Child{Name: "b", Service: &fakeService{name: "b", log: &log}}
	b2 := Child{Name: "b", Service: &fakeService{name: "b2", log: &log}}
	c := Child{Name: "c", Service: &fakeService{name: "c", log: &log}}
	if err := m.Start(context.Background(), []Child{a, b}); err != nil {
		t.Fatal(err)
	}
	gone, err := m.Replace(context.Background(), []Child{a, b2, c})
	if err != nil {
		t.Fatal(err)
	}
	if len(gone) != 1 || gone[0] != b {
		t.Fatalf("gone = %v, want b", gone)
	}
	if got := strings.Join(log, ","); got != "start a,start b,start b2,start c" {
		t.Fatalf("got %s: a kept service was touched or b stopped early", got)
	}
	if err := StopAll(context.Background(), gone); err != nil {
		t.Fatal(err)
	}
	if err := m.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(log[4:], ","); got != "stop b,stop c,stop b2,stop a" {
		t.Fatalf("got %s", got)
	}
}

func TestMultiReplaceLeavesTheSetOnAFailedStart(t *testing.T) {
	var log []string
	var m Multi
	a := Child{Name: "a", Service: &fakeService{name: "a", log: &log}}
	if err := m.Start(context.Background(), []Child{a}); err != nil {
		t.Fatal(err)
	}
	b := Child{Name: "b", Service: &fakeService{name: "b", log: &log}}
	bad := Child{Name: "c", Service: &fakeService{name: "c", log: &log, failing: true}}
	gone, err := m.Replace(context.Background(), []Child{b, bad})
	var se *StartError
	if !errors.As(err, &se) || se.Service != "c" || gone != nil {
		t.Fatalf("err = %v, gone = %v, want a StartError for c", err, gone)
	}
	if got := strings.Join(log, ","); got != "start a,start b,fail c,stop b" {
		t.Fatalf("got %s", got)
	}
	if ch := m.Children(); len(ch) != 1 || ch[0] != a {
		t.Fatalf("children = %v, want a alone", ch)
	}
}
