-- Create "patient_versions" table
CREATE TABLE `patient_versions` (`id` uuid NOT NULL, `request_id` uuid NOT NULL, `patient_id` uuid NOT NULL, `superseded_at` datetime NOT NULL, `superseded_by_id` uuid NOT NULL, `content` json NOT NULL, PRIMARY KEY (`id`));
-- Create index "patientversion_request_id_superseded_at" to table: "patient_versions"
CREATE INDEX `patientversion_request_id_superseded_at` ON `patient_versions` (`request_id`, `superseded_at`);
