package stats

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"passerelle/datagen"
	"passerelle/ent"
	"passerelle/ent/admissionrequest"
	"passerelle/enums"
	"passerelle/store"
	"passerelle/viewer"
)

// BenchmarkCompute is the statistics report on 3 000 generated requests
// (datagen, ~10 000 dispatches): for the observatory (the whole region) and
// for the referent of the busiest requesting structure, and the former
// in-Go computation for comparison.
//
// With PASSERELLE_STATS_BENCH_DB naming an existing database (a SQLite file
// such as a copy of the idf data set, or a postgres:// URL), it measures the
// same on it instead; the database is only read. The former computation is
// skipped where it fails (beyond 32 766 requests on SQLite).
func BenchmarkCompute(b *testing.B) {
	var client *ent.Client
	if where := os.Getenv("PASSERELLE_STATS_BENCH_DB"); where != "" {
		url := where
		if !store.IsPostgres(where) {
			url = store.SQLiteDSN(where) + "&mode=ro"
		}
		db, err := store.Open(context.Background(), store.Config{DatabaseURL: url})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		client = db.Client
	} else {
		db := openDB(b)
		end := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
		err := datagen.Generate(context.Background(), db.Client, datagen.Config{Preset: "tiny", Seed: 3, Requests: 3000,
			Now: func() time.Time { return end }}, nil)
		if err != nil {
			b.Fatal(err)
		}
		client = db.Client
	}
	observer := signedIn(as(enums.ProfileObserver, uuid.Nil, enums.StructureKindAuthority))
	referent := busiestReferent(b, client)
	for _, c := range []struct {
		name    string
		ctx     context.Context
		compute func(context.Context, *ent.Client, Filter) (*Report, error)
	}{
		{"observer", observer, Compute},
		{"referent", referent, Compute},
		{"observer/reference", observer, referenceCompute},
		{"referent/reference", referent, referenceCompute},
	} {
		b.Run(c.name, func(b *testing.B) {
			var rep *Report
			var err error
			b.ReportAllocs()
			for b.Loop() {
				if rep, err = c.compute(c.ctx, client, Filter{}); err != nil {
					if strings.HasSuffix(c.name, "/reference") {
						// The former computation, beyond its limits.
						b.Skipf("fails: %v", err)
					}
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rep.Requests), "requests")
		})
	}
}

// busiestReferent is a referent of the requesting structure that sent the
// most requests.
func busiestReferent(b *testing.B, client *ent.Client) context.Context {
	sys := viewer.System(context.Background())
	var busiest []struct {
		ID    uuid.UUID `json:"origin_structure_id"`
		Count int       `json:"count"`
	}
	if err := client.AdmissionRequest.Query().GroupBy(admissionrequest.FieldOriginStructureID).
		Aggregate(ent.Count()).Scan(sys, &busiest); err != nil {
		b.Fatal(err)
	}
	top := busiest[0]
	for _, s := range busiest {
		if s.Count > top.Count {
			top = s
		}
	}
	origin, err := client.Structure.Get(sys, top.ID)
	if err != nil {
		b.Fatal(err)
	}
	return signedIn(as(enums.ProfileStructureReferent, origin.ID, origin.Kind))
}
