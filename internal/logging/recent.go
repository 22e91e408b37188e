package logging

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.uber.org/zap/zapcore"
)

// Bounds of the recent-lines ring.
const (
	recentLines    = 50
	recentMsgMax   = 512  // bytes of a message kept
	recentFieldMax = 1024 // bytes of its rendered fields kept
)

// Line is one warning or error kept by Recent.
type Line struct {
	Time    time.Time
	Level   string // "warn" or "error" (or worse)
	Service string // the logger's name; "" for the process
	Message string
	// Fields are the entry's fields as key=value, space-separated,
	// in the order they were given.
	Fields string
}

// Recent keeps the last warnings and errors of the process log, for the
// admin endpoint's status page. It is fed after the rate limiter, so a
// flood of one kind keeps the few lines the log does.
type Recent struct {
	mu    sync.Mutex
	lines [recentLines]Line
	next  int
	n     int
}

// Lines returns the kept lines, newest first.
func (r *Recent) Lines() []Line {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Line, 0, r.n)
	for k := 1; k <= r.n; k++ {
		out = append(out, r.lines[(r.next-k+recentLines)%recentLines])
	}
	return out
}

func (r *Recent) add(l Line) {
	r.mu.Lock()
	r.lines[r.next] = l
	r.next = (r.next + 1) % recentLines
	r.n = min(r.n+1, recentLines)
	r.mu.Unlock()
}

// recentCore is the zapcore.Core that feeds a Recent with entries at warn
// level and above.
type recentCore struct {
	r      *Recent
	fields []zapcore.Field
}

func (c *recentCore) Enabled(l zapcore.Level) bool { return l >= zapcore.WarnLevel }

func (c *recentCore) With(fields []zapcore.Field) zapcore.Core {
	return &recentCore{r: c.r, fields: append(slices.Clip(c.fields), fields...)}
}

func (c *recentCore) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(ent.Level) {
		return ce.AddCore(ent, c)
	}
	return ce
}

func (c *recentCore) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	c.r.add(Line{Time: ent.Time.UTC(), Level: ent.Level.String(), Service: ent.LoggerName,
		Message: truncate(ent.Message, recentMsgMax), Fields: renderFields(c.fields, fields)})
	return nil
}

func (c *recentCore) Sync() error { return nil }

// renderFields writes fields as key=value pairs, bounded.
func renderFields(lists ...[]zapcore.Field) string {
	enc := zapcore.NewMapObjectEncoder()
	var keys []string
	for _, fs := range lists {
		for _, f := range fs {
			if _, seen := enc.Fields[f.Key]; !seen {
				keys = append(keys, f.Key)
			}
			f.AddTo(enc)
		}
	}
	var b strings.Builder
	for _, k := range keys {
		v, ok := enc.Fields[k]
		if !ok {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		s := fmt.Sprint(v)
		if strings.ContainsAny(s, " \t\n\"=") || s == "" {
			s = fmt.Sprintf("%q", s)
		}
		b.WriteString(k + "=" + s)
		if b.Len() > recentFieldMax {
			break
		}
	}
	return truncate(b.String(), recentFieldMax)
}

// truncate cuts s to at most max bytes on a rune boundary, marking the cut.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
