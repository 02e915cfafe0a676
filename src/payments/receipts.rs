//! Fiscal receipt numbers (票据代码 8 digits + 票据号码 10 digits): one gap-free sequence per
//! series, taken inside the capture's transaction.

use diesel::prelude::*;

use super::CaptureError;
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

/// Takes the next number of a series inside the caller's transaction: gap-free, because a
/// rolled-back payment rolls the increment back with it, and unique, because the row is
/// locked until commit.
pub(super) fn next_receipt_number(conn: &mut DbConn, series: &str) -> Result<i64, CaptureError> {
    #[derive(QueryableByName)]
    struct Next {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        number: i64,
    }
    let next: Option<Next> = diesel::sql_query("UPDATE receipt_series SET next_number = next_number + 1 WHERE series_code = $1 RETURNING next_number - 1 AS number")
        .bind::<diesel::sql_types::Text, _>(series)
        .get_result(conn)
        .optional()
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::CheckViolation, _) => CaptureError::ReceiptSeries(series.to_string()),
            other => other.into(),
        })?;
    next.map(|n| n.number)
        .ok_or_else(|| CaptureError::ReceiptSeries(series.to_string()))
}
