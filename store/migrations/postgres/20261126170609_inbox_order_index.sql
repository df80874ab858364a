-- Drop index "dispatch_unit_id_sent_at_id_request_id" from table: "dispatches"
DROP INDEX "dispatch_unit_id_sent_at_id_request_id";
-- Create index "dispatch_unit_id_sent_at_id_request_id" to table: "dispatches"
CREATE INDEX "dispatch_unit_id_sent_at_id_request_id" ON "dispatches" ("unit_id", "sent_at" DESC, "id", "request_id");
