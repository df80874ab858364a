package graph

import (
	"context"
	"errors"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"passerelle/apperr"
)

// ErrorPresenter gives every error an extensions.code, maps domain and
// storage errors through apperr (the one mapping), and hides internals:
// INTERNAL errors are logged with the request id and answered without detail.
func ErrorPresenter(logger *slog.Logger, requestID func(context.Context) string) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		var cause error = err
		var ge *gqlerror.Error
		if errors.As(err, &ge) && ge.Err != nil {
			cause = ge.Err
		} else if ge != nil && ge.Err == nil {
			// A gqlgen validation/parse error or one already carrying a code.
			if gerr.Extensions == nil {
				gerr.Extensions = map[string]any{}
			}
			// Parse and validation failures (gqlgen's GRAPHQL_PARSE_FAILED,
			// GRAPHQL_VALIDATION_FAILED) and limit refusals are the client's
			// input: one code of the contract, BAD_USER_INPUT, unless the
			// error already carries one of ours.
			if c, _ := gerr.Extensions["code"].(string); !contractCodes[apperr.Code(c)] {
				gerr.Extensions["code"] = string(apperr.BadUserInput)
			}
			return gerr
		}
		ae := apperr.FromContext(ctx, cause)
		if gerr.Extensions == nil {
			gerr.Extensions = map[string]any{}
		}
		gerr.Extensions["code"] = string(ae.Code)
		if ae.Field != "" {
			gerr.Extensions["field"] = ae.Field
		}
		for k, v := range ae.Extensions {
			gerr.Extensions[k] = v
		}
		gerr.Message = ae.Message
		if ae.Code == apperr.Internal {
			id := ""
			if requestID != nil {
				id = requestID(ctx)
			}
			gerr.Extensions["requestId"] = id
			logger.ErrorContext(ctx, "internal error", "err", cause, "requestId", id, "path", gerr.Path.String())
		}
		return gerr
	}
}

// contractCodes are the error codes of the client contract.
var contractCodes = map[apperr.Code]bool{
	apperr.Unauthenticated: true, apperr.Forbidden: true, apperr.NotFound: true, apperr.BadUserInput: true,
	apperr.Conflict: true, apperr.PasswordExpired: true, apperr.RateLimited: true, apperr.Internal: true,
}
