//! Settlement files and statements through the API and the CLI: all or nothing, idempotent by
//! SHA-256, corrupt files refused with a position, on both databases.

use diesel::prelude::*;
use onecard::auth::Role;
use onecard::db::schema::{
    audit_log, bank_statements, settlement_files, settlement_records, statement_bookings,
};
use onecard::db::DbConn;

use crate::support::{spawn_app, spawn_app_with, TestApp};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
const POS: &str = "pos-settlement-fixed-width/ok/POS_898440379930001_20261124.txt";

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{path}")).expect("fixture")
}

fn counts(app: &TestApp) -> (i64, i64, i64) {
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
        statement_bookings::table
            .count()
            .get_result(conn)
            .expect("count"),
    )
}

#[actix_web::test]
async fn a_settlement_file_is_imported_once_and_recognised_again() {
    let app = spawn_app().await;
    let bytes = fixture(POS);
    let (status, body) = app
        .upload(
            Role::Finance,
            "spec=pos-settlement-fixed-width",
            bytes.clone(),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let sha = hex::encode(ring::digest::digest(&ring::digest::SHA256, &bytes));
    assert_eq!(body["sha256"], sha);
    assert_eq!(body["spec"], "pos-settlement-fixed-width");
    assert_eq!(body["records"], 5);
    assert_eq!(body["totals"]["net"], "118.43");
    assert_eq!(body["totals"]["count"], 5);
    assert_eq!(body["duplicate"], false);
    assert_eq!(body["facts"]["merchant"], "898440379930001");
    let id = body["id"].as_str().expect("id").to_string();

    let (status, again) = app
        .upload(
            Role::Finance,
            "spec=pos-settlement-fixed-width&name=resent.txt",
            bytes,
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["duplicate"], true);
    assert_eq!(counts(&app), (1, 5, 0));

    let (status, got) = app
        .get(Role::Auditor, &format!("/v1/settlement-files/{id}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(got["totals"], body["totals"]);
    let (status, _) = app.get(Role::Auditor, "/v1/settlement-files/sf_nope").await;
    assert_eq!(status, 404);

    let mut conn = app.ctx.conn().expect("conn");
    let audited: i64 = audit_log::table
        .filter(audit_log::action.eq("settlement_file.import"))
        .count()
        .get_result(&mut *conn)
        .expect("audit");
    assert_eq!(audited, 1, "one import, one audit record");
    app.stop().await;
}

#[actix_web::test]
async fn a_corrupt_file_is_refused_whole_with_its_position() {
    let app = spawn_app().await;
    for (path, spec, line, byte) in [
        (
            "pos-settlement-fixed-width/bad/trailer-net-disagrees.txt",
            "pos-settlement-fixed-width",
            7,
            Some(43),
        ),
        (
            "pos-settlement-fixed-width/bad/undecodable-remark.txt",
            "pos-settlement-fixed-width",
            2,
            Some(131),
        ),
        (
            "pos-settlement-fixed-width/bad/truncated.txt",
            "pos-settlement-fixed-width",
            4,
            Some(61),
        ),
        (
            "collection-account-statement-csv/bad/balances-do-not-chain.csv",
            "collection-account-statement-csv",
            7,
            None,
        ),
        (
            "camt.053/bad/balances-do-not-chain.xml",
            "camt.053",
            0,
            None,
        ),
        ("mt940/bad/february_30.sta", "mt940", 0, None),
        // real files in SOH/ETX and SWIFT-block framing whose balances do not add up
        (
            "mt940/bad/real-mbank-soh-etx-balance-off.sta",
            "mt940",
            19,
            Some(6),
        ),
        (
            "mt940/bad/real-postfinance-soh-etx-swift-two-messages.sta",
            "mt940",
            20,
            Some(11),
        ),
    ] {
        let (status, body) = app
            .upload(Role::Finance, &format!("spec={spec}"), fixture(path))
            .await;
        assert_eq!(status, 422, "{path}: {body}");
        assert_eq!(body["code"], "file_corrupt", "{path}");
        if line > 0 {
            assert_eq!(body["line"], line, "{path}: {body}");
        } else {
            assert!(
                body["line"].as_u64().is_some_and(|l| l > 0),
                "{path}: {body}"
            );
        }
        match byte {
            Some(b) => assert_eq!(body["byte"], b, "{path}"),
            None if line > 0 => assert!(body.get("byte").is_none(), "{path}: {body}"),
            None => {}
        }
        assert!(
            body["detail"].as_str().unwrap_or("").contains("line"),
            "{body}"
        );
    }
    // A file that fails near its end has had records read and flushed before the failure:
    // nothing of them may remain.
    let mut big = String::new();
    let rows = 5000;
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
    // The trailer claims one detail too many.
    big.push_str(&format!(
        "T{:08}{:016}{:016}+{:016}\r\n",
        rows + 1,
        20_000 * rows,
        0,
        19_988 * rows
    ));
    let (status, body) = app
        .upload(
            Role::Finance,
            "spec=pos-settlement-fixed-width",
            big.into_bytes(),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["line"], rows + 2, "{body}");
    assert_eq!(
        counts(&app),
        (0, 0, 0),
        "nothing of a refused file is stored"
    );
    app.stop().await;
}

#[actix_web::test]
async fn specs_are_listed_and_bad_requests_are_clear() {
    let app = spawn_app().await;
    let (status, body) = app.get(Role::Finance, "/v1/settlement-specs").await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    for id in onecard::bankfiles::PROMISED_SPEC_IDS {
        assert!(ids.contains(id), "{id} not in {ids:?}");
    }
    let (status, body) = app.upload(Role::Finance, "spec=nope", b"x".to_vec()).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("unknown_spec")));
    let (status, body) = app.upload(Role::Finance, "", b"x".to_vec()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_request")),
        "{body}"
    );
    let (status, body) = app
        .upload(Role::Finance, "spec=mt940&colour=red", b"x".to_vec())
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_request")),
        "{body}"
    );
    let (status, body) = app.upload(Role::Finance, "spec=mt940", Vec::new()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("file_corrupt")),
        "{body}"
    );
    // The one-card format carries the merchant only in the file name.
    let ykt = fixture("onecard-settlement-csv/ok/YKT_310000000000021_20261124.csv");
    let (status, body) = app
        .upload(Role::Finance, "spec=onecard-settlement-csv", ykt.clone())
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("file_corrupt")),
        "{body}"
    );
    assert!(
        body["detail"].as_str().unwrap_or("").contains("file name"),
        "{body}"
    );
    let (status, body) = app
        .upload(
            Role::Finance,
            "spec=onecard-settlement-csv&name=YKT_310000000000021_20261124.csv",
            ykt,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["totals"]["net"], "1259.37");
    assert_eq!(body["facts"]["merchant"], "310000000000021");
    // A GBK statement.
    let stmt =
        fixture("collection-account-statement-csv/ok/33050161234500001234_20261125_20261125.csv");
    let (status, body) = app
        .upload(Role::Finance, "spec=collection-account-statement-csv", stmt)
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["produces"], "statement");
    assert_eq!(body["totals"]["credits"], "21387.86");
    assert_eq!(body["totals"]["debit_count"], 1);
    assert_eq!(counts(&app), (2, 4, 4));
    app.stop().await;
}

