package workflow

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"passerelle/ent"
)

// onRequest runs fn and returns the request as it stands at the end of the
// transaction: the row fn loaded (loadRequest, loadDispatch) with the
// updates it made mirrored onto it (stepRequest), or else read inside the
// transaction — never after the commit, so that a committed change is never
// answered as a failure because a read after the commit failed.
func (s *Service) onRequest(ctx context.Context, id uuid.UUID, fn func(o *op) error) (*ent.AdmissionRequest, error) {
	var out *ent.AdmissionRequest
	err := s.run(ctx, func(o *op) error {
		if err := fn(o); err != nil {
			return err
		}
		if o.req != nil && o.req.ID == id {
			out = o.req
			return s.checkResult(out, func() (any, error) { return o.tx.AdmissionRequest.Get(o.ctx, id) })
		}
		var err error
		out, err = o.tx.AdmissionRequest.Get(o.ctx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// onDispatch is onRequest for a dispatch.
func (s *Service) onDispatch(ctx context.Context, id uuid.UUID, fn func(o *op) error) (*ent.Dispatch, error) {
	var out *ent.Dispatch
	err := s.run(ctx, func(o *op) error {
		if err := fn(o); err != nil {
			return err
		}
		if o.disp != nil && o.disp.ID == id {
			out = o.disp
			return s.checkResult(out, func() (any, error) { return o.tx.Dispatch.Get(o.ctx, id) })
		}
		var err error
		out, err = o.tx.Dispatch.Get(o.ctx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// checkResult, with Config.CheckResults (the tests), reads the row again
// and fails the operation if it differs from the mirrored one.
func (s *Service) checkResult(mirrored any, read func() (any, error)) error {
	if !s.checkResults {
		return nil
	}
	stored, err := read()
	if err != nil {
		return err
	}
	a, b := fieldsOf(mirrored), fieldsOf(stored)
	if !bytes.Equal(a, b) {
		return fmt.Errorf("workflow: the answer differs from the stored row\nanswer %s\nstored %s", a, b)
	}
	return nil
}

// fieldsOf is an entity's fields as JSON, without its edges.
func fieldsOf(row any) []byte {
	var b []byte
	switch r := row.(type) {
	case *ent.AdmissionRequest:
		c := *r
		c.Edges = ent.AdmissionRequestEdges{}
		b, _ = json.Marshal(&c)
	case *ent.Dispatch:
		c := *r
		c.Edges = ent.DispatchEdges{}
		b, _ = json.Marshal(&c)
	}
	return b
}
