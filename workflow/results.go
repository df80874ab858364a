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
			return s.checkRequest(o, out)
		}
		var err error
		out, err = o.tx.AdmissionRequest.Get(o.ctx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return unwrapRequest(out), nil
}

// unwrapRequest takes a request an operation answers with out of its
// transaction, with the sections the operation wrote and attached to it
// (its answer reads them without a statement).
func unwrapRequest(r *ent.AdmissionRequest) *ent.AdmissionRequest {
	if m := r.Edges.Medical; m != nil {
		m.Unwrap()
	}
	if c := r.Edges.CareProject; c != nil {
		c.Unwrap()
	}
	if a := r.Edges.AdminSocial; a != nil {
		a.Unwrap()
	}
	return r.Unwrap()
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
			// Its request as the operation left it (read under the viewer's
			// rules by loadDispatch): "request { status }" costs nothing.
			if o.req != nil && o.req.ID == out.RequestID {
				out.Edges.Request = o.req
				if err := s.checkRequest(o, o.req); err != nil {
					return err
				}
			}
			return s.checkResult(out, func() (any, error) { return o.tx.Dispatch.Get(o.ctx, id) })
		}
		var err error
		out, err = o.tx.Dispatch.Get(o.ctx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if out.Edges.Request != nil {
		unwrapRequest(out.Edges.Request)
	}
	return out.Unwrap(), nil
}

// checkRequest is checkResult for a request and the sections that come
// with it.
func (s *Service) checkRequest(o *op, req *ent.AdmissionRequest) error {
	if !s.checkResults {
		return nil
	}
	if err := s.checkResult(req, func() (any, error) { return o.tx.AdmissionRequest.Get(o.ctx, req.ID) }); err != nil {
		return err
	}
	if m := req.Edges.Medical; m != nil {
		if err := s.checkResult(m, func() (any, error) { return o.tx.MedicalSection.Get(o.ctx, m.ID) }); err != nil {
			return err
		}
	}
	if c := req.Edges.CareProject; c != nil {
		if err := s.checkResult(c, func() (any, error) { return o.tx.CareProjectSection.Get(o.ctx, c.ID) }); err != nil {
			return err
		}
	}
	if a := req.Edges.AdminSocial; a != nil {
		return s.checkResult(a, func() (any, error) { return o.tx.AdminSocialSection.Get(o.ctx, a.ID) })
	}
	return nil
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

// fieldsOf is an entity's fields as JSON (keys sorted), without its edges.
func fieldsOf(row any) []byte {
	b, err := json.Marshal(row)
	if err != nil {
		return []byte(err.Error())
	}
	var fields map[string]any
	if err := json.Unmarshal(b, &fields); err != nil {
		return []byte(err.Error())
	}
	delete(fields, "edges")
	b, _ = json.Marshal(fields)
	return b
}
