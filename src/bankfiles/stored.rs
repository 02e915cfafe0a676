//! Reading stored text back into typed values: a state, kind, number or JSON document that does
//! not parse is a [`DbError`] naming the column and the value (a diesel deserialization error),
//! never a silent default. Used by the import store here and by reconciliation's readers.
//!
//! Depends on: `db` (the error), `text` (the closed sets' parse error), serde_json.

use std::fmt::Display;

use serde::de::DeserializeOwned;

use crate::db::DbError;
use crate::text::UnknownText;

/// A stored value that does not read back as what was written.
#[derive(Debug, thiserror::Error)]
#[error("stored {column} '{value}' is not valid: {reason}")]
pub struct StoredValueError {
    /// The column (`table.column`).
    pub column: &'static str,
    /// The text found.
    pub value: String,
    /// Why it does not parse.
    pub reason: String,
}

/// The error for `value` in `column`, as a [`DbError`].
pub fn corrupt(column: &'static str, value: impl Display, reason: impl Display) -> DbError {
    DbError::Query(diesel::result::Error::DeserializationError(Box::new(
        StoredValueError {
            column,
            value: value.to_string(),
            reason: reason.to_string(),
        },
    )))
}

/// Parses the stored text of `column` into its closed set (declared with
/// [`text_enum!`](crate::text_enum)): text that is none of the set's values is the set's
/// [`UnknownText`], reported as corrupt `column`.
pub fn parse<T>(column: &'static str, text: &str) -> Result<T, DbError>
where
    T: TryFrom<String, Error = UnknownText>,
{
    T::try_from(text.to_owned()).map_err(|e| corrupt(column, text, e))
}

/// Reads the stored JSON document of `column`.
pub fn json<T: DeserializeOwned>(column: &'static str, text: &str) -> Result<T, DbError> {
    serde_json::from_str(text).map_err(|e| corrupt(column, text, e))
}

/// A stored count or line number (never negative).
pub fn count(column: &'static str, n: i64) -> Result<u64, DbError> {
    u64::try_from(n).map_err(|e| corrupt(column, n, e))
}

/// The JSON text to store in `column` (a value that does not serialise is an error, never
/// an empty document).
pub fn to_json<T: serde::Serialize + ?Sized>(
    column: &'static str,
    value: &T,
) -> Result<String, DbError> {
    serde_json::to_string(value).map_err(|e| unwritable(column, e))
}

/// The JSON value to store in `column` (see [`to_json`]).
pub fn to_json_value<T: serde::Serialize + ?Sized>(
    column: &'static str,
    value: &T,
) -> Result<serde_json::Value, DbError> {
    serde_json::to_value(value).map_err(|e| unwritable(column, e))
}

fn unwritable(column: &'static str, e: serde_json::Error) -> DbError {
    DbError::Query(diesel::result::Error::SerializationError(Box::new(
        StoredValueError {
            column,
            value: String::new(),
            reason: e.to_string(),
        },
    )))
}
