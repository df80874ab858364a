package workflow

import (
	"context"

	"github.com/google/uuid"

	"passerelle/ent"
)

// onRequest runs fn and returns the request as it stands at the end of the
// transaction: read inside it, so a committed change is never answered as a
// failure because a read after the commit failed.
func (s *Service) onRequest(ctx context.Context, id uuid.UUID, fn func(o *op) error) (*ent.AdmissionRequest, error) {
	var out *ent.AdmissionRequest
	err := s.run(ctx, func(o *op) error {
		if err := fn(o); err != nil {
			return err
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
		var err error
		out, err = o.tx.Dispatch.Get(o.ctx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}
