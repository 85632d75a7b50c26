package bench

import (
	"encoding/gob"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/serializer"
)

// cookieName is the cookie name (gorilla) and the purpose (sessionkit) that
// every value is bound to.
const cookieName = "session"

// seeded returns n bytes that look random, always the same for a seed. Zero
// bytes would compress unrealistically well.
func seeded(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

var (
	// gorilla's NewCookieStore(hashKey, blockKey): HMAC-SHA256 and AES-256.
	hashKey  = seeded(1, 32)
	blockKey = seeded(2, 32)
	// sessionkit derives its HMAC and AES keys from one secret.
	secret = seeded(3, 32)

	// fixedNow is the codec's clock, so that the expiry in the header and
	// its check never depend on when the benchmark runs.
	fixedNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	expires  = fixedNow.Add(14 * 24 * time.Hour)
)

func init() {
	// What a gorilla/sessions or scs application registers to keep these
	// values in a session (registering the same type twice is harmless).
	gob.Register(time.Time{})
	gob.Register(map[string]any{})
	gob.Register([]map[string]any{})
}

// userValues is the small session: user_id, username, a 32-byte CSRF
// token, three roles and the last-seen time.
func userValues() map[string]any {
	return map[string]any{
		"user_id":    48213,
		"username":   "margaret.hamilton",
		"csrf_token": seeded(4, 32),
		"roles":      []string{"editor", "billing", "support"},
		"last_seen":  time.Date(2026, 11, 22, 10, 30, 0, 123456789, time.UTC),
	}
}

// cartItems are the items of the larger sessions' shopping carts.
var cartItems = []struct {
	sku, name string
	qty       int
	price     float64
}{
	{"SKU-10482-BLK-M", "Merino Wool Crew-Neck Sweater, Charcoal", 1, 89.95},
	{"SKU-20931-NAT", "Organic Cotton Canvas Tote Bag, Large", 2, 24.50},
	{"SKU-31877-SS-750", "Insulated Stainless Steel Bottle 750 ml", 1, 32.00},
	{"SKU-40215-WAL", "Walnut Desk Organizer with Phone Stand", 1, 58.75},
	{"SKU-52260-BLU-42", "Trail Running Shoes, Ocean Blue, EU 42", 1, 129.99},
	{"SKU-61034-CER", "Hand-Glazed Ceramic Pour-Over Coffee Set", 1, 46.20},
	{"SKU-70588-USB-C", "Braided USB-C to USB-C Cable, 2 m, 100 W", 3, 14.99},
	{"SKU-83391-LIN-Q", "Stonewashed Linen Duvet Cover, Queen", 1, 149.00},
	{"SKU-90017-BAM", "Bamboo Cutting Board Set of Three", 2, 27.45},
	{"SKU-11746-LED", "Dimmable LED Desk Lamp with Wireless Charger", 1, 67.30},
	{"SKU-12859-GRN-S", "Recycled Fleece Half-Zip Pullover, Moss", 1, 74.00},
	{"SKU-23604-OAK", "Solid Oak Floating Wall Shelf, 60 cm", 2, 39.90},
	{"SKU-34172-CPR", "Hammered Copper Moscow Mule Mugs, Pair", 1, 36.45},
	{"SKU-45528-GRY", "Noise-Cancelling Over-Ear Headphones", 1, 219.00},
	{"SKU-56093-TEA", "Loose-Leaf Darjeeling First Flush, 100 g", 3, 12.80},
	{"SKU-67741-WHT-L", "Egyptian Cotton Bath Towel Set, White", 1, 64.99},
	{"SKU-78310-CST", "Pre-Seasoned Cast Iron Skillet, 26 cm", 1, 42.00},
	{"SKU-89486-RED", "Waterproof Hiking Daypack 22 L, Rust Red", 1, 79.95},
	{"SKU-91257-SLV", "Brushed Steel Chef's Knife, 20 cm Blade", 1, 98.50},
	{"SKU-13620-PPR", "Dot-Grid Hardcover Notebook A5, 3-Pack", 2, 18.75},
}

// cartValues is a larger session: the user fields plus a cart of the first
// n cartItems, each a map with sku, name, qty and price. With 10 items it is
// 1150 bytes as JSON; with 20, 2083 bytes (the "~2 KB session").
func cartValues(n int) map[string]any {
	v := userValues()
	cart := make([]map[string]any, n)
	for i, it := range cartItems[:n] {
		cart[i] = map[string]any{"sku": it.sku, "name": it.name, "qty": it.qty, "price": it.price}
	}
	v["cart"] = cart
	return v
}

// payload is one session to encode.
type payload struct {
	name   string
	values func() map[string]any
}

var payloads = []payload{
	{"small", userValues},
	{"cart10", func() map[string]any { return cartValues(10) }},
	{"cart20", func() map[string]any { return cartValues(20) }},
}

// gorillaValues converts a session to gorilla's Session.Values type.
func gorillaValues(m map[string]any) map[any]any {
	g := make(map[any]any, len(m))
	for k, v := range m {
		g[k] = v
	}
	return g
}

// ourConfig is one configuration of sessionkit's codec.
type ourConfig struct {
	ser      serializer.Serializer
	signOnly bool
	comp     string
}

func (c ourConfig) String() string {
	mode := "enc"
	if c.signOnly {
		mode = "sign"
	}
	return fmt.Sprintf("sessionkit-%s-%s-%s", c.ser.Name(), mode, c.comp)
}

func (c ourConfig) isDefault() bool {
	return c.ser == serializer.MsgPack && !c.signOnly && c.comp == codec.DefaultCompression
}

// ourConfigs lists every configuration measured for a payload: each
// serializer, encrypted (the default) or signed only, without compression,
// with s2 or with the default ("auto": s2 for bodies under 512 bytes, zstd
// from 512), and with zstd too for the larger sessions.
func ourConfigs(p payload) []ourConfig {
	comps := []string{"none", "s2", codec.DefaultCompression}
	if p.name != "small" {
		comps = append(comps, "zstd")
	}
	var out []ourConfig
	for _, ser := range []serializer.Serializer{serializer.MsgPack, serializer.JSON, serializer.Gob} {
		for _, signOnly := range []bool{false, true} {
			for _, comp := range comps {
				out = append(out, ourConfig{ser, signOnly, comp})
			}
		}
	}
	return out
}

func newCodec(tb testing.TB, c ourConfig) *codec.Codec {
	tb.Helper()
	cd, err := codec.New(codec.Config{
		Secret:      secret,
		Serializer:  c.ser,
		SignOnly:    c.signOnly,
		Compression: c.comp,
		Now:         func() time.Time { return fixedNow },
	})
	if err != nil {
		tb.Fatal(err)
	}
	return cd
}

func ourPayload(p payload) codec.Payload {
	return codec.Payload{Kind: codec.KindData, Values: p.values(), Expires: expires}
}

// gorillaMode is one way of building gorilla's CookieStore.
type gorillaMode struct {
	name string
	keys [][]byte
}

var gorillaModes = []gorillaMode{
	{"gorilla-hmac", [][]byte{hashKey}},
	{"gorilla-hmac+aes", [][]byte{hashKey, blockKey}},
}

// newGorillaStore returns NewCookieStore(keys...); with noLimit, its
// codecs have no length cap (MaxLength(0)), so that the length of a value
// over the default 4096 can be measured.
func newGorillaStore(m gorillaMode, noLimit bool) *sessions.CookieStore {
	s := sessions.NewCookieStore(m.keys...)
	if noLimit {
		for _, c := range s.Codecs {
			c.(*securecookie.SecureCookie).MaxLength(0)
		}
	}
	return s
}

// scsCodec is what scs uses to turn a session into a store blob.
var scsCodec scs.Codec = scs.GobCodec{}
