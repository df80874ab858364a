-- Create "access_logs" table
CREATE TABLE `access_logs` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `user_id` uuid NOT NULL, `request_id` uuid NOT NULL, `dispatch_id` uuid NULL, `kind` text NOT NULL, `accessed_at` datetime NOT NULL);
-- Create index "accesslog_request_id_accessed_at" to table: "access_logs"
CREATE INDEX `accesslog_request_id_accessed_at` ON `access_logs` (`request_id`, `accessed_at`);
-- Create "admin_social_sections" table
CREATE TABLE `admin_social_sections` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `state` text NOT NULL DEFAULT ('EMPTY'), `last_edited_at` datetime NULL, `last_edited_by_id` uuid NULL, `address` text NULL, `postal_code` text NULL, `city` text NULL, `health_cover` text NULL, `legal_protection` text NULL, `living_situation` text NULL, `caregivers` text NULL, `person_to_notify` text NULL, `trusted_person` text NULL, `social_worker` text NULL, `geographic_preference` text NULL, `request_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `admin_social_sections_admission_requests_admin_social` FOREIGN KEY (`request_id`) REFERENCES `admission_requests` (`id`) ON DELETE NO ACTION);
-- Create index "admin_social_sections_request_id_key" to table: "admin_social_sections"
CREATE UNIQUE INDEX `admin_social_sections_request_id_key` ON `admin_social_sections` (`request_id`);
-- Create "admission_requests" table
CREATE TABLE `admission_requests` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `reference` text NOT NULL, `status` text NOT NULL DEFAULT ('DRAFT'), `urgency` text NOT NULL, `desired_admission_date` datetime NULL, `version` integer NOT NULL DEFAULT (1), `sent_at` datetime NULL, `confirmed_at` datetime NULL, `admitted_at` datetime NULL, `cancelled_at` datetime NULL, `cancellation_reason` text NULL, `cancellation_comment` text NULL, `archived_at` datetime NULL, `duplicate_key` text NULL, `created_by_id` uuid NOT NULL, `patient_id` uuid NOT NULL, `origin_structure_id` uuid NOT NULL, `origin_unit_id` uuid NULL, PRIMARY KEY (`id`), CONSTRAINT `admission_requests_users_created_by` FOREIGN KEY (`created_by_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION, CONSTRAINT `admission_requests_patients_patient` FOREIGN KEY (`patient_id`) REFERENCES `patients` (`id`) ON DELETE NO ACTION, CONSTRAINT `admission_requests_structures_requests` FOREIGN KEY (`origin_structure_id`) REFERENCES `structures` (`id`) ON DELETE NO ACTION, CONSTRAINT `admission_requests_units_origin_requests` FOREIGN KEY (`origin_unit_id`) REFERENCES `units` (`id`) ON DELETE SET NULL);
-- Create index "admission_requests_reference_key" to table: "admission_requests"
CREATE UNIQUE INDEX `admission_requests_reference_key` ON `admission_requests` (`reference`);
-- Create index "admissionrequest_origin_structure_id_created_at" to table: "admission_requests"
CREATE INDEX `admissionrequest_origin_structure_id_created_at` ON `admission_requests` (`origin_structure_id`, `created_at`);
-- Create index "admissionrequest_duplicate_key_status" to table: "admission_requests"
CREATE INDEX `admissionrequest_duplicate_key_status` ON `admission_requests` (`duplicate_key`, `status`);
-- Create index "admissionrequest_status_updated_at" to table: "admission_requests"
CREATE INDEX `admissionrequest_status_updated_at` ON `admission_requests` (`status`, `updated_at`);
-- Create "care_project_sections" table
CREATE TABLE `care_project_sections` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `state` text NOT NULL DEFAULT ('EMPTY'), `last_edited_at` datetime NULL, `last_edited_by_id` uuid NULL, `dependence` text NULL, `dependence_washing` text NULL, `dependence_mobility` text NULL, `dependence_continence` text NULL, `dependence_eating` text NULL, `wounds` text NULL, `nutrition_route` text NULL, `technical_care` text NULL, `psychological_needs` text NULL, `social_needs` text NULL, `spiritual_needs` text NULL, `emsp_involved` bool NULL, `had_involved` bool NULL, `teams_involved` text NULL, `stay_goal` text NULL, `life_project` text NULL, `return_home_possible` bool NULL, `request_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `care_project_sections_admission_requests_care_project` FOREIGN KEY (`request_id`) REFERENCES `admission_requests` (`id`) ON DELETE NO ACTION);
-- Create index "care_project_sections_request_id_key" to table: "care_project_sections"
CREATE UNIQUE INDEX `care_project_sections_request_id_key` ON `care_project_sections` (`request_id`);
-- Create "dispatches" table
CREATE TABLE `dispatches` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `status` text NOT NULL DEFAULT ('PENDING'), `urgency` text NOT NULL, `sent_at` datetime NOT NULL, `read_at` datetime NULL, `answered_at` datetime NULL, `refusal_reason` text NULL, `answer_comment` text NULL, `proposed_admission_date` datetime NULL, `information_question` text NULL, `confirmed_at` datetime NULL, `withdrawn_at` datetime NULL, `closed_at` datetime NULL, `admitted_at` datetime NULL, `not_admitted_reason` text NULL, `updated_since_read` bool NOT NULL DEFAULT (false), `request_id` uuid NOT NULL, `unit_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `dispatches_admission_requests_dispatches` FOREIGN KEY (`request_id`) REFERENCES `admission_requests` (`id`) ON DELETE NO ACTION, CONSTRAINT `dispatches_units_dispatches` FOREIGN KEY (`unit_id`) REFERENCES `units` (`id`) ON DELETE NO ACTION);
-- Create index "dispatch_request_id_unit_id" to table: "dispatches"
CREATE UNIQUE INDEX `dispatch_request_id_unit_id` ON `dispatches` (`request_id`, `unit_id`);
-- Create index "dispatch_one_confirmed_per_request" to table: "dispatches"
CREATE UNIQUE INDEX `dispatch_one_confirmed_per_request` ON `dispatches` (`request_id`) WHERE status IN ('CONFIRMED', 'ADMITTED', 'NOT_ADMITTED');
-- Create index "dispatch_unit_id_sent_at" to table: "dispatches"
CREATE INDEX `dispatch_unit_id_sent_at` ON `dispatches` (`unit_id`, `sent_at`);
-- Create "events" table
CREATE TABLE `events` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `type` text NOT NULL, `occurred_at` datetime NOT NULL, `unit_id` uuid NULL, `from_status` text NULL, `to_status` text NULL, `reason` text NULL, `section` text NULL, `request_id` uuid NOT NULL, `dispatch_id` uuid NULL, `actor_id` uuid NULL, CONSTRAINT `events_admission_requests_events` FOREIGN KEY (`request_id`) REFERENCES `admission_requests` (`id`) ON DELETE NO ACTION, CONSTRAINT `events_dispatches_dispatch` FOREIGN KEY (`dispatch_id`) REFERENCES `dispatches` (`id`) ON DELETE SET NULL, CONSTRAINT `events_users_actor` FOREIGN KEY (`actor_id`) REFERENCES `users` (`id`) ON DELETE SET NULL);
-- Create index "event_request_id_id" to table: "events"
CREATE INDEX `event_request_id_id` ON `events` (`request_id`, `id`);
-- Create index "event_unit_id_id" to table: "events"
CREATE INDEX `event_unit_id_id` ON `events` (`unit_id`, `id`);
-- Create index "event_type_occurred_at" to table: "events"
CREATE INDEX `event_type_occurred_at` ON `events` (`type`, `occurred_at`);
-- Create "habilitations" table
CREATE TABLE `habilitations` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `profile` text NOT NULL, `valid_from` datetime NOT NULL, `valid_until` datetime NOT NULL, `revoked_at` datetime NULL, `revoked_by` uuid NULL, `granted_by` uuid NULL, `email_notifications` bool NOT NULL DEFAULT (false), `structure_id` uuid NOT NULL, `unit_id` uuid NULL, `user_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `habilitations_structures_habilitations` FOREIGN KEY (`structure_id`) REFERENCES `structures` (`id`) ON DELETE NO ACTION, CONSTRAINT `habilitations_units_habilitations` FOREIGN KEY (`unit_id`) REFERENCES `units` (`id`) ON DELETE SET NULL, CONSTRAINT `habilitations_users_habilitations` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION);
-- Create index "habilitation_user_id_valid_until" to table: "habilitations"
CREATE INDEX `habilitation_user_id_valid_until` ON `habilitations` (`user_id`, `valid_until`);
-- Create index "habilitation_structure_id_profile" to table: "habilitations"
CREATE INDEX `habilitation_structure_id_profile` ON `habilitations` (`structure_id`, `profile`);
-- Create "medical_sections" table
CREATE TABLE `medical_sections` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `state` text NOT NULL DEFAULT ('EMPTY'), `last_edited_at` datetime NULL, `last_edited_by_id` uuid NULL, `diagnosis` text NULL, `history` text NULL, `current_treatments` text NULL, `allergies` text NULL, `pps_score` integer NULL, `pallia10` json NULL, `prognosis` text NULL, `pain` text NULL, `dyspnea` text NULL, `nausea` text NULL, `occlusion` text NULL, `confusion_agitation` text NULL, `anxiety` text NULL, `haemorrhagic_risk` bool NULL, `sedation` text NULL, `patient_informed_of_diagnosis` text NULL, `patient_informed_of_prognosis` text NULL, `patient_informed_of_usp` bool NULL, `patient_agrees_to_usp` bool NULL, `patient_wishes` text NULL, `family_wishes` text NULL, `advance_directives` bool NULL, `advance_directives_location` text NULL, `trusted_person_designated` bool NULL, `treatment_limitation` text NULL, `isolation_required` bool NULL, `isolation_details` text NULL, `picc_line` bool NULL, `pca_pump` bool NULL, `stoma` bool NULL, `oxygen` bool NULL, `tracheostomy` bool NULL, `other_devices` text NULL, `validated_at` datetime NULL, `validation_removed_at` datetime NULL, `request_id` uuid NOT NULL, `validated_by_id` uuid NULL, `validation_removed_by_id` uuid NULL, PRIMARY KEY (`id`), CONSTRAINT `medical_sections_admission_requests_medical` FOREIGN KEY (`request_id`) REFERENCES `admission_requests` (`id`) ON DELETE NO ACTION, CONSTRAINT `medical_sections_users_validated_by` FOREIGN KEY (`validated_by_id`) REFERENCES `users` (`id`) ON DELETE SET NULL, CONSTRAINT `medical_sections_users_validation_removed_by` FOREIGN KEY (`validation_removed_by_id`) REFERENCES `users` (`id`) ON DELETE SET NULL);
-- Create index "medical_sections_request_id_key" to table: "medical_sections"
CREATE UNIQUE INDEX `medical_sections_request_id_key` ON `medical_sections` (`request_id`);
-- Create "messages" table
CREATE TABLE `messages` (`id` uuid NOT NULL, `from_receiver` bool NOT NULL, `body` text NOT NULL, `created_at` datetime NOT NULL, `dispatch_id` uuid NOT NULL, `author_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `messages_dispatches_messages` FOREIGN KEY (`dispatch_id`) REFERENCES `dispatches` (`id`) ON DELETE NO ACTION, CONSTRAINT `messages_users_author` FOREIGN KEY (`author_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION);
-- Create "patients" table
CREATE TABLE `patients` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `birth_name` text NOT NULL, `used_name` text NULL, `first_name` text NOT NULL, `birth_date` datetime NOT NULL, `birth_place` text NULL, `sex` text NOT NULL, `ins` text NULL, PRIMARY KEY (`id`));
-- Create "reference_counters" table
CREATE TABLE `reference_counters` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `last` integer NOT NULL DEFAULT (0));
-- Create "sessions" table
CREATE TABLE `sessions` (`id` uuid NOT NULL, `token_hash` blob NOT NULL, `created_at` datetime NOT NULL, `expires_at` datetime NOT NULL, `last_seen_at` datetime NOT NULL, `revoked_at` datetime NULL, `client_address` text NULL, `user_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `sessions_users_sessions` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION);
-- Create index "sessions_token_hash_key" to table: "sessions"
CREATE UNIQUE INDEX `sessions_token_hash_key` ON `sessions` (`token_hash`);
-- Create "structures" table
CREATE TABLE `structures` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `finess` text NOT NULL, `name` text NOT NULL, `kind` text NOT NULL, `department` text NOT NULL, `address` text NULL, `postal_code` text NULL, `city` text NULL, `phone` text NULL, `email` text NULL, `contacts` text NULL, PRIMARY KEY (`id`));
-- Create index "structures_finess_key" to table: "structures"
CREATE UNIQUE INDEX `structures_finess_key` ON `structures` (`finess`);
-- Create "units" table
CREATE TABLE `units` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `kind` text NOT NULL, `capacity` integer NULL, `available_beds` integer NULL, `available_beds_updated_at` datetime NULL, `available_beds_updated_by` uuid NULL, `accepting_requests` bool NOT NULL DEFAULT (false), `admission_criteria` text NULL, `admission_hours` text NULL, `contacts` text NULL, `structure_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `units_structures_units` FOREIGN KEY (`structure_id`) REFERENCES `structures` (`id`) ON DELETE NO ACTION);
-- Create index "unit_kind_accepting_requests" to table: "units"
CREATE INDEX `unit_kind_accepting_requests` ON `units` (`kind`, `accepting_requests`);
-- Create "users" table
CREATE TABLE `users` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `email` text NOT NULL, `first_name` text NOT NULL, `last_name` text NOT NULL, `profession` text NULL, `phone` text NULL, `rpps` text NULL, `password_hash` text NULL, `password_changed_at` datetime NULL, `setup_token_hash` text NULL, `setup_token_expires_at` datetime NULL, `disabled` bool NOT NULL DEFAULT (false), `disabled_at` datetime NULL, `demo` bool NOT NULL DEFAULT (false), PRIMARY KEY (`id`));
-- Create index "users_email_key" to table: "users"
CREATE UNIQUE INDEX `users_email_key` ON `users` (`email`);
-- Create index "users_setup_token_hash_key" to table: "users"
CREATE UNIQUE INDEX `users_setup_token_hash_key` ON `users` (`setup_token_hash`);
