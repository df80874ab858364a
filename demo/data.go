package demo

import "passerelle/enums"

// The fictional Île-de-France data set. Structure, unit and person names
// borrow real hospital names of the region, but every figure (beds,
// availability, FINESS numbers, phone numbers, people) is made up.

// structureSpec describes one structure of the data set and its units.
type structureSpec struct {
	Name       string
	Kind       enums.StructureKind
	Department string
	City       string
	PostalCode string
	Units      []unitSpec
}

// unitSpec describes one unit. USP units carry their sheet; the others
// (wards of the requesting hospitals) only a name and a kind.
type unitSpec struct {
	Name      string
	Kind      enums.UnitKind
	Capacity  int
	Available int
	Accepting bool
	// Criteria and Hours index the shared French texts below.
	Criteria int
	Hours    int
}

// Names of the structures the accounts are granted on.
const (
	diaconesses    = "Hôpital des Diaconesses"
	pompidou       = "Hôpital Européen Georges-Pompidou"
	dacParisCentre = "DAC Paris Centre"
	cabinetMartin  = "Cabinet du Dr Martin"
	regionSupport  = "Support régional Passerelle"
	arsIDF         = "Agence régionale de santé Île-de-France"

	saintePerine      = "Hôpital Sainte-Périne"
	uspSaintePerine   = "USP Sainte-Périne"
	jeanneGarnier     = "Maison médicale Jeanne Garnier"
	cognacqJay        = "Hôpital Cognacq-Jay"
	forcilles         = "Hôpital Forcilles"
	uspForcilles      = "USP Forcilles"
	fictionalPhoneFmt = "01 99 00 %02d %02d" // ARCEP range reserved for fiction
)

// usp builds the one-unit structure of a USP.
func usp(structure string, kind enums.StructureKind, dep, city, postal, unit string,
	capacity, available int, accepting bool, criteria, hours int) structureSpec {
	return structureSpec{
		Name: structure, Kind: kind, Department: dep, City: city, PostalCode: postal,
		Units: []unitSpec{{
			Name: unit, Kind: enums.UnitKindUsp, Capacity: capacity, Available: available,
			Accepting: accepting, Criteria: criteria, Hours: hours,
		}},
	}
}

const (
	mco     = enums.StructureKindMco
	smr     = enums.StructureKindSmr
	uspKind = enums.StructureKindUsp
)

