package workflow

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	entgo "entgo.io/ent"
)

// mirror applies a saved update of one row to the entity the operation
// holds for that row: the fields the update set (those ent's defaults added
// included: ent completes the mutation before it runs), added to and
// cleared. The operation can then answer with the row as it wrote it instead
// of reading it again inside its transaction. Config.CheckResults compares
// the two in the tests.
func mirror(row any, m entgo.Mutation) error {
	v := reflect.ValueOf(row).Elem()
	fields := columnFields(v.Type())
	field := func(name string) (reflect.Value, error) {
		i, ok := fields[name]
		if !ok {
			return reflect.Value{}, fmt.Errorf("workflow: %s has no field %s to mirror", v.Type(), name)
		}
		return v.Field(i), nil
	}
	for _, name := range m.Fields() {
		val, _ := m.Field(name)
		f, err := field(name)
		if err != nil {
			return err
		}
		x := reflect.ValueOf(val)
		switch {
		case x.Type().AssignableTo(f.Type()):
			f.Set(x)
		case f.Kind() == reflect.Pointer && x.Type().AssignableTo(f.Type().Elem()):
			p := reflect.New(f.Type().Elem())
			p.Elem().Set(x)
			f.Set(p)
		default:
			return fmt.Errorf("workflow: cannot mirror %s (%s) into %s", name, x.Type(), f.Type())
		}
	}
	for _, name := range m.AddedFields() {
		val, _ := m.AddedField(name)
		f, err := field(name)
		if err != nil {
			return err
		}
		x := reflect.ValueOf(val)
		if !f.CanInt() || !x.CanInt() {
			return fmt.Errorf("workflow: cannot mirror an addition to %s", name)
		}
		f.SetInt(f.Int() + x.Int())
	}
	for _, name := range m.ClearedFields() {
		f, err := field(name)
		if err != nil {
			return err
		}
		f.SetZero()
	}
	return nil
}

var columnFieldsOf sync.Map // reflect.Type → map[string]int

// columnFields maps an ent entity's field names (its json tags, which ent
// writes as the column names) to struct field indexes.
func columnFields(t reflect.Type) map[string]int {
	if m, ok := columnFieldsOf.Load(t); ok {
		return m.(map[string]int)
	}
	m := map[string]int{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			m[name] = i
		}
	}
	columnFieldsOf.Store(t, m)
	return m
}
