package datagen

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/google/uuid"

	"passerelle/authz"
	"passerelle/ent"
	"passerelle/ent/structure"
	"passerelle/enums"
	"passerelle/identity"
)

// EmailDomain is the e-mail domain of every generated account.
const EmailDomain = "passerelle-gen.test"

// namespace makes directory ids (uuid v5 of seed and a natural key) distinct
// from any other v5 id.
var namespace = uuid.MustParse("7f1c2a5e-3b1d-4c8e-9a57-2d0e6f4b9c11")

// keyID is the deterministic id of a directory row: the same seed and key
// give the same id on every run, whatever else the database holds.
func keyID(seed uint64, key string) uuid.UUID {
	return uuid.NewSHA1(namespace, fmt.Appendf(nil, "%d/%s", seed, key))
}

// keyRand is a random source private to one directory row.
func keyRand(seed uint64, key string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(key))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// uspUnit is a receiving unit and the people who answer for it.
type uspUnit struct {
	ID, StructureID uuid.UUID
	StructureKind   enums.StructureKind
	Dept, Region    string
	Capacity        int
	Accepting       bool
	Physicians      []uuid.UUID // RECEIVER_PHYSICIAN: read, answer, admit
	Staff           []uuid.UUID // RECEIVER_STAFF: read, ask, admit
}

// origin is a requesting structure, its wards and its requesting people.
type origin struct {
	ID         uuid.UUID
	Kind       enums.StructureKind
	Dept       string
	Region     string
	Units      []uuid.UUID
	Physicians []uuid.UUID // may validate the medical section
	Others     []uuid.UUID // care team / non-medical / admin-social
	Weight     float64     // share of the requests
	candidates []candidate // USP units it sends to, with weights
	candTotal  float64
}

type candidate struct {
	unit   int
	weight float64
}

// directory is the generated (and demo) directory the requests draw from.
type directory struct {
	origins   []*origin
	originCum []float64
	usp       []*uspUnit

	// rows to insert (generated part only)
	structures    []*ent.Structure
	units         []*ent.Unit
	users         []*ent.User
	habilitations []*ent.Habilitation
}

// kindMix is the share of each requesting kind among generated structures.
var kindMix = []struct {
	kind   enums.StructureKind
	share  float64
	weight float64 // requests per structure, relative (MCO: per ward)
}{
	{enums.StructureKindMco, 0.30, 2.0},
	{enums.StructureKindSmr, 0.16, 3.0},
	{enums.StructureKindHad, 0.10, 5.0},
	{enums.StructureKindEmsp, 0.10, 4.0},
	{enums.StructureKindEhpad, 0.16, 1.0},
	{enums.StructureKindDac, 0.08, 4.0},
	{enums.StructureKindLiberalPractice, 0.10, 0.6},
}

func kindWeight(k enums.StructureKind, units int) float64 {
	for _, m := range kindMix {
		if m.kind == k {
			if k == enums.StructureKindMco {
				return m.weight * float64(max(units, 1))
			}
			return m.weight
		}
	}
	return 1
}

var wardNames = []string{"Oncologie", "Pneumologie", "Médecine interne", "Gériatrie", "Neurologie",
	"Hépato-gastro-entérologie", "Cardiologie", "Hématologie", "Néphrologie", "Médecine polyvalente"}

// existing is what the database held before generation: the demo data set.
type existing struct {
	structures []*ent.Structure // with units
}

