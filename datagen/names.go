package datagen

// Fictional reference data: names, places and clinical texts the generator
// draws from. Every person is made up; places only give the data a French
// shape (départements, regions, rough populations).

// department is one French département: its code, region and a rough
// population weight (millions of inhabitants), which sizes its share of
// structures, units and requests in the "france" preset.
type department struct {
	Code   string
	Region string
	Weight float64
	Cities []string
}

var idfDepartments = []department{
	{"75", "IDF", 2.1, []string{"Paris"}},
	{"77", "IDF", 1.4, []string{"Meaux", "Melun", "Chelles", "Pontault-Combault", "Fontainebleau", "Provins"}},
	{"78", "IDF", 1.45, []string{"Versailles", "Saint-Germain-en-Laye", "Poissy", "Rambouillet", "Trappes", "Mantes-la-Jolie"}},
	{"91", "IDF", 1.3, []string{"Évry-Courcouronnes", "Massy", "Longjumeau", "Étampes", "Orsay", "Juvisy-sur-Orge"}},
	{"92", "IDF", 1.6, []string{"Nanterre", "Boulogne-Billancourt", "Clamart", "Neuilly-sur-Seine", "Colombes", "Antony"}},
	{"93", "IDF", 1.65, []string{"Saint-Denis", "Montreuil", "Aubervilliers", "Bobigny", "Aulnay-sous-Bois", "Montfermeil"}},
	{"94", "IDF", 1.4, []string{"Créteil", "Vitry-sur-Seine", "Villejuif", "Saint-Maurice", "Champigny-sur-Marne", "Kremlin-Bicêtre"}},
	{"95", "IDF", 1.25, []string{"Cergy", "Argenteuil", "Pontoise", "Gonesse", "Eaubonne", "Sarcelles"}},
}