// uspStructures are the 26 receiving USP units, each in its structure, in
// département order. Two do not accept requests (Houdan, Jean-Verdier) so
// clients can exercise the "not accepting" rule; a few have no free bed.
var uspStructures = []structureSpec{
	// 75 Paris
	usp(saintePerine, uspKind, "75", "Paris", "75016", uspSaintePerine, 20, 3, true, 0, 0),
	usp(jeanneGarnier, uspKind, "75", "Paris", "75015", jeanneGarnier, 30, 4, true, 1, 1),
	usp(cognacqJay, uspKind, "75", "Paris", "75015", cognacqJay, 18, 2, true, 2, 2),
	usp("Groupe hospitalier Paris Saint-Joseph", mco, "75", "Paris", "75014", "USP Saint-Joseph", 12, 1, true, 3, 0),
	// 77 Seine-et-Marne
	usp(forcilles, smr, "77", "Férolles-Attilly", "77150", uspForcilles, 15, 2, true, 0, 1),
	usp("Grand Hôpital de l'Est Francilien – Meaux", mco, "77", "Meaux", "77100", "USP Meaux", 10, 0, true, 1, 0),
	usp("Grand Hôpital de l'Est Francilien – Marne-la-Vallée", mco, "77", "Jossigny", "77600", "USP Marne-la-Vallée", 12, 1, true, 2, 2),
	usp("Groupe hospitalier Sud Île-de-France", mco, "77", "Melun", "77000", "USP Melun", 10, 2, true, 3, 1),
	// 78 Yvelines
	usp("Hôpital de Houdan", mco, "78", "Houdan", "78550", "USP Houdan", 10, 1, false, 0, 0),
	usp("Centre hospitalier de Versailles – Hôpital André-Mignot", mco, "78", "Le Chesnay-Rocquencourt", "78150", "USP André-Mignot", 12, 2, true, 1, 2),
	usp("Centre hospitalier François-Quesnay", mco, "78", "Mantes-la-Jolie", "78200", "USP Mantes-la-Jolie", 10, 0, true, 2, 1),
	// 91 Essonne
	usp("Hôpital gériatrique Les Magnolias", smr, "91", "Ballainvilliers", "91160", "USP Les Magnolias", 16, 3, true, 3, 0),
	usp("Centre hospitalier Sud Francilien", mco, "91", "Corbeil-Essonnes", "91100", "USP Sud Francilien", 12, 1, true, 0, 2),
	usp("Centre hospitalier de Bligny", smr, "91", "Briis-sous-Forges", "91640", "USP Bligny", 10, 2, true, 1, 1),
	// 92 Hauts-de-Seine
	usp("Hôpital Foch", mco, "92", "Suresnes", "92150", "USP Foch", 10, 1, true, 2, 0),
	usp("Hôpital Corentin-Celton", smr, "92", "Issy-les-Moulineaux", "92130", "USP Corentin-Celton", 14, 2, true, 3, 2),
	usp("Hôpital Louis-Mourier", mco, "92", "Colombes", "92700", "USP Louis-Mourier", 8, 0, true, 0, 1),
	// 93 Seine-Saint-Denis
	usp("Hôpital René-Muret", smr, "93", "Sevran", "93270", "USP René-Muret", 15, 2, true, 1, 0),
	usp("Centre hospitalier de Saint-Denis", mco, "93", "Saint-Denis", "93200", "USP Delafontaine", 10, 1, true, 2, 2),
	usp("Hôpital Jean-Verdier", mco, "93", "Bondy", "93140", "USP Jean-Verdier", 8, 0, false, 3, 1),
	// 94 Val-de-Marne
	usp("Hôpital Paul-Brousse", mco, "94", "Villejuif", "94800", "USP Paul-Brousse", 20, 3, true, 0, 0),
	usp("Hôpital Charles-Foix", smr, "94", "Ivry-sur-Seine", "94200", "USP Charles-Foix", 14, 1, true, 1, 2),
	usp("Hôpital Émile-Roux", smr, "94", "Limeil-Brévannes", "94450", "USP Émile-Roux", 12, 2, true, 2, 1),
	// 95 Val-d'Oise
	usp("Centre hospitalier d'Argenteuil", mco, "95", "Argenteuil", "95100", "USP Victor-Dupouy", 10, 1, true, 3, 0),
	usp("Hôpital NOVO – Pontoise", mco, "95", "Pontoise", "95300", "USP Pontoise", 12, 2, true, 0, 2),
	usp("Hôpital Simone-Veil – Eaubonne", mco, "95", "Eaubonne", "95600", "USP Simone-Veil", 10, 0, true, 1, 1),
}

// otherStructures are the requesting structures and the regional ones.
var otherStructures = []structureSpec{
	{Name: diaconesses, Kind: mco, Department: "75", City: "Paris", PostalCode: "75012",
		Units: []unitSpec{{Name: "Oncologie", Kind: enums.UnitKindWard}, {Name: "Médecine interne", Kind: enums.UnitKindWard}}},
	{Name: pompidou, Kind: mco, Department: "75", City: "Paris", PostalCode: "75015",
		Units: []unitSpec{{Name: "Oncologie médicale", Kind: enums.UnitKindWard}}},
	{Name: dacParisCentre, Kind: enums.StructureKindDac, Department: "75", City: "Paris", PostalCode: "75004"},
	{Name: cabinetMartin, Kind: enums.StructureKindLiberalPractice, Department: "75", City: "Paris", PostalCode: "75011"},
	{Name: regionSupport, Kind: enums.StructureKindRegionalSupport, Department: "75", City: "Paris"},
	{Name: arsIDF, Kind: enums.StructureKindAuthority, Department: "75"},
}

// allStructures returns every structure of the data set, in a fixed order
// (the FINESS numbers derive from it).
func allStructures() []structureSpec {
	out := make([]structureSpec, 0, len(uspStructures)+len(otherStructures))
	out = append(out, uspStructures...)
	return append(out, otherStructures...)
}

