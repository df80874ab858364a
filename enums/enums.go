// Package enums holds every enumeration shared by the data model (ent),
// the GraphQL API and the domain rules. The table below is the single source:
// `go generate` turns it into Go types (enums_gen.go) that ent uses as field
// GoTypes and gqlgen binds to GraphQL enums of the same name.
//
// French labels for these values live in package labels (data, not code).
package enums

//go:generate go run gen.go

// table lists each enum type with its values, in display order.
// It is read by gen.go through go/parser, so keep it a plain literal.
var table = []struct {
	Name   string
	Values []string
}{
	{"Profile", []string{"PRESCRIBER_PHYSICIAN", "CARE_TEAM", "ADMIN_SOCIAL_MANAGER", "COORDINATING_PHYSICIAN", "NON_MEDICAL_MANAGER", "LIBERAL_PHYSICIAN", "STRUCTURE_REFERENT", "SOCIAL_ORG_REFERENT", "RECEIVER_PHYSICIAN", "RECEIVER_STAFF", "REGIONAL_SUPPORT", "OBSERVER"}},
	{"StructureKind", []string{"MCO", "SMR", "HAD", "USP", "EHPAD", "USLD", "DAC", "EMSP", "LIBERAL_PRACTICE", "REGIONAL_SUPPORT", "AUTHORITY"}},
	{"UnitKind", []string{"USP", "WARD", "SMR", "HAD", "EMSP", "DAC", "EHPAD", "PRACTICE", "OTHER"}},
	{"RequestStatus", []string{"DRAFT", "SENT", "CONFIRMED", "ADMITTED", "CANCELLED", "ARCHIVED"}},
	{"DispatchStatus", []string{"PENDING", "READ", "INFO_REQUESTED", "ACCEPTED", "ACCEPTED_WITH_RESERVATION", "REFUSED", "CONFIRMED", "WITHDRAWN", "CANCELLED", "ADMITTED", "NOT_ADMITTED"}},
	{"SectionState", []string{"EMPTY", "IN_PROGRESS", "COMPLETE", "VALIDATED"}},
	{"SectionKind", []string{"MEDICAL", "CARE_PROJECT", "ADMIN_SOCIAL"}},
	{"Urgency", []string{"WITHIN_48H", "WITHIN_WEEK", "PLANNED"}},
	{"Sex", []string{"FEMALE", "MALE", "OTHER"}},
	{"Prognosis", []string{"DAYS", "WEEKS", "MONTHS"}},
	{"InformationLevel", []string{"YES", "PARTIAL", "NO"}},
	{"StayGoal", []string{"SYMPTOM_CONTROL", "END_OF_LIFE", "RESPITE", "EVALUATION"}},
	{"Sedation", []string{"NONE", "ANTICIPATED", "REQUESTED", "IN_PLACE"}},
	{"SymptomControl", []string{"ABSENT", "CONTROLLED", "PARTIALLY_CONTROLLED", "UNCONTROLLED"}},
	{"DependenceLevel", []string{"AUTONOMOUS", "PARTIAL", "TOTAL"}},
	{"RefusalReason", []string{"NO_BED_IN_TIME", "NOT_USP_INDICATION", "PROJECT_INCOMPATIBLE", "PATIENT_NOT_INFORMED_OR_NOT_CONSENTING", "OUT_OF_AREA", "CARE_NOT_FEASIBLE", "INCOMPLETE_FILE", "ADMITTED_ELSEWHERE", "OTHER"}},
	{"CancellationReason", []string{"PATIENT_DECEASED", "CLINICAL_CHANGE", "RETURN_HOME", "OTHER_ORIENTATION", "PATIENT_REFUSAL", "ADMITTED_ELSEWHERE", "DUPLICATE_OR_ERROR", "OTHER"}},
	{"NotAdmittedReason", []string{"PATIENT_DECEASED", "CLINICAL_CHANGE", "PATIENT_REFUSAL", "ADMITTED_ELSEWHERE", "OTHER"}},
	{"AnswerDecision", []string{"ACCEPT", "ACCEPT_WITH_RESERVATION", "REFUSE"}},
	{"CorrectedField", []string{"URGENCY", "DESIRED_ADMISSION_DATE", "PATIENT_BIRTH_NAME", "PATIENT_USED_NAME", "PATIENT_FIRST_NAME", "PATIENT_BIRTH_DATE", "PATIENT_BIRTH_PLACE", "PATIENT_SEX", "PATIENT_INS"}},
	{"EventType", []string{"REQUEST_CREATED", "SECTION_UPDATED", "MEDICAL_VALIDATED", "REQUEST_SENT", "DISPATCH_READ", "INFORMATION_REQUESTED", "MESSAGE_POSTED", "DISPATCH_ACCEPTED", "DISPATCH_REFUSED", "DISPATCH_CONFIRMED", "DISPATCH_WITHDRAWN", "REQUEST_CANCELLED", "PATIENT_ADMITTED", "PATIENT_NOT_ADMITTED", "REQUEST_UPDATED", "REQUEST_ARCHIVED"}},
}
