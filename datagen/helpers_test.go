package datagen

import (
	"fmt"

	"passerelle/ent/predicate"
	"passerelle/ent/unit"
)

func fmtSscanf(ref string, y, n *int) (int, error) { return fmt.Sscanf(ref, "USP-%d-%d", y, n) }

func unitNotAccepting() predicate.Unit { return unit.AcceptingRequests(false) }
