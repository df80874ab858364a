package store

import "testing"

func TestCountStar(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"SELECT COUNT(`dispatches`.`id`) FROM `dispatches` WHERE `dispatches`.`unit_id` IN (?)",
			"SELECT COUNT(*) FROM `dispatches` WHERE `dispatches`.`unit_id` IN (?)"},
		{`SELECT COUNT("admission_requests"."id") FROM "admission_requests" WHERE "admission_requests"."origin_structure_id" IN ($1)`,
			`SELECT COUNT(*) FROM "admission_requests" WHERE "admission_requests"."origin_structure_id" IN ($1)`},
		{"SELECT COUNT(`events`.`id`) FROM `events`", "SELECT COUNT(*) FROM `events`"},
		// Left alone: distinct counts, another table's key, another column,
		// joins that could add rows without the key, and everything else.
		{"SELECT COUNT(DISTINCT `dispatches`.`id`) FROM `dispatches`", ""},
		{"SELECT COUNT(`units`.`id`) FROM `dispatches` JOIN `units` ON 1", ""},
		{"SELECT COUNT(`dispatches`.`unit_id`) FROM `dispatches`", ""},
		{"SELECT COUNT(`dispatches`.`id`) FROM `dispatches` RIGHT JOIN `units` AS `t1` ON `t1`.`id` = `dispatches`.`unit_id`", ""},
		{`SELECT COUNT("dispatches"."id") FROM "dispatches" full join "units" ON true`, ""},
		{"SELECT `dispatches`.`id` FROM `dispatches` LIMIT 1", ""},
		{"INSERT INTO `access_logs` (`kind`) VALUES (?)", ""},
	} {
		want := c.want
		if want == "" {
			want = c.in
		}
		if got := countStar(c.in); got != want {
			t.Errorf("countStar(%q)\n got %q\nwant %q", c.in, got, want)
		}
	}
}
