-- Create "section_versions" table
CREATE TABLE `section_versions` (`id` uuid NOT NULL, `request_id` uuid NOT NULL, `kind` text NOT NULL, `updated_at` datetime NOT NULL, `superseded_at` datetime NOT NULL, `content` json NOT NULL, PRIMARY KEY (`id`));
-- Create index "sectionversion_request_id_kind_updated_at" to table: "section_versions"
CREATE UNIQUE INDEX `sectionversion_request_id_kind_updated_at` ON `section_versions` (`request_id`, `kind`, `updated_at`);
