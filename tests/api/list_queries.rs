//! Lists read a page in a handful of set queries whatever its length (issue 19 part 6): the
//! payments list and search count the same statements for a page of 1 and a page of 200, on
//! both databases, and give the payments exactly as one-by-one loads do.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use diesel::connection::{Connection, InstrumentationEvent};
use onecard::db::DbConn;
use onecard::payments::{self, query::PaymentFilter};

use crate::support::books::connect;
use crate::support::spawn_app;

/// Counts the statements `conn` runs from now on.
fn count_statements(conn: &mut DbConn) -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if matches!(event, InstrumentationEvent::StartQuery { .. }) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    count
}

/// The statements `run` makes on `conn`.
fn statements<T>(
    conn: &mut DbConn,
    count: &AtomicUsize,
    run: impl FnOnce(&mut DbConn) -> T,
) -> (usize, T) {
    let before = count.load(Ordering::Relaxed);
    let out = run(conn);
    (count.load(Ordering::Relaxed) - before, out)
}

fn filter(limit: i64) -> PaymentFilter {
    PaymentFilter {
        business_date: None,
        status: None,
        limit: Some(limit),
        after: None,
    }
}

#[actix_web::test]
async fn a_page_of_payments_costs_the_same_few_queries_whatever_its_length() {
    let app = spawn_app().await;
    app.load_demo().await;
    let today = onecard::clock::today();
    let mut ids = Vec::new();
    for i in 0..201u32 {
        let fee = if i % 2 == 0 { "SC-JL-01" } else { "ZR-BDC-02" };
        let amount = if i % 2 == 0 { "200.00" } else { "550.00" };
        let id = app
            .capture_on(
                today,
                fee,
                amount,
                &format!("{:06}", 100_000 + i),
                &format!("{:012}", 700_000_000 + i),
            )
            .await;
        ids.push(id);
    }
    ids.sort();

    let mut conn = connect(&app.db);
    let count = count_statements(&mut conn);
    let (one, page_of_one) = statements(&mut conn, &count, |c| {
        payments::query::list(c, &filter(1)).expect("page of 1")
    });
    let (many, page_of_200) = statements(&mut conn, &count, |c| {
        payments::query::list(c, &filter(200)).expect("page of 200")
    });
    assert_eq!(page_of_one.items.len(), 1);
    assert_eq!(page_of_200.items.len(), 200);
    assert_eq!(page_of_200.next.as_deref(), Some(ids[199].as_str()));
    assert_eq!(
        one, many,
        "a page of 200 costs {many} statements, a page of 1 {one}"
    );
    assert!(many <= 5, "a page of payments costs {many} statements");

    // The page holds exactly what loading each payment by itself gives, in id order.
    let got: Vec<&str> = page_of_200.items.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        got,
        ids[..200].iter().map(String::as_str).collect::<Vec<_>>()
    );
    for p in &page_of_200.items {
        let alone = payments::load(&mut conn, &p.id)
            .expect("load")
            .expect("found");
        assert_eq!(&alone, p);
    }

    // A search names payments by id; its cost does not grow with what it finds either.
    let (found_one, hit) = statements(&mut conn, &count, |c| {
        payments::query::search(c, &ids[0], &filter(100)).expect("search")
    });
    assert_eq!(hit.items.len(), 1);
    assert_eq!(hit.items[0], page_of_one.items[0]);
    let (found_none, miss) = statements(&mut conn, &count, |c| {
        payments::query::search(c, "pay_none", &filter(100)).expect("search")
    });
    assert!(miss.items.is_empty());
    assert!(
        found_one <= 5 && found_none <= found_one,
        "{found_one} / {found_none}"
    );
}
