package value

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
)

// Field is one stored field of a struct type.
type Field struct {
	// Name is the field's key in the map the struct is written as.
	Name string
	// GoName is the field's Go name, for error paths.
	GoName string
	// Index is the field's index sequence, as for reflect's
	// Value.FieldByIndex: more than one for a field promoted from an
	// embedded struct.
	Index []int
	// Type is the field's type.
	Type reflect.Type
	// OmitEmpty and OmitZero are the tag's options.
	OmitEmpty, OmitZero bool

	depth  int
	tagged bool
}

// Struct is the field table of a struct type.
type Struct struct {
	// Fields are the stored fields, sorted by Name: a struct is written
	// in this order, the order of a map with the same keys.
	Fields []Field
	// Err, if not nil, makes the type unsupported (an unexported field,
	// or two fields of one depth with the same name); its Path names the
	// field.
	Err *Error

	// fixed is set when every field is always written: none has omitempty
	// or omitzero, and none is promoted through an embedded pointer.
	fixed bool
}

var (
	timeType   = reflect.TypeFor[time.Time]()
	structs    sync.Map // reflect.Type → *Struct
	zeroerType = reflect.TypeFor[interface{ IsZero() bool }]()
)

// Fields returns the field table of struct type t, computed once per type.
func Fields(t reflect.Type) *Struct {
	if s, ok := structs.Load(t); ok {
		return s.(*Struct)
	}
	s, _ := structs.LoadOrStore(t, typeFields(t))
	return s.(*Struct)
}

// tag returns the name and options of a field's tag: its msgpack tag if it
// has one, else its json tag.
func tag(sf reflect.StructField) (name string, omitEmpty, omitZero, ok bool) {
	v, ok := sf.Tag.Lookup("msgpack")
	if !ok {
		v, ok = sf.Tag.Lookup("json")
	}
	if !ok {
		return "", false, false, false
	}
	name, opts, _ := strings.Cut(v, ",")
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		switch o {
		case "omitempty":
			omitEmpty = true
		case "omitzero":
			omitZero = true
		}
	}
	return name, omitEmpty, omitZero, true
}

// typeFields resolves the fields of t as encoding/json does: exported
// fields, with the fields of embedded structs promoted unless the embedded
// field is tagged with a name; of several fields with one name the
// shallowest wins, and at one depth the only tagged one. Unlike
// encoding/json, an unexported field (not tagged "-") or two fields that
// neither rule separates make the type unsupported, rather than being left
// out in silence.
func typeFields(t reflect.Type) *Struct {
	type queued struct {
		typ   reflect.Type
		index []int
		path  string // Go path of the embedded field, for errors
	}
	var (
		fields  []Field
		bad     *Error
		visited = map[reflect.Type]bool{}
		next    = []queued{{typ: t}}
	)
	for len(next) > 0 {
		current := next
		next = nil
		for _, q := range current {
			if visited[q.typ] {
				continue
			}
			visited[q.typ] = true
			for i := range q.typ.NumField() {
				sf := q.typ.Field(i)
				name, omitEmpty, omitZero, tagged := tag(sf)
				if tagged && tagIsDash(sf) {
					continue
				}
				index := append(slices.Clip(q.index), i)
				goPath := sf.Name
				if q.path != "" {
					goPath = q.path + "." + sf.Name
				}
				if sf.Anonymous && name == "" {
					et := sf.Type
					if et.Kind() == reflect.Pointer {
						et = et.Elem()
					}
					if et.Kind() == reflect.Struct && et != timeType {
						if !sf.IsExported() && sf.Type.Kind() == reflect.Pointer {
							if bad == nil {
								bad = &Error{Path: goPath, Type: sf.Type.String(), Err: ErrUnexported}
							}
							continue
						}
						next = append(next, queued{et, index, goPath})
						continue
					}
				}
				if !sf.IsExported() {
					if bad == nil {
						bad = &Error{Path: goPath, Type: sf.Type.String(), Err: ErrUnexported}
					}
					continue
				}
				f := Field{Name: name, GoName: sf.Name, Index: index, Type: sf.Type, OmitEmpty: omitEmpty, OmitZero: omitZero, depth: len(index), tagged: name != ""}
				if f.Name == "" {
					f.Name = sf.Name
				}
				fields = append(fields, f)
			}
		}
	}
	slices.SortStableFunc(fields, func(a, b Field) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), cmp.Compare(a.depth, b.depth), boolOrder(a.tagged, b.tagged))
	})
	// Of the fields that share a name, keep the dominant one.
	out := fields[:0]
	for i := 0; i < len(fields); {
		j := i + 1
		for j < len(fields) && fields[j].Name == fields[i].Name {
			j++
		}
		group := fields[i:j]
		i = j
		if len(group) > 1 && group[1].depth == group[0].depth && group[1].tagged == group[0].tagged {
			if bad == nil {
				bad = &Error{Path: group[0].GoName, Type: t.String(), Err: fmt.Errorf("fields %s and %s are both stored as %q: tag one of them with another name", goName(t, group[0]), goName(t, group[1]), group[0].Name)}
			}
			continue
		}
		out = append(out, group[0])
	}
	st := &Struct{Fields: slices.Clip(out), Err: bad, fixed: true}
	for _, f := range st.Fields {
		if f.OmitEmpty || f.OmitZero || throughPointer(t, f.Index) {
			st.fixed = false
		}
	}
	return st
}

