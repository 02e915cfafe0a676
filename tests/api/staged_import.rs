//! Large settlement files on SQLite are staged in short transactions and published by one
//! short commit (issue 19 part 5): what is published is all of the file, what fails leaves
//! nothing, an import whose process died is removed, and published records stay append-only.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use onecard::auth::Role;
use onecard::db::schema::{settlement_file_stages, settlement_files, settlement_records};
use onecard::db::DbConn;

use crate::support::{spawn_app, TestApp};

/// A POS file of `rows` identical purchases (several staging chunks), trailer agreeing.
fn pos_file(rows: i64) -> Vec<u8> {
    let mut big = String::new();
    big.push_str("H89844037993000120261124");
    big.push_str(&format!("{:<40}", "LOAD TEST MERCHANT"));
    big.push_str("156000318\r\n");
    for i in 0..rows {
        big.push_str(&format!(
            "D1124093015110020010000010{:05}{:012}890123622848******0123   01S001000000020000+0000000012+000000019988{:32}\r\n",
            i % 100_000,
            i,
            ""
        ));
    }
    big.push_str(&format!(
        "T{:08}{:016}{:016}+{:016}\r\n",
        rows,
        20_000 * rows,
        0,
        19_988 * rows
    ));
    big.into_bytes()
}

fn count_rows(app: &TestApp) -> (i64, i64, i64) {
    let mut conn = app.ctx.conn().expect("conn");
    let conn: &mut DbConn = &mut conn;
    (
        settlement_files::table
            .count()
            .get_result(conn)
            .expect("count"),
        settlement_records::table
            .count()
            .get_result(conn)
            .expect("count"),
        settlement_file_stages::table
            .count()
            .get_result(conn)
            .expect("count"),
    )
}

#[actix_web::test]
async fn a_large_file_is_published_whole_and_once() {
    let app = spawn_app().await;
    let rows = 9_000;
    let bytes = pos_file(rows);
    let (status, body) = app
        .upload(
            Role::Finance,
            "spec=pos-settlement-fixed-width",
            bytes.clone(),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["records"], rows);
    assert_eq!(count_rows(&app), (1, rows, 0), "all of it, no stage left");
    let (status, again) = app
        .upload(Role::Finance, "spec=pos-settlement-fixed-width", bytes)
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["duplicate"], true);
    assert_eq!(count_rows(&app), (1, rows, 0));
    app.stop().await;
}

#[actix_web::test]
async fn a_large_file_failing_at_its_end_leaves_nothing_staged() {
    let app = spawn_app().await;
    let mut bytes = pos_file(9_000);
    // the trailer replaced by a line of no known kind: read after every chunk was staged
    let cut = bytes.len() - 60;
    bytes.truncate(cut);
    bytes.extend_from_slice(b"X\r\n");
    let (status, body) = app
        .upload(Role::Finance, "spec=pos-settlement-fixed-width", bytes)
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["line"], 9_002, "{body}");
    assert_eq!(count_rows(&app), (0, 0, 0));
    app.stop().await;
}

#[actix_web::test]
async fn an_abandoned_import_is_removed_and_published_records_stay() {
    let app = spawn_app().await;
    if app.db.is_postgres() {
        // PostgreSQL imports in one transaction: nothing is ever staged there
        app.stop().await;
        return;
    }
    let (status, body) = app
        .upload(
            Role::Finance,
            "spec=pos-settlement-fixed-width",
            pos_file(10),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let published = body["id"].as_str().expect("id").to_string();
    let mut conn = app.ctx.conn().expect("conn");
    let conn: &mut DbConn = &mut conn;
    // what a process that died mid-import leaves: a stage not touched for an hour, records
    // of a file that has no row
    let old = chrono::Utc::now().naive_utc() - chrono::Duration::hours(1);
    conn.batch_execute("PRAGMA foreign_keys = OFF")
        .expect("pragma");
    diesel::insert_into(settlement_file_stages::table)
        .values((
            settlement_file_stages::file_id.eq("sf_dead"),
            settlement_file_stages::sha256.eq("dead"),
            settlement_file_stages::first_row.eq(1i64),
            settlement_file_stages::started_at.eq(old),
            settlement_file_stages::touched_at.eq(old),
        ))
        .execute(conn)
        .expect("stage");
    conn.batch_execute(
        "INSERT INTO settlement_records (file_id, line_no, kind, merchant, terminal, gross_minor, \
         fee_minor, net_minor, currency, txn_time, settlement_date) \
         SELECT 'sf_dead', line_no, kind, merchant, terminal, gross_minor, fee_minor, net_minor, \
         currency, txn_time, settlement_date FROM settlement_records",
    )
    .expect("orphans");
    conn.batch_execute("PRAGMA foreign_keys = ON")
        .expect("pragma");
    assert_eq!(count_rows(&app).1, 20);

    // a stage naming a published file does not make its records removable
    diesel::insert_into(settlement_file_stages::table)
        .values((
            settlement_file_stages::file_id.eq(&published),
            settlement_file_stages::sha256.eq("x"),
            settlement_file_stages::started_at.eq(old),
            settlement_file_stages::touched_at.eq(old),
        ))
        .execute(conn)
        .expect("stage");
    let refused = diesel::delete(
        settlement_records::table.filter(settlement_records::file_id.eq(&published)),
    )
    .execute(conn);
    assert!(refused.is_err(), "published records are append-only");

    let removed = onecard::bankfiles::store::clean_abandoned_imports(conn).expect("clean");
    assert_eq!(removed, 2);
    assert_eq!(
        count_rows(&app),
        (1, 10, 0),
        "the orphans went, the published file stayed"
    );
    app.stop().await;
}
