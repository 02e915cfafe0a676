//! Fiscal receipt numbers (票据代码 8 digits + 票据号码 10 digits): one gap-free sequence per
//! series, taken inside the capture's transaction (a range per ledger batch:
//! `capture::rows`).

use diesel::prelude::*;

use crate::db::schema::receipt_series;
use crate::db::{DbConn, DbError};

/// Makes sure a receipt series exists (numbers start at 1).
pub fn ensure_series(conn: &mut DbConn, series: &str) -> Result<(), DbError> {
    let exists: i64 = receipt_series::table
        .filter(receipt_series::series_code.eq(series.to_string()))
        .count()
        .get_result(conn)?;
    if exists == 0 {
        diesel::insert_into(receipt_series::table)
            .values((
                receipt_series::series_code.eq(series),
                receipt_series::next_number.eq(1i64),
            ))
            .execute(conn)?;
    }
    Ok(())
}
