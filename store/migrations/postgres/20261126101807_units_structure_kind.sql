-- Create index "unit_structure_id_kind" to table: "units"
CREATE INDEX "unit_structure_id_kind" ON "units" ("structure_id", "kind");
