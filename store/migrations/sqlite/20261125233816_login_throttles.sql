-- Create "login_throttles" table
CREATE TABLE `login_throttles` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `key` text NOT NULL, `failures` integer NOT NULL DEFAULT (0), `last_failure_at` datetime NOT NULL, `locked_until` datetime NULL);
-- Create index "login_throttles_key_key" to table: "login_throttles"
CREATE UNIQUE INDEX `login_throttles_key_key` ON `login_throttles` (`key`);
-- Create index "loginthrottle_last_failure_at" to table: "login_throttles"
CREATE INDEX `loginthrottle_last_failure_at` ON `login_throttles` (`last_failure_at`);