// buildDirectory lays out the generated directory next to the existing
// (demo) one. It does not touch the database.
func buildDirectory(cfg Config, ex existing, from, until time.Time) (*directory, error) {
	d := &directory{}
	seed := cfg.Seed
	deps := cfg.departments()
	depOf := map[string]department{}
	for _, dp := range deps {
		depOf[dp.Code] = dp
	}
	regionOf := func(code string) string {
		if dp, ok := depOf[code]; ok {
			return dp.Region
		}
		return "IDF"
	}

	// Existing structures: USP units receive; care structures request.
	exUSPByDept := map[string]int{}
	var authorities []*ent.Structure
	var exOrigins []*ent.Structure
	sorted := slices.Clone(ex.structures)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Finess < sorted[j].Finess })
	for _, s := range sorted {
		hasUSP := false
		for _, u := range s.Edges.Units {
			if u.Kind == enums.UnitKindUsp {
				hasUSP = true
				cap := 12
				if u.Capacity != nil {
					cap = *u.Capacity
				}
				d.usp = append(d.usp, &uspUnit{ID: u.ID, StructureID: s.ID, StructureKind: s.Kind, Dept: s.Department,
					Region: regionOf(s.Department), Capacity: cap, Accepting: u.AcceptingRequests})
				exUSPByDept[s.Department]++
			}
		}
		switch {
		case hasUSP:
		case s.Kind == enums.StructureKindAuthority:
			authorities = append(authorities, s)
		case s.Kind == enums.StructureKindRegionalSupport:
		default:
			exOrigins = append(exOrigins, s)
		}
	}

	// Generated USP units (france): per département, by population.
	totalW := 0.0
	for _, dp := range deps {
		totalW += dp.Weight
	}
	seq := 0
	nextFiness := func(dep string) string {
		seq++
		var first8 string
		if len(dep) == 3 {
			first8 = fmt.Sprintf("%s8%04d", dep, seq)
		} else {
			first8 = fmt.Sprintf("%s8%05d", dep, seq)
		}
		c, err := identity.FINESSCheckDigit(first8)
		if err != nil {
			panic(err) // the codes above are well-formed
		}
		return first8 + string(c)
	}
	created := from.Add(-400 * 24 * time.Hour)
	addStructure := func(kind enums.StructureKind, dep, name string) *ent.Structure {
		f := nextFiness(dep)
		r := keyRand(seed, "structure/"+f)
		city := pick(r, genericCities)
		if cs := depOf[dep].Cities; len(cs) > 0 {
			city = pick(r, cs)
		}
		s := &ent.Structure{ID: keyID(seed, "structure/"+f), CreatedAt: created, UpdatedAt: created,
			Finess: f, Name: fmt.Sprintf(name, city), Kind: kind, Department: dep, City: city,
			PostalCode: postalCode(r, dep), Phone: fmt.Sprintf("01 99 %02d %02d %02d", r.IntN(100), r.IntN(100), r.IntN(100)),
			Address: fmt.Sprintf("%d %s", 1+r.IntN(120), pick(r, streetNames))}
		d.structures = append(d.structures, s)
		return s
	}
	addUnit := func(s *ent.Structure, kind enums.UnitKind, name string) *ent.Unit {
		key := fmt.Sprintf("unit/%s/%d", s.Finess, len(s.Edges.Units))
		u := &ent.Unit{ID: keyID(seed, key), CreatedAt: created, UpdatedAt: created, StructureID: s.ID,
			Name: name, Kind: kind}
		s.Edges.Units = append(s.Edges.Units, u)
		d.units = append(d.units, u)
		return u
	}
	for _, dp := range deps {
		want := int(float64(cfg.USPUnits)*dp.Weight/totalW + 0.5)
		if cfg.USPUnits > 0 {
			want = max(want, 1)
		}
		for range max(0, want-exUSPByDept[dp.Code]) {
			r := keyRand(seed, fmt.Sprintf("usp/%s/%d", dp.Code, seq))
			kind := enums.StructureKindUsp
			name := "Maison de soins palliatifs de %s"
			if r.Float64() < 0.6 {
				kind, name = enums.StructureKindMco, "Centre hospitalier de %s"
				if r.Float64() < 0.3 {
					kind, name = enums.StructureKindSmr, "Hôpital de soins de suite de %s"
				}
			}
			s := addStructure(kind, dp.Code, name)
			u := addUnit(s, enums.UnitKindUsp, "USP "+s.City)
			cap := 8 + r.IntN(23)
			avail := r.IntN(4)
			accepting := r.Float64() < 0.93
			when := until.Add(-time.Duration(r.IntN(72)) * time.Hour)
			u.Capacity, u.AvailableBeds, u.AvailableBedsUpdatedAt = &cap, &avail, &when
			u.AcceptingRequests = accepting
			u.AdmissionCriteria = "Situations palliatives complexes ; patient informé de l'orientation en USP."
			u.AdmissionHours = "Admissions du lundi au vendredi, de 10 h à 16 h."
			d.usp = append(d.usp, &uspUnit{ID: u.ID, StructureID: s.ID, StructureKind: s.Kind, Dept: dp.Code, Region: dp.Region,
				Capacity: cap, Accepting: accepting})
		}
	}

	// Generated requesting structures.
	type slot struct {
		kind enums.StructureKind
		dep  string
	}
	var slots []slot
	r := keyRand(seed, "requesting-layout")
	for i := range cfg.RequestingStructures {
		// Kinds in proportion, départements by population (deterministic).
		x := (float64(i) + 0.5) / float64(cfg.RequestingStructures)
		kind := kindMix[len(kindMix)-1].kind
		acc := 0.0
		for _, m := range kindMix {
			acc += m.share
			if x < acc {
				kind = m.kind
				break
			}
		}
		y := r.Float64() * totalW
		dep := deps[len(deps)-1].Code
		for _, dp := range deps {
			if y < dp.Weight {
				dep = dp.Code
				break
			}
			y -= dp.Weight
		}
		slots = append(slots, slot{kind, dep})
	}
	for _, sl := range slots {
		var s *ent.Structure
		switch sl.kind {
		case enums.StructureKindMco:
			s = addStructure(sl.kind, sl.dep, "Centre hospitalier de %s")
			rr := keyRand(seed, "wards/"+s.Finess)
			n := 3 + rr.IntN(6)
			for _, w := range rr.Perm(len(wardNames))[:min(n, len(wardNames))] {
				addUnit(s, enums.UnitKindWard, wardNames[w])
			}
		case enums.StructureKindSmr:
			s = addStructure(sl.kind, sl.dep, "Centre de SMR de %s")
			addUnit(s, enums.UnitKindSmr, "SMR gériatrique")
			if keyRand(seed, "smr/"+s.Finess).IntN(2) == 0 {
				addUnit(s, enums.UnitKindSmr, "SMR polyvalent")
			}
		case enums.StructureKindHad:
			s = addStructure(sl.kind, sl.dep, "HAD de %s")
			addUnit(s, enums.UnitKindHad, "Hospitalisation à domicile")
		case enums.StructureKindEmsp:
			s = addStructure(sl.kind, sl.dep, "Équipe mobile de soins palliatifs de %s")
			addUnit(s, enums.UnitKindEmsp, "EMSP")
		case enums.StructureKindEhpad:
			s = addStructure(sl.kind, sl.dep, "EHPAD Les Tilleuls (%s)")
		case enums.StructureKindDac:
			s = addStructure(sl.kind, sl.dep, "DAC de %s")
		default:
			s = addStructure(sl.kind, sl.dep, "Cabinet médical de %s")
		}
		exOrigins = append(exOrigins, s)
	}

	// People. Existing (demo) structures get generated people too, so the
	// demo structures hold generated traffic.
	// Habilitations last a year: the current one is valid around the end
	// of the simulated year; an expired one precedes it.
	vf, vu := until.Add(-180*24*time.Hour), until.Add(180*24*time.Hour)
	addUser := func(email string, profile enums.Profile, s *ent.Structure, unitID *uuid.UUID, kind enums.StructureKind) (uuid.UUID, error) {
		var unitKind *enums.UnitKind
		if unitID != nil {
			k := enums.UnitKindUsp
			unitKind = &k
		}
		if ok, why := authz.FitsStructure(profile, kind, unitKind); !ok {
			return uuid.Nil, fmt.Errorf("datagen: %s: %s", email, why)
		}
		rr := keyRand(seed, "user/"+email)
		first := pick(rr, femaleFirstNames)
		if rr.IntN(2) == 0 {
			first = pick(rr, maleFirstNames)
		}
		u := &ent.User{ID: keyID(seed, "user/"+email), CreatedAt: created, UpdatedAt: created, Email: email,
			FirstName: first, LastName: pick(rr, lastNames), Profession: professionOf(profile)}
		d.users = append(d.users, u)
		// The current habilitation, and the expired one it renewed.
		d.habilitations = append(d.habilitations,
			&ent.Habilitation{ID: keyID(seed, "hab/"+email), CreatedAt: vf, UpdatedAt: vf, UserID: u.ID,
				StructureID: s.ID, UnitID: unitID, Profile: profile, ValidFrom: vf, ValidUntil: vu},
			&ent.Habilitation{ID: keyID(seed, "hab-old/"+email), CreatedAt: vf.Add(-365 * 24 * time.Hour),
				UpdatedAt: vf.Add(-365 * 24 * time.Hour), UserID: u.ID, StructureID: s.ID, UnitID: unitID,
				Profile: profile, ValidFrom: vf.Add(-365 * 24 * time.Hour), ValidUntil: vf})
		return u.ID, nil
	}
	for _, u := range d.usp {
		key := u.ID.String()[:8]
		for n := 1; n <= 2; n++ {
			id, err := addUser(fmt.Sprintf("medecin%d.usp-%s@"+EmailDomain, n, key),
				enums.ProfileReceiverPhysician, &ent.Structure{ID: u.StructureID}, &u.ID, u.StructureKind)
			if err != nil {
				return nil, err
			}
			u.Physicians = append(u.Physicians, id)
		}
		id, err := addUser(fmt.Sprintf("secretariat.usp-%s@"+EmailDomain, key),
			enums.ProfileReceiverStaff, &ent.Structure{ID: u.StructureID}, &u.ID, u.StructureKind)
		if err != nil {
			return nil, err
		}
		u.Staff = append(u.Staff, id)
	}
	for _, s := range exOrigins {
		o := &origin{ID: s.ID, Kind: s.Kind, Dept: s.Department, Region: regionOf(s.Department)}
		for _, u := range s.Edges.Units {
			o.Units = append(o.Units, u.ID)
		}
		o.Weight = kindWeight(s.Kind, len(o.Units))
		var physician, other []enums.Profile
		switch s.Kind {
		case enums.StructureKindDac, enums.StructureKindEhpad:
			physician = []enums.Profile{enums.ProfileCoordinatingPhysician}
			other = []enums.Profile{enums.ProfileNonMedicalManager}
		case enums.StructureKindLiberalPractice:
			physician = []enums.Profile{enums.ProfileLiberalPhysician}
		default:
			physician = []enums.Profile{enums.ProfilePrescriberPhysician, enums.ProfilePrescriberPhysician}
			other = []enums.Profile{enums.ProfileCareTeam, enums.ProfileAdminSocialManager}
		}
		for i, p := range physician {
			id, err := addUser(fmt.Sprintf("prescripteur%d.%s@"+EmailDomain, i+1, s.Finess), p, s, nil, s.Kind)
			if err != nil {
				return nil, err
			}
			o.Physicians = append(o.Physicians, id)
		}
		for i, p := range other {
			id, err := addUser(fmt.Sprintf("equipe%d.%s@"+EmailDomain, i+1, s.Finess), p, s, nil, s.Kind)
			if err != nil {
				return nil, err
			}
			o.Others = append(o.Others, id)
		}
		d.origins = append(d.origins, o)
	}
	for _, s := range authorities {
		if _, err := addUser(fmt.Sprintf("observatoire.%s@"+EmailDomain, s.Finess),
			enums.ProfileObserver, s, nil, s.Kind); err != nil {
			return nil, err
		}
	}

	// Where each origin sends: its département first, then its region; a
	// few far units when the neighbourhood is thin (overseas, Corsica).
	var accepting []int
	for i, u := range d.usp {
		if u.Accepting {
			accepting = append(accepting, i)
		}
	}
	if len(accepting) < 5 {
		return nil, fmt.Errorf("datagen: only %d USP units accept requests; at least 5 are needed", len(accepting))
	}
	byPlace := map[string][]candidate{}
	for _, o := range d.origins {
		key := o.Dept
		if c, ok := byPlace[key]; ok {
			o.candidates = c
		} else {
			var cs []candidate
			for _, i := range accepting {
				u := d.usp[i]
				w := float64(u.Capacity) / 15
				switch {
				case u.Dept == o.Dept:
					w *= 8
				case u.Region == o.Region:
					w *= 2
				default:
					continue
				}
				cs = append(cs, candidate{i, w})
			}
			if len(cs) < 6 {
				rr := keyRand(seed, "far/"+key)
				for _, j := range rr.Perm(len(accepting))[:6] {
					if !slices.ContainsFunc(cs, func(c candidate) bool { return c.unit == accepting[j] }) {
						cs = append(cs, candidate{accepting[j], 0.3})
					}
				}
			}
			byPlace[key] = cs
			o.candidates = cs
		}
		for _, c := range o.candidates {
			o.candTotal += c.weight
		}
	}
	total := 0.0
	for _, o := range d.origins {
		total += o.Weight
		d.originCum = append(d.originCum, total)
	}
	return d, nil
}

