package serializer

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sync/atomic"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// msgpackSerializer is MessagePack through github.com/tinylib/msgp's runtime
// API. Integers are normalized to int64, times are written with the standard
// timestamp extension (-1) and read back in UTC.
type msgpackSerializer struct{}

func (msgpackSerializer) ID() byte     { return MsgPackID }
func (msgpackSerializer) Name() string { return "msgpack" }

func (msgpackSerializer) Append(dst []byte, values map[string]any) ([]byte, error) {
	dst = msgp.AppendMapHeader(dst, uint32(len(values)))
	var scratch [16]string
	for _, k := range sortedKeys(scratch[:0], values) {
		dst = msgp.AppendString(dst, k)
		var bad string
		dst, bad = appendMsgpack(dst, values[k], 0)
		if bad != "" {
			return dst, &UnsupportedError{Serializer: "msgpack", Key: k, Type: bad}
		}
	}
	return dst, nil
}

// sortedKeys appends the keys of m to dst in order. Maps are written in key
// order so that one session always encodes to the same bytes: its size, and
// so whether it fits a cookie, does not change from one save to the next.
func sortedKeys(dst []string, m map[string]any) []string {
	for k := range m {
		dst = append(dst, k)
	}
	slices.Sort(dst)
	return dst
}

// appendMsgpack appends v; on failure it returns a description of the
// unsupported type.
func appendMsgpack(b []byte, v any, depth int) ([]byte, string) {
	if depth > maxDepth {
		return b, fmt.Sprintf("value nested deeper than %d levels", maxDepth)
	}
	switch v := v.(type) {
	case nil:
		return msgp.AppendNil(b), ""
	case bool:
		return msgp.AppendBool(b, v), ""
	case string:
		return msgp.AppendString(b, v), ""
	case []byte:
		return msgp.AppendBytes(b, v), ""
	case time.Time:
		return msgp.AppendTimeExt(b, v), ""
	case int:
		return msgp.AppendInt64(b, int64(v)), ""
	case int8:
		return msgp.AppendInt64(b, int64(v)), ""
	case int16:
		return msgp.AppendInt64(b, int64(v)), ""
	case int32:
		return msgp.AppendInt64(b, int64(v)), ""
	case int64:
		return msgp.AppendInt64(b, v), ""
	case uint:
		return appendUint(b, uint64(v)), ""
	case uint8:
		return appendUint(b, uint64(v)), ""
	case uint16:
		return appendUint(b, uint64(v)), ""
	case uint32:
		return appendUint(b, uint64(v)), ""
	case uint64:
		return appendUint(b, v), ""
	case float32:
		return msgp.AppendFloat32(b, v), ""
	case float64:
		return msgp.AppendFloat64(b, v), ""
	case []any:
		b = msgp.AppendArrayHeader(b, uint32(len(v)))
		for _, e := range v {
			var bad string
			if b, bad = appendMsgpack(b, e, depth+1); bad != "" {
				return b, bad
			}
		}
		return b, ""
	case map[string]any:
		b = msgp.AppendMapHeader(b, uint32(len(v)))
		var scratch [16]string
		for _, k := range sortedKeys(scratch[:0], v) {
			b = msgp.AppendString(b, k)
			var bad string
			if b, bad = appendMsgpack(b, v[k], depth+1); bad != "" {
				return b, bad
			}
		}
		return b, ""
	case []string:
		b = msgp.AppendArrayHeader(b, uint32(len(v)))
		for _, e := range v {
			b = msgp.AppendString(b, e)
		}
		return b, ""
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice || !elemOK(rv.Type().Elem()) {
		return b, reflect.TypeOf(v).String()
	}
	b = msgp.AppendArrayHeader(b, uint32(rv.Len()))
	for i := range rv.Len() {
		var bad string
		if b, bad = appendMsgpack(b, rv.Index(i).Interface(), depth+1); bad != "" {
			return b, bad
		}
	}
	return b, ""
}

func appendUint(b []byte, u uint64) []byte {
	if u <= math.MaxInt64 {
		return msgp.AppendInt64(b, int64(u))
	}
	return msgp.AppendUint64(b, u)
}

var errMsgpackTrailing = errors.New("serializer msgpack: trailing bytes after the session map")

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

func (d *msgpackDecoder) read(b []byte, depth int) (any, []byte, error) {
	if depth > maxDepth {
		return nil, b, fmt.Errorf("value nested deeper than %d levels", maxDepth)
	}
	switch t := msgp.NextType(b); t {
	case msgp.MapType:
		return d.readMap(b, depth)
	case msgp.ArrayType:
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
		return msgp.ReadBytesBytes(b, nil)
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
