-- Create "notifications" table
CREATE TABLE `notifications` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `key` text NOT NULL, `email` text NOT NULL, `subject` text NOT NULL, `body` text NOT NULL, `created_at` datetime NOT NULL, `next_attempt_at` datetime NOT NULL, `attempts` integer NOT NULL DEFAULT (0), `sent_at` datetime NULL, `failed_at` datetime NULL, `last_error` text NULL, `user_id` uuid NOT NULL, CONSTRAINT `notifications_users_user` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION);
-- Create index "notifications_key_key" to table: "notifications"
CREATE UNIQUE INDEX `notifications_key_key` ON `notifications` (`key`);
-- Create index "notification_sent_at_failed_at_next_attempt_at" to table: "notifications"
CREATE INDEX `notification_sent_at_failed_at_next_attempt_at` ON `notifications` (`sent_at`, `failed_at`, `next_attempt_at`);
-- Create "notification_cursors" table
CREATE TABLE `notification_cursors` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `event_id` integer NOT NULL, `updated_at` datetime NOT NULL);