// otherDepartments completes metropolitan and overseas France (the
// "france" preset). Weights are rounded populations in millions.
var otherDepartments = []department{
	{"01", "ARA", 0.66, nil}, {"03", "ARA", 0.33, nil}, {"07", "ARA", 0.33, nil}, {"15", "ARA", 0.14, nil},
	{"26", "ARA", 0.52, nil}, {"38", "ARA", 1.27, nil}, {"42", "ARA", 0.77, nil}, {"43", "ARA", 0.23, nil},
	{"63", "ARA", 0.66, nil}, {"69", "ARA", 1.9, nil}, {"73", "ARA", 0.44, nil}, {"74", "ARA", 0.84, nil},
	{"21", "BFC", 0.54, nil}, {"25", "BFC", 0.54, nil}, {"39", "BFC", 0.26, nil}, {"58", "BFC", 0.2, nil},
	{"70", "BFC", 0.23, nil}, {"71", "BFC", 0.55, nil}, {"89", "BFC", 0.33, nil}, {"90", "BFC", 0.14, nil},
	{"22", "BRE", 0.6, nil}, {"29", "BRE", 0.92, nil}, {"35", "BRE", 1.1, nil}, {"56", "BRE", 0.77, nil},
	{"18", "CVL", 0.3, nil}, {"28", "CVL", 0.43, nil}, {"36", "CVL", 0.22, nil}, {"37", "CVL", 0.61, nil},
	{"41", "CVL", 0.33, nil}, {"45", "CVL", 0.68, nil},
	{"2A", "COR", 0.16, nil}, {"2B", "COR", 0.18, nil},
	{"08", "GES", 0.27, nil}, {"10", "GES", 0.31, nil}, {"51", "GES", 0.57, nil}, {"52", "GES", 0.17, nil},
	{"54", "GES", 0.73, nil}, {"55", "GES", 0.18, nil}, {"57", "GES", 1.05, nil}, {"67", "GES", 1.14, nil},
	{"68", "GES", 0.77, nil}, {"88", "GES", 0.36, nil},
	{"02", "HDF", 0.53, nil}, {"59", "HDF", 2.6, nil}, {"60", "HDF", 0.83, nil}, {"62", "HDF", 1.46, nil},
	{"80", "HDF", 0.57, nil},
	{"14", "NOR", 0.7, nil}, {"27", "NOR", 0.6, nil}, {"50", "NOR", 0.5, nil}, {"61", "NOR", 0.28, nil},
	{"76", "NOR", 1.25, nil},
	{"16", "NAQ", 0.35, nil}, {"17", "NAQ", 0.66, nil}, {"19", "NAQ", 0.24, nil}, {"23", "NAQ", 0.12, nil},
	{"24", "NAQ", 0.41, nil}, {"33", "NAQ", 1.65, nil}, {"40", "NAQ", 0.42, nil}, {"47", "NAQ", 0.33, nil},
	{"64", "NAQ", 0.69, nil}, {"79", "NAQ", 0.38, nil}, {"86", "NAQ", 0.44, nil}, {"87", "NAQ", 0.37, nil},
	{"09", "OCC", 0.15, nil}, {"11", "OCC", 0.38, nil}, {"12", "OCC", 0.28, nil}, {"30", "OCC", 0.76, nil},
	{"31", "OCC", 1.42, nil}, {"32", "OCC", 0.19, nil}, {"34", "OCC", 1.2, nil}, {"46", "OCC", 0.17, nil},
	{"48", "OCC", 0.08, nil}, {"65", "OCC", 0.23, nil}, {"66", "OCC", 0.48, nil}, {"81", "OCC", 0.39, nil},
	{"82", "OCC", 0.26, nil},
	{"44", "PDL", 1.45, nil}, {"49", "PDL", 0.82, nil}, {"53", "PDL", 0.31, nil}, {"72", "PDL", 0.57, nil},
	{"85", "PDL", 0.69, nil},
	{"04", "PAC", 0.16, nil}, {"05", "PAC", 0.14, nil}, {"06", "PAC", 1.1, nil}, {"13", "PAC", 2.04, nil},
	{"83", "PAC", 1.08, nil}, {"84", "PAC", 0.56, nil},
	{"971", "GUA", 0.38, nil}, {"972", "MTQ", 0.35, nil}, {"973", "GUY", 0.29, nil}, {"974", "REU", 0.87, nil},
	{"976", "MAY", 0.3, nil},
}

// genericCities name places outside Île-de-France (no real geography is implied).
var genericCities = []string{
	"Saint-Martin", "Beaulieu", "Villeneuve", "Montfort", "Bellevue", "Châteauneuf", "Fontaine",
	"Clairvaux", "Roche-Blanche", "Val-Fleuri", "Pont-Neuf", "Mont-Joli", "Sainte-Claire", "Lavaur",
	"Les Aubiers", "Bois-Colombe", "Champfleury", "Riviera", "Beauséjour", "Saint-Jacques",
}

var lastNames = []string{
	"Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau", "Laurent",
	"Simon", "Michel", "Lefebvre", "Leroy", "Roux", "David", "Bertrand", "Morel", "Fournier", "Girard",
	"Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent", "Muller", "Lefèvre", "Faure", "André",
	"Mercier", "Blanc", "Guérin", "Boyer", "Garnier", "Chevalier", "François", "Legrand", "Gauthier", "Garcia",
	"Perrin", "Robin", "Clément", "Morin", "Nicolas", "Henry", "Roussel", "Mathieu", "Gautier", "Masson",
	"Marchand", "Duval", "Denis", "Dumont", "Marie", "Lemaire", "Noël", "Meyer", "Dufour", "Meunier",
	"Brun", "Blanchard", "Giraud", "Joly", "Rivière", "Lucas", "Brunet", "Gaillard", "Barbier", "Arnaud",
	"Benali", "Haddad", "Nguyen", "Diallo", "Traoré", "Da Silva", "Pereira", "Kaci", "Cohen", "Lévy",
}