func (d *directory) pickOrigin(r *rand.Rand) *origin {
	x := r.Float64() * d.originCum[len(d.originCum)-1]
	i := sort.SearchFloat64s(d.originCum, x)
	return d.origins[min(i, len(d.origins)-1)]
}

// pickUnits draws k distinct USP units for an origin, by weight.
func (d *directory) pickUnits(r *rand.Rand, o *origin, k int, exclude []int) []int {
	var out []int
	used := slices.Clone(exclude)
	for len(out) < k {
		total := 0.0
		for _, c := range o.candidates {
			if !slices.Contains(used, c.unit) {
				total += c.weight
			}
		}
		if total == 0 {
			break
		}
		x := r.Float64() * total
		for _, c := range o.candidates {
			if slices.Contains(used, c.unit) {
				continue
			}
			if x < c.weight {
				out = append(out, c.unit)
				used = append(used, c.unit)
				break
			}
			x -= c.weight
		}
	}
	return out
}

func professionOf(p enums.Profile) string {
	switch p {
	case enums.ProfileReceiverPhysician:
		return "Médecin de soins palliatifs"
	case enums.ProfileReceiverStaff:
		return "Secrétaire médicale"
	case enums.ProfilePrescriberPhysician, enums.ProfileLiberalPhysician:
		return "Médecin"
	case enums.ProfileCoordinatingPhysician:
		return "Médecin coordonnateur"
	case enums.ProfileCareTeam:
		return "Infirmier(e)"
	case enums.ProfileAdminSocialManager:
		return "Assistant(e) social(e)"
	case enums.ProfileNonMedicalManager:
		return "Coordinateur de parcours"
	case enums.ProfileObserver:
		return "Chargé(e) d'études"
	}
	return ""
}

func postalCode(r *rand.Rand, dep string) string {
	switch {
	case dep == "75":
		return fmt.Sprintf("750%02d", 1+r.IntN(20))
	case dep == "2A":
		return "20000"
	case dep == "2B":
		return "20200"
	case len(dep) == 3:
		return fmt.Sprintf("%s%02d", dep, r.IntN(100))
	}
	return fmt.Sprintf("%s%03d", dep, r.IntN(10)*10)
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// loadExisting reads the structures (with units) the generator did not
// write: the demo data set. A generated structure is recognised by its id,
// derived from the seed and its FINESS number.
func loadExisting(ctx context.Context, client *ent.Client, seed uint64) (ex existing, generated int, err error) {
	all, err := client.Structure.Query().WithUnits().Order(ent.Asc(structure.FieldFiness)).All(ctx)
	if err != nil {
		return existing{}, 0, err
	}
	for _, s := range all {
		if s.ID == keyID(seed, "structure/"+s.Finess) {
			generated++
			continue
		}
		ex.structures = append(ex.structures, s)
	}
	return ex, generated, nil
}