// throughPointer reports whether the field of t at index is reached
// through an embedded pointer.
func throughPointer(t reflect.Type, index []int) bool {
	for _, i := range index[:len(index)-1] {
		t = t.Field(i).Type
		if t.Kind() == reflect.Pointer {
			return true
		}
	}
	return false
}

// tagIsDash reports whether the field's tag (msgpack, else json) is
// exactly "-", which leaves the field out; "-," names a field "-".
func tagIsDash(sf reflect.StructField) bool {
	v, ok := sf.Tag.Lookup("msgpack")
	if !ok {
		v, _ = sf.Tag.Lookup("json")
	}
	return v == "-"
}

// goName returns the Go path of the field of t at f.Index.
func goName(t reflect.Type, f Field) string {
	var parts []string
	for _, i := range f.Index {
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		sf := t.Field(i)
		parts = append(parts, sf.Name)
		t = sf.Type
	}
	return strings.Join(parts, ".")
}

// boolOrder orders true before false.
func boolOrder(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// isEmpty reports whether v is empty for omitempty, as encoding/json says.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// isZero reports whether v is zero for omitzero: its IsZero method says
// so, or it is its type's zero value.
func isZero(v reflect.Value) bool {
	if v.Type() == timeType {
		return timeOf(v).IsZero()
	}
	if v.Type().Implements(zeroerType) {
		if v.Kind() == reflect.Pointer && v.IsNil() {
			return true
		}
		return v.Interface().(interface{ IsZero() bool }).IsZero()
	}
	if v.CanAddr() && reflect.PointerTo(v.Type()).Implements(zeroerType) {
		return v.Addr().Interface().(interface{ IsZero() bool }).IsZero()
	}
	return v.IsZero()
}

// timeOf returns the time.Time in v without copying it onto the heap when
// v is addressable.
func timeOf(v reflect.Value) time.Time {
	if v.CanAddr() {
		return *v.Addr().Interface().(*time.Time)
	}
	return v.Interface().(time.Time)
}

// FieldValue returns the value of f in struct v, or false when an embedded
// pointer on the way is nil.
func FieldValue(v reflect.Value, f *Field) (reflect.Value, bool) {
	if len(f.Index) == 1 {
		return v.Field(f.Index[0]), true
	}
	for n, i := range f.Index {
		if n > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(i)
	}
	return v, true
}

// omitted reports whether the field value fv is left out.
func (f *Field) omitted(fv reflect.Value) bool {
	return f.OmitEmpty && isEmpty(fv) || f.OmitZero && isZero(fv)
}