var femaleFirstNames = []string{
	"Jeanne", "Marie", "Monique", "Françoise", "Jacqueline", "Simone", "Yvette", "Colette", "Denise", "Paulette",
	"Suzanne", "Madeleine", "Odette", "Germaine", "Josette", "Nicole", "Christiane", "Micheline", "Gisèle", "Hélène",
	"Sylvie", "Catherine", "Martine", "Brigitte", "Isabelle", "Nathalie", "Fatima", "Élise", "Claire", "Anne",
}

var maleFirstNames = []string{
	"Jean", "Pierre", "Michel", "André", "Jacques", "Bernard", "René", "Marcel", "Roger", "Claude",
	"Robert", "Georges", "Henri", "Louis", "Paul", "Maurice", "Gérard", "Daniel", "Alain", "Philippe",
	"Patrick", "Christian", "Serge", "François", "Mohamed", "Ahmed", "Yves", "Guy", "Lucien", "Raymond",
}

var streetNames = []string{
	"rue des Lilas", "avenue de la République", "rue Victor-Hugo", "boulevard Voltaire", "rue Jean-Jaurès",
	"rue de la Paix", "allée des Tilleuls", "rue Pasteur", "avenue du Général-Leclerc", "rue des Écoles",
	"place de la Mairie", "rue du Moulin", "chemin des Vignes", "rue Gambetta", "impasse des Roses",
}

var diagnoses = []string{
	"Adénocarcinome pancréatique métastatique",
	"Cancer bronchique non à petites cellules, stade IV",
	"Cancer du sein métastatique (os, foie)",
	"Cancer colorectal avec carcinose péritonéale",
	"Glioblastome en progression",
	"Cancer de la prostate résistant à la castration, métastases osseuses",
	"Cancer de l'ovaire en rechute, occlusion",
	"Hépatocarcinome sur cirrhose",
	"Sclérose latérale amyotrophique évoluée",
	"Insuffisance cardiaque terminale",
	"Insuffisance respiratoire chronique terminale (BPCO)",
	"Maladie de Parkinson évoluée, troubles de déglutition",
	"Démence évoluée avec altération de l'état général",
	"Cancer ORL en progression locorégionale",
	"Leucémie aiguë en échec thérapeutique",
	"Insuffisance rénale terminale, arrêt de la dialyse",
}

var histories = []string{
	"HTA, diabète de type 2", "Antécédent d'AVC ischémique", "BPCO, tabagisme sevré", "Fibrillation atriale anticoagulée",
	"Aucun antécédent notable", "Cardiopathie ischémique", "Chimiothérapies successives, arrêt décidé en RCP",
}

var treatments = []string{
	"Oxycodone LP 20 mg x2/j, interdoses", "Morphine PCA, midazolam si besoin", "Fentanyl transdermique 25 µg/h",
	"Paracétamol, corticoïdes", "Scopolamine, oxygène 2 L/min", "Antiémétiques, octréotide",
}

var careTexts = []string{
	"Aide totale pour la toilette", "Aide partielle aux transferts", "Alimentation plaisir",
	"Escarre sacrée stade 2", "Soins de bouche pluriquotidiens", "Pansement de stomie",
}

var infoQuestions = []string{
	"Une PCA est-elle en place ?", "Le patient est-il informé de l'orientation en USP ?",
	"Pouvez-vous préciser le traitement antalgique actuel ?", "Y a-t-il une BMR ?",
	"La famille est-elle d'accord avec le projet ?", "Quel est le dernier bilan biologique ?",
}

var replies = []string{
	"Oui, PCA de morphine depuis hier.", "Le patient est informé et d'accord.", "Pas de BMR connue.",
	"Bilan joint au dossier, transfert possible dès demain.", "La famille a été rencontrée ce matin.",
}

var answerComments = []string{
	"Lit disponible en fin de semaine", "Accord après discussion en staff", "Sous réserve d'un lit libéré jeudi",
	"Pas de lit avant 10 jours", "Hors secteur : orientation vers l'USP de proximité", "Relève plutôt d'une EMSP à domicile",
}
