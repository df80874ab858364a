package store

import (
	"context"
	"database/sql"
	"testing"
)

func BenchmarkTmpPage(b *testing.B) {
	db, err := sql.Open("sqlite3", SQLiteDSN("/tmp/idf/passerelle.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	U := "263c1592-1b12-4eb2-986e-a3a74fac2b7a"
	qs := map[string]string{
		"rules": "SELECT `t0`.`id`, `t0`.`status`, `t0`.`sent_at`, `t1`.`id`, `t1`.`reference`, `t1`.`urgency`, `t2`.`id`, `t2`.`birth_name`, `t2`.`first_name`, `t2`.`birth_date` FROM `dispatches` AS `t0` LEFT JOIN `admission_requests` AS `t1` ON `t1`.`id` = `t0`.`request_id` AND EXISTS (SELECT `dispatches`.`request_id` FROM `dispatches` WHERE `t1`.`id` = `dispatches`.`request_id` AND `dispatches`.`unit_id` IN (?1)) LEFT JOIN `patients` AS `t2` ON `t2`.`id` = `t1`.`patient_id` AND EXISTS (SELECT `admission_requests`.`patient_id` FROM `admission_requests` WHERE `t2`.`id` = `admission_requests`.`patient_id` AND EXISTS (SELECT `dispatches`.`request_id` FROM `dispatches` WHERE `admission_requests`.`id` = `dispatches`.`request_id` AND `dispatches`.`unit_id` IN (?1))) WHERE `t0`.`unit_id` IN (?1) ORDER BY `t0`.`sent_at` DESC, `t0`.`id` LIMIT 51",
		"norules": "SELECT `t0`.`id`, `t0`.`status`, `t0`.`sent_at`, `t1`.`id`, `t1`.`reference`, `t1`.`urgency`, `t2`.`id`, `t2`.`birth_name`, `t2`.`first_name`, `t2`.`birth_date` FROM `dispatches` AS `t0` LEFT JOIN `admission_requests` AS `t1` ON `t1`.`id` = `t0`.`request_id` LEFT JOIN `patients` AS `t2` ON `t2`.`id` = `t1`.`patient_id` WHERE `t0`.`unit_id` IN (?1) ORDER BY `t0`.`sent_at` DESC, `t0`.`id` LIMIT 51",
		"baseline": "SELECT d.id, d.status, d.sent_at, r.id, r.reference, r.urgency, p.birth_name, p.first_name, p.birth_date FROM dispatches d JOIN admission_requests r ON r.id = d.request_id JOIN patients p ON p.id = r.patient_id WHERE d.unit_id = ?1 ORDER BY d.sent_at DESC, d.id DESC LIMIT 51",
	}
	for name, q := range qs {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				rows, err := db.QueryContext(ctx, q, U)
				if err != nil {
					b.Fatal(err)
				}
				cols, _ := rows.Columns()
				vals := make([]any, len(cols))
				for i := range vals {
					vals[i] = new(any)
				}
				n := 0
				for rows.Next() {
					rows.Scan(vals...)
					n++
				}
				rows.Close()
				if n != 51 {
					b.Fatal("rows", n)
				}
			}
		})
	}
}
