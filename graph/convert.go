package graph

import (
	"reflect"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"passerelle/graph/direct"
	"passerelle/graph/model"
	"passerelle/workflow"
)

// val returns the value of an optional input (nil when absent or null).
func val[T any](o graphql.Omittable[*T]) *T {
	v, _ := o.ValueOK()
	return v
}

// patchOf turns a section input (fields graphql.Omittable[*T] or [[]T]) into a
// workflow.Patch holding only the fields the client sent: a value sets the
// field, an explicit null clears it.
func patchOf(input any) workflow.Patch {
	p := workflow.Patch{}
	v := reflect.ValueOf(input)
	t := v.Type()
	for i := range t.NumField() {
		f := v.Field(i)
		isSet := f.MethodByName("IsSet")
		if !isSet.IsValid() || !isSet.Call(nil)[0].Bool() {
			continue
		}
		name := direct.Column(strings.Split(t.Field(i).Tag.Get("json"), ",")[0])
		value := f.MethodByName("Value").Call(nil)[0]
		switch {
		case value.IsNil(): // *T or list: explicit null
			p[name] = nil
		case value.Kind() == reflect.Pointer:
			p[name] = value.Elem().Interface()
		default: // a list is held by value
			p[name] = value.Interface()
		}
	}
	return p
}

// changesOf splits updateAdmissionRequest's input into the request's fields
// and the patient's (a null patient changes nothing).
func changesOf(input model.UpdateAdmissionRequestInput) workflow.RequestChanges {
	c := workflow.RequestChanges{Request: patchOf(input)}
	delete(c.Request, "patient")
	if p := input.Patient.Value(); p != nil {
		c.Patient = patchOf(*p)
	}
	return c
}