#[actix_web::test]
async fn an_upload_over_the_limit_is_413_and_leaves_nothing_behind() {
    let app = spawn_app_with(|c| c.upload_limit_bytes = 1024).await;
    let (status, body) = app
        .upload(
            Role::Finance,
            "spec=pos-settlement-fixed-width",
            vec![b'D'; 4096],
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("payload_too_large")),
        "{body}"
    );
    let spool = app.db.config().data_dir.join("uploads");
    let left = std::fs::read_dir(&spool).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "the spooled upload is removed");
    // Under the limit is fine.
    let (status, _) = app
        .upload(Role::Finance, "spec=mt940", b":20:X\r\n".to_vec())
        .await;
    assert_eq!(status, 422);
    assert_eq!(std::fs::read_dir(&spool).map(|d| d.count()).unwrap_or(0), 0);
    app.stop().await;
}

#[actix_web::test]
async fn concurrent_uploads_of_one_file_store_it_once() {
    let app = spawn_app().await;
    let bytes = fixture(POS);
    let sends = (0..8).map(|_| {
        app.upload(
            Role::Finance,
            "spec=pos-settlement-fixed-width",
            bytes.clone(),
        )
    });
    let results = futures_util::future::join_all(sends).await;
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let duplicates = results
        .iter()
        .filter(|(s, b)| *s == 200 && b["duplicate"] == true)
        .count();
    assert_eq!((created, duplicates), (1, 7), "{results:?}");
    let ids: std::collections::BTreeSet<String> = results
        .iter()
        .map(|(_, b)| b["id"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(counts(&app), (1, 5, 0));
    app.stop().await;
}

#[actix_web::test]
async fn real_samples_import_through_the_api() {
    let app = spawn_app().await;
    let samples = onecard::bankfiles::real_samples_dir();
    let camt = std::fs::read(samples.join(
        "camt053/postfinance-camt.053_P_CH2909000000250094239_1110092698_0_2020112503071366.xml",
    ))
    .expect("sample");
    let (status, body) = app.upload(Role::Finance, "spec=camt.053", camt).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["facts"]["version"], "camt.053.001.04");
    let sta = std::fs::read(samples.join("mt940/mt940rs-full-betterplace-sepa_mt9401.sta"))
        .expect("sample");
    let (status, body) = app.upload(Role::Finance, "spec=mt940", sta).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["totals"]["statements"], 26);
    app.stop().await;
}