// admissionCriteria are the French admission criteria shown on USP sheets.
var admissionCriteria = []string{
	"Patient atteint d'une maladie grave, évolutive, en phase avancée ou terminale, " +
		"présentant des symptômes complexes ou une situation instable. " +
		"Patient informé de l'orientation en USP et l'acceptant. Volet médical validé par un médecin.",
	"Situations palliatives complexes (symptômes réfractaires, détresse psychologique, " +
		"épuisement des aidants). Pas d'admission pour hébergement seul ni pour simple répit social. " +
		"Dossier complet et PALLIA-10 renseigné.",
	"Adultes en situation palliative relevant d'une expertise spécialisée. " +
		"Priorité aux patients du territoire. Les demandes de répit sont étudiées au cas par cas.",
	"Maladie incurable en phase avancée, pronostic estimé en semaines. " +
		"Projet de soins discuté avec le patient et ses proches ; personne de confiance désignée si possible.",
}

// admissionHours are the French admission days and hours.
var admissionHours = []string{
	"Admissions du lundi au vendredi, de 10 h à 16 h.",
	"Admissions du lundi au samedi, de 11 h à 15 h ; pas d'admission les jours fériés.",
	"Admissions du lundi au vendredi, de 9 h 30 à 15 h 30 ; le vendredi avant 13 h.",
}

// Account is one demo account of the contract's table.
type Account struct {
	Email   string
	Profile enums.Profile
	// Structure is the name of the structure the profile is granted on.
	Structure string
	// Unit is the name of the USP unit for receiving profiles, "" when the
	// grant covers the whole structure.
	Unit string
}

// person is what the data set knows of an account's holder.
type person struct {
	FirstName, LastName, Profession string
}

type accountSpec struct {
	Account
	person
}

// accounts is the contract's account table, in its order.
var accounts = []accountSpec{
	{Account{"prescripteur@diaconesses.demo", enums.ProfilePrescriberPhysician, diaconesses, ""},
		person{"Claire", "Lefèvre", "Médecin oncologue"}},
	{Account{"soignant@diaconesses.demo", enums.ProfileCareTeam, diaconesses, ""},
		person{"Sophie", "Moreau", "Infirmière"}},
	{Account{"gestionnaire@diaconesses.demo", enums.ProfileAdminSocialManager, diaconesses, ""},
		person{"Nadia", "Benali", "Assistante sociale"}},
	{Account{"referent@diaconesses.demo", enums.ProfileStructureReferent, diaconesses, ""},
		person{"Philippe", "Girard", "Cadre supérieur de santé"}},
	{Account{"prescripteur@pompidou.demo", enums.ProfilePrescriberPhysician, pompidou, ""},
		person{"Julien", "Roux", "Médecin oncologue"}},
	{Account{"coordo@dac75.demo", enums.ProfileCoordinatingPhysician, dacParisCentre, ""},
		person{"Hélène", "Dubois", "Médecin coordonnateur"}},
	{Account{"gestionnaire@dac75.demo", enums.ProfileNonMedicalManager, dacParisCentre, ""},
		person{"Karim", "Haddad", "Coordinateur de parcours"}},
	{Account{"dr.martin@liberal.demo", enums.ProfileLiberalPhysician, cabinetMartin, ""},
		person{"Paul", "Martin", "Médecin généraliste"}},
	{Account{"medecin@sainte-perine.demo", enums.ProfileReceiverPhysician, saintePerine, uspSaintePerine},
		person{"Anne", "Lambert", "Médecin de soins palliatifs"}},
	{Account{"secretariat@sainte-perine.demo", enums.ProfileReceiverStaff, saintePerine, uspSaintePerine},
		person{"Isabelle", "Petit", "Secrétaire médicale"}},
	{Account{"medecin@jeanne-garnier.demo", enums.ProfileReceiverPhysician, jeanneGarnier, jeanneGarnier},
		person{"François", "Mercier", "Médecin de soins palliatifs"}},
	{Account{"medecin@forcilles.demo", enums.ProfileReceiverPhysician, forcilles, uspForcilles},
		person{"Camille", "Fontaine", "Médecin de soins palliatifs"}},
	{Account{"support@region.demo", enums.ProfileRegionalSupport, regionSupport, ""},
		person{"Thomas", "Renaud", "Chargé de support régional"}},
	{Account{"observatoire@ars.demo", enums.ProfileObserver, arsIDF, ""},
		person{"Marie", "Chevalier", "Chargée d'études"}},
}

// Accounts lists the demo accounts (e-mail, profile, where), in the order
// of the contract's table. Every one has the password Password.
func Accounts() []Account {
	out := make([]Account, len(accounts))
	for i, a := range accounts {
		out[i] = a.Account
	}
	return out
}
