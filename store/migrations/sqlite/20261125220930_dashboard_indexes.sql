-- Drop index "admissionrequest_origin_structure_id_created_at" from table: "admission_requests"
DROP INDEX `admissionrequest_origin_structure_id_created_at`;
-- Create index "admissionrequest_origin_structure_id_created_at_id" to table: "admission_requests"
CREATE INDEX `admissionrequest_origin_structure_id_created_at_id` ON `admission_requests` (`origin_structure_id`, `created_at`, `id`);
-- Create index "admissionrequest_patient_id" to table: "admission_requests"
CREATE INDEX `admissionrequest_patient_id` ON `admission_requests` (`patient_id`);
-- Drop index "dispatch_unit_id_sent_at" from table: "dispatches"
DROP INDEX `dispatch_unit_id_sent_at`;
-- Create index "dispatch_unit_id_sent_at_id_request_id" to table: "dispatches"
CREATE INDEX `dispatch_unit_id_sent_at_id_request_id` ON `dispatches` (`unit_id`, `sent_at`, `id`, `request_id`);
