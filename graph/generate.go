// Package graph holds the GraphQL resolvers: thin adapters from the API to
// the domain services, the directives and the error presenter.
package graph

//go:generate go -C .. tool gqlgen generate
