package session

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// BenchmarkSet measures Set of plain values on a loaded session, for each
// serializer: what a handler pays per Set, boxing its argument included
// (the values vary, so that the compiler cannot box a constant for free).
func BenchmarkSet(b *testing.B) {
	utc := time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC)
	cases := []struct {
		name string
		set  func(s *Session, i int)
	}{
		{"int", func(s *Session, i int) { s.Set("n", 1000+i) }},
		{"int64", func(s *Session, i int) { s.Set("n", int64(1000+i)) }},
		{"float64", func(s *Session, i int) { s.Set("f", float64(i)+0.5) }},
		{"string", func(s *Session, i int) { s.Set("s", benchStrings[i%len(benchStrings)]) }},
		{"bool", func(s *Session, i int) { s.Set("b", i%2 == 0) }},
		{"time-utc", func(s *Session, i int) { s.Set("t", utc.Add(time.Duration(i))) }},
	}
	for _, ser := range []string{"msgpack", "json", "gob"} {
		m, _ := mwManager(b, Config{Serializer: ser, Logger: slog.New(slog.DiscardHandler)})
		for _, c := range cases {
			b.Run(ser+"/"+c.name, func(b *testing.B) {
				s := new(Session)
				m.newSession(context.Background(), nil, s)
				s.Set("user_id", int64(42)) // loaded and not empty
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					c.set(s, i)
					i++
				}
			})
		}
	}
}

var benchStrings = []string{"margaret.hamilton", "grace.hopper", "ada.lovelace"}