/// Several MT940 statements in one file, framed or not: one `bank_statements` row per
/// statement (at its `:20:` line) and every booking, in one import; a framed file refused in its
/// second message leaves nothing of its first.
#[actix_web::test]
async fn several_mt940_statements_in_one_file_import_as_one_row_each() {
    let app = spawn_app().await;
    let statement_lines = |app: &TestApp, file_id: &str| -> Vec<i64> {
        let mut conn = app.ctx.conn().expect("conn");
        bank_statements::table
            .filter(bank_statements::file_id.eq(file_id))
            .order(bank_statements::line_no)
            .select(bank_statements::line_no)
            .load(&mut *conn)
            .expect("statements")
    };
    let (status, body) = app
        .upload(
            Role::Finance,
            "spec=mt940",
            fixture("mt940/bad/real-postfinance-soh-etx-swift-two-messages.sta"),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        counts(&app),
        (0, 0, 0),
        "nothing of the first message is kept"
    );

    let (status, body) = app
        .upload(
            Role::Finance,
            "spec=mt940",
            fixture("mt940/ok/real-danske-no-86-after-60f-and-repeated-86.derived.sta"),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["totals"]["statements"], 13);
    let id = body["id"].as_str().expect("id").to_string();
    let lines = statement_lines(&app, &id);
    assert_eq!(lines.len(), 13);
    assert_eq!(lines[..3], [1, 15, 29]);
    assert_eq!(counts(&app), (1, 0, 24));

    let (status, body) = app
        .upload(
            Role::Finance,
            "spec=mt940",
            fixture("mt940/ok/real-knab-swift-blocks-two-statements.sta"),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().expect("id").to_string();
    assert_eq!(statement_lines(&app, &id), [2, 13]);
    let (status, body) = app
        .upload(
            Role::Finance,
            "spec=mt940",
            fixture("mt940/ok/real-mbank-soh-etx.sta"),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(counts(&app), (3, 0, 24 + 3 + 3));
    app.stop().await;
}

#[actix_web::test]
async fn imported_rows_cannot_be_changed_or_removed() {
    let app = spawn_app().await;
    let (status, _) = app
        .upload(
            Role::Finance,
            "spec=pos-settlement-fixed-width",
            fixture(POS),
        )
        .await;
    assert_eq!(status, 201);
    let mut conn = app.ctx.conn().expect("conn");
    let conn: &mut DbConn = &mut conn;
    assert!(diesel::update(settlement_records::table)
        .set(settlement_records::net_minor.eq(1))
        .execute(conn)
        .is_err());
    assert!(diesel::delete(settlement_records::table)
        .execute(conn)
        .is_err());
    assert!(diesel::delete(settlement_files::table)
        .execute(conn)
        .is_err());
    assert_eq!(counts(&app), (1, 5, 0));
    app.stop().await;
}
