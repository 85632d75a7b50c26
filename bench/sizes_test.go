package bench

import (
	"bytes"
	"encoding/gob"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/securecookie"

	"github.com/sessionkit/session/serializer"
)

var sizesOut = flag.String("sizes", "", "also write the sizes table, in Markdown, to this file")

// sizeSamples is how many times each value is encoded. Go randomizes map
// iteration order, and gob (sessionkit's gob serializer, and gorilla's)
// writes maps in that order, so its length can vary from one encoding to the
// next: the table gives the median and the range. msgpack and JSON write
// maps in key order, so their lengths do not vary.
const sizeSamples = 101

// cookieLimit is securecookie's default MaxLength and what browsers accept
// for one cookie.
const cookieLimit = 4096

type sizeStats struct{ min, med, max int }

func statsOf(lengths []int) sizeStats {
	slices.Sort(lengths)
	return sizeStats{lengths[0], lengths[len(lengths)/2], lengths[len(lengths)-1]}
}

func (s sizeStats) String() string {
	if s.min == s.max {
		return fmt.Sprint(s.med)
	}
	return fmt.Sprintf("%d (%d–%d)", s.med, s.min, s.max)
}

// TestSizes encodes every payload with every configuration, checks that each
// value decodes back, logs the table of encoded sizes and checks the size
// targets against gorilla/sessions' CookieStore:
//
//   - small session, default configuration (msgpack, auto compression,
//     encrypted): no larger than gorilla's encrypted cookie;
//   - sessions with a cart (cart10, cart20): the default configuration stays
//     under 4096 bytes and at most half of gorilla's encrypted cookie;
//   - cart20, the ~2 KB session, does not fit in gorilla's default store.
func TestSizes(t *testing.T) {
	var table strings.Builder
	checkedDefault := map[string]bool{}
	for _, p := range payloads {
		ser := serializedSizes(t, p)
		fmt.Fprintf(&table, "\n### %s\n\nSerialized values before any envelope: %s.\n\n", p.name, ser)
		fmt.Fprintf(&table, "| configuration | encoded length: median (min–max) | vs gorilla hmac+aes | ≤ %d |\n|---|---:|---:|---|\n", cookieLimit)

		gorilla := map[string]sizeStats{}
		refused := map[string]error{}
		for _, m := range gorillaModes {
			values := gorillaValues(p.values())
			_, refused[m.name] = securecookie.EncodeMulti(cookieName, values, newGorillaStore(m, false).Codecs...)
			store := newGorillaStore(m, true)
			lengths := make([]int, sizeSamples)
			for i := range lengths {
				v, err := securecookie.EncodeMulti(cookieName, values, store.Codecs...)
				if err != nil {
					t.Fatalf("%s %s: %v", p.name, m.name, err)
				}
				lengths[i] = len(v)
			}
			gorilla[m.name] = statsOf(lengths)
		}
		ref := gorilla["gorilla-hmac+aes"]
		for _, m := range gorillaModes {
			st, err := gorilla[m.name], refused[m.name]
			if (st.max > cookieLimit) != (err != nil) {
				t.Errorf("%s %s: length %v, but the default store's Encode error is %v", p.name, m.name, st, err)
			}
			fits := "yes"
			if err != nil {
				msg := err.Error()
				if i := strings.LastIndex(msg, ": "); i > 0 {
					msg = msg[:i] // drop the length, which varies
				}
				fits = "**no**: Save fails with `" + msg + "`"
			}
			fmt.Fprintf(&table, "| %s | %v | %.2f | %s |\n", m.name, st, float64(st.med)/float64(ref.med), fits)
		}

		for _, c := range ourConfigs(p) {
			cd := newCodec(t, c)
			lengths := make([]int, sizeSamples)
			for i := range lengths {
				v, err := cd.Encode(cookieName, ourPayload(p))
				if err != nil {
					t.Fatalf("%s %s: Encode: %v", p.name, c, err)
				}
				d, err := cd.Decode(cookieName, v)
				if err != nil {
					t.Fatalf("%s %s: Decode: %v", p.name, c, err)
				}
				checkValues(t, d.Values, p.values())
				lengths[i] = len(v)
			}
			st := statsOf(lengths)
			fits := "yes"
			if st.max > cookieLimit {
				fits = "no"
			}
			name := c.String()
			if c.isDefault() {
				name = "**" + name + " (default)**"
			}
			fmt.Fprintf(&table, "| %s | %v | %.2f | %s |\n", name, st, float64(st.med)/float64(ref.med), fits)

			if !c.isDefault() {
				continue
			}
			checkedDefault[p.name] = true
			switch p.name {
			case "small":
				if st.max > ref.min {
					t.Errorf("%s: default cookie is up to %d bytes, larger than gorilla's encrypted cookie (%d)", p.name, st.max, ref.min)
				}
			default:
				if st.max >= cookieLimit {
					t.Errorf("%s: default cookie is up to %d bytes, not under %d", p.name, st.max, cookieLimit)
				}
				if 2*st.max > ref.min {
					t.Errorf("%s: default cookie is up to %d bytes, %.2f of gorilla's encrypted cookie (%d); the target is at most 0.50",
						p.name, st.max, float64(st.max)/float64(ref.min), ref.min)
				}
			}
		}
		if p.name == "cart20" {
			for _, m := range gorillaModes {
				if st := gorilla[m.name]; st.min <= cookieLimit {
					t.Errorf("%s: gorilla %s cookie is %v bytes; the ~2 KB session was meant to exceed %d", p.name, m.name, st, cookieLimit)
				}
			}
		}
	}
	t.Log(table.String())
	if *sizesOut != "" {
		if err := os.WriteFile(*sizesOut, []byte(table.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range payloads {
		if !checkedDefault[p.name] {
			t.Errorf("%s: no default configuration was measured, so its targets were not checked", p.name)
		}
	}
}

// serializedSizes describes the payload's size in each serializer, and in
// the gob of map[interface{}]interface{} that gorilla/sessions writes.
func serializedSizes(t *testing.T, p payload) string {
	t.Helper()
	var parts []string
	for _, s := range []serializer.Serializer{serializer.JSON, serializer.MsgPack, serializer.Gob} {
		b, err := s.Append(nil, p.values())
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, fmt.Sprintf("%s %d B", s.Name(), len(b)))
	}
	var g bytes.Buffer
	if err := gob.NewEncoder(&g).Encode(gorillaValues(p.values())); err != nil {
		t.Fatal(err)
	}
	parts = append(parts, fmt.Sprintf("gob of gorilla's map[interface{}]interface{} %d B", g.Len()))
	return strings.Join(parts, ", ")
}
