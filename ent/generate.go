// Package ent holds the data model generated from ./schema.
package ent

//go:generate go generate ../enums
//go:generate go run -mod=mod entc.go
