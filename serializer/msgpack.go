package serializer

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/sessionkit/session/internal/value"
)

// msgpackSerializer is MessagePack through github.com/tinylib/msgp's runtime
// API. Integers are normalized to int64, times are written with the standard
// timestamp extension (-1) and read back in UTC; structs, typed maps and
// typed slices are written as maps and arrays (see the package
// documentation).
type msgpackSerializer struct{}

func (msgpackSerializer) ID() byte     { return MsgPackID }
func (msgpackSerializer) Name() string { return "msgpack" }

func (msgpackSerializer) Append(dst []byte, values map[string]any) ([]byte, error) {
	dst = msgp.AppendMapHeader(dst, uint32(len(values)))
	var scratch [16]string
	for _, k := range sortedKeys(scratch[:0], values) {
		dst = msgp.AppendString(dst, k)
		mark := len(dst)
		var ok bool
		if dst, ok = appendMsgpack(dst, values[k], 0); ok {
			continue
		}
		// Not a value of the common types: walk it by reflection, which
		// also says what is wrong with it.
		w := &msgpackWriter{b: dst[:mark]}
		if err := value.Encode(w, value.MsgPack, values[k]); err != nil {
			return dst[:mark], unsupported("msgpack", k, err)
		}
		dst = w.b
	}
	return dst, nil
}

// appendMsgpack appends v if it is made of the common types alone (the
// types that Decode returns, and []string), without reflection, and
// reports whether it was; if not, what it appended must be dropped.
func appendMsgpack(b []byte, v any, depth int) ([]byte, bool) {
	switch v := v.(type) {
	case nil:
		return msgp.AppendNil(b), true
	case bool:
		return msgp.AppendBool(b, v), true
	case string:
		return msgp.AppendString(b, v), true
	case []byte:
		if v == nil {
			return msgp.AppendNil(b), true
		}
		return msgp.AppendBytes(b, v), true
	case time.Time:
		return msgp.AppendTimeExt(b, v), true
	case int:
		return msgp.AppendInt64(b, int64(v)), true
	case int64:
		return msgp.AppendInt64(b, v), true
	case int32:
		return msgp.AppendInt64(b, int64(v)), true
	case uint64:
		return appendUint(b, v), true
	case float32:
		return msgp.AppendFloat32(b, v), true
	case float64:
		return msgp.AppendFloat64(b, v), true
	case []any:
		return appendMsgpackList(b, v, depth)
	case map[string]any:
		if v == nil {
			return msgp.AppendNil(b), true
		}
		if depth >= value.MaxDepth {
			return b, false
		}
		b = msgp.AppendMapHeader(b, uint32(len(v)))
		var scratch [16]string
		for _, k := range sortedKeys(scratch[:0], v) {
			b = msgp.AppendString(b, k)
			var ok bool
			if b, ok = appendMsgpack(b, v[k], depth+1); !ok {
				return b, false
			}
		}
		return b, true
	case []map[string]any:
		return appendMsgpackList(b, v, depth)
	case []string:
		if v == nil {
			return msgp.AppendNil(b), true
		}
		b = msgp.AppendArrayHeader(b, uint32(len(v)))
		for _, e := range v {
			b = msgp.AppendString(b, e)
		}
		return b, true
	}
	return b, false
}

func appendUint(b []byte, u uint64) []byte {
	if u <= math.MaxInt64 {
		return msgp.AppendInt64(b, int64(u))
	}
	return msgp.AppendUint64(b, u)
}

// msgpackWriter is the value.Encoder that writes MessagePack.
type msgpackWriter struct{ b []byte }

func (w *msgpackWriter) Nil()              { w.b = msgp.AppendNil(w.b) }
func (w *msgpackWriter) Bool(v bool)       { w.b = msgp.AppendBool(w.b, v) }
func (w *msgpackWriter) Int(v int64)       { w.b = msgp.AppendInt64(w.b, v) }
func (w *msgpackWriter) Uint(v uint64)     { w.b = msgp.AppendUint64(w.b, v) }
func (w *msgpackWriter) Float32(v float32) { w.b = msgp.AppendFloat32(w.b, v) }
func (w *msgpackWriter) Float64(v float64) { w.b = msgp.AppendFloat64(w.b, v) }
func (w *msgpackWriter) String(v string)   { w.b = msgp.AppendString(w.b, v) }
func (w *msgpackWriter) Bytes(v []byte)    { w.b = msgp.AppendBytes(w.b, v) }
func (w *msgpackWriter) Time(v time.Time)  { w.b = msgp.AppendTimeExt(w.b, v) }
func (w *msgpackWriter) BeginArray(n int)  { w.b = msgp.AppendArrayHeader(w.b, uint32(n)) }
func (w *msgpackWriter) Elem(int)          {}
func (w *msgpackWriter) EndArray()         {}
func (w *msgpackWriter) BeginMap(n int)    { w.b = msgp.AppendMapHeader(w.b, uint32(n)) }
func (w *msgpackWriter) Key(_ int, k string) {
	w.b = msgp.AppendString(w.b, k)
}
func (w *msgpackWriter) EndMap() {}

var (
	errMsgpackTrailing = errors.New("serializer msgpack: trailing bytes after the session map")
	errDepth           = fmt.Errorf("value nested deeper than %d levels", value.MaxDepth)
)

