-- Create index "dispatch_unit_id" to table: "dispatches"
CREATE INDEX "dispatch_unit_id" ON "dispatches" ("unit_id");