func (msgpackSerializer) Decode(data []byte) (map[string]any, error) {
	if msgp.NextType(data) != msgp.MapType {
		return nil, fmt.Errorf("serializer msgpack: data is not a map")
	}
	var d msgpackDecoder
	v, rest, err := d.readMap(data, 0)
	if err != nil {
		return nil, fmt.Errorf("serializer msgpack: %w", err)
	}
	if len(rest) != 0 {
		return nil, errMsgpackTrailing
	}
	return v, nil
}

// msgpackDecoder decodes one session. It interns map keys: a session's
// nested maps (the items of a cart, say) repeat the same few keys, and
// each repeat then costs no allocation.
type msgpackDecoder struct {
	keys [16]string
	next int
}

// key returns b as a string, reusing an earlier key with the same bytes:
// one that a session decoded before (an application's sessions share a
// small vocabulary of keys), or one of this decode.
func (d *msgpackDecoder) key(b []byte) string {
	known := commonKeys.Load()
	if k, ok := (*known)[string(b)]; ok {
		return k
	}
	for _, k := range d.keys {
		if k == string(b) {
			return k
		}
	}
	k := string(b)
	d.keys[d.next%len(d.keys)] = k
	d.next++
	rememberKey(known, k)
	return k
}

// commonKeys holds the map keys decoded so far, up to maxCommonKeys of at
// most maxCommonKeyLen bytes: an immutable map, replaced whole when a key
// is added, so that a lookup takes no lock and allocates nothing. Only
// authenticated sessions are decoded, so a client cannot fill it.
var commonKeys atomic.Pointer[map[string]string]

const (
	maxCommonKeys   = 256
	maxCommonKeyLen = 64
)

func init() { commonKeys.Store(&map[string]string{}) }

// rememberKey adds k to commonKeys, which was known, unless it is full or
// k is long; losing a race with another addition only skips this one.
func rememberKey(known *map[string]string, k string) {
	if len(*known) >= maxCommonKeys || len(k) > maxCommonKeyLen {
		return
	}
	next := make(map[string]string, len(*known)+1)
	for kk, v := range *known {
		next[kk] = v
	}
	next[k] = k
	commonKeys.CompareAndSwap(known, &next)
}

func (d *msgpackDecoder) readMap(b []byte, depth int) (map[string]any, []byte, error) {
	sz, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return nil, b, err
	}
	if uint64(sz)*2 > uint64(len(b)) { // a key and a value take a byte each at least
		return nil, b, msgp.ErrShortBytes
	}
	m := make(map[string]any, sz)
	for range sz {
		var kb []byte
		if kb, b, err = msgp.ReadStringZC(b); err != nil {
			return nil, b, err
		}
		var v any
		if v, b, err = d.read(b, depth+1); err != nil {
			return nil, b, err
		}
		m[d.key(kb)] = v
	}
	return m, b, nil
}

// read reads one value at depth (1 for the session's values). A container
// at depth d holds d-1 containers above it within its value: at most
// value.MaxDepth may nest, as the encoder allows.
func (d *msgpackDecoder) read(b []byte, depth int) (any, []byte, error) {
	switch t := msgp.NextType(b); t {
	case msgp.MapType:
		if depth > value.MaxDepth {
			return nil, b, errDepth
		}
		return d.readMap(b, depth)
	case msgp.ArrayType:
		if depth > value.MaxDepth {
			return nil, b, errDepth
		}
		sz, rest, err := msgp.ReadArrayHeaderBytes(b)
		if err != nil {
			return nil, rest, err
		}
		if uint64(sz) > uint64(len(rest)) {
			return nil, rest, msgp.ErrShortBytes
		}
		s := make([]any, sz)
		for i := range s {
			if s[i], rest, err = d.read(rest, depth+1); err != nil {
				return nil, rest, err
			}
		}
		return s, rest, nil
	case msgp.NilType:
		rest, err := msgp.ReadNilBytes(b)
		return nil, rest, err
	case msgp.BoolType:
		return msgp.ReadBoolBytes(b)
	case msgp.IntType:
		return msgp.ReadInt64Bytes(b)
	case msgp.UintType:
		u, rest, err := msgp.ReadUint64Bytes(b)
		if err == nil && u <= math.MaxInt64 {
			return int64(u), rest, nil
		}
		return u, rest, err
	case msgp.Float32Type:
		return msgp.ReadFloat32Bytes(b)
	case msgp.Float64Type:
		return msgp.ReadFloat64Bytes(b)
	case msgp.StrType:
		return msgp.ReadStringBytes(b)
	case msgp.BinType:
		v, rest, err := msgp.ReadBytesBytes(b, nil)
		if err == nil && v == nil {
			v = []byte{} // empty, not nil: a nil []byte is written as nil
		}
		return v, rest, err
	case msgp.TimeType, msgp.ExtensionType:
		// NextType reports a timestamp that ends the buffer as a plain
		// extension, so both go through the timestamp reader.
		if tm, rest, err := msgp.ReadTimeUTCBytes(b); err == nil {
			return tm, rest, nil
		}
		return nil, b, fmt.Errorf("unsupported MessagePack extension")
	default:
		return nil, b, fmt.Errorf("unsupported MessagePack type %v", t)
	}
}

// appendMsgpackList appends the array v, nil as nil, each element one
// level deeper.
func appendMsgpackList[E any](b []byte, v []E, depth int) ([]byte, bool) {
	if v == nil {
		return msgp.AppendNil(b), true
	}
	if depth >= value.MaxDepth {
		return b, false
	}
	b = msgp.AppendArrayHeader(b, uint32(len(v)))
	for _, e := range v {
		var ok bool
		if b, ok = appendMsgpack(b, e, depth+1); !ok {
			return b, false
		}
	}
	return b, true
}
