//! Closed sets stored and sent as text: one declaration ([`text_enum!`](crate::text_enum)) and
//! one parse error ([`UnknownText`]). An enum declared with it is spelt in snake_case by strum
//! (stored text, `Display`, `FromStr`, `AsRef<str>`, `&'static str`) and by serde (JSON) alike,
//! and reads a stored value back through `TryFrom<String>` — what diesel's
//! `deserialize_as = String` calls on a row — naming its set when the text is none of its
//! values, never falling back to a default. Pure: no actix, no diesel.
//!
//! May depend on: nothing inside the crate.

/// A stored (or sent) text that is none of its set's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored {set} '{value}' is not one this service knows")]
pub struct UnknownText {
    /// Which set (`payment status`, …).
    pub set: &'static str,
    /// The text found.
    pub value: String,
}

/// Declares enums stored and sent as snake_case text: each gets `Debug, Clone, Copy,
/// PartialEq, Eq, Serialize, AsRefStr, IntoStaticStr, EnumString, Display` with snake_case
/// naming for serde and strum, and `TryFrom<String>` failing with [`UnknownText`] naming the
/// set (the literal after `as`). Doc comments and attributes pass through, on the enum (extra
/// derives such as `Hash`, `Ord`, `Deserialize`, `utoipa::ToSchema`, `VariantArray`; more
/// `#[strum(...)]` options) and on each variant (`#[strum(serialize = "...")]`,
/// `#[serde(rename = "...")]`).
///
/// ```
/// onecard::text_enum! {
///     /// Where a thing stands.
///     #[derive(Hash)]
///     pub enum Stage as "stage" {
///         /// Not yet.
///         NotYet,
///         /// Done.
///         Done,
///     }
/// }
/// assert_eq!(Stage::NotYet.as_ref(), "not_yet");
/// assert_eq!(Stage::try_from("done".to_string()), Ok(Stage::Done));
/// assert!(Stage::try_from("Done".to_string()).is_err());
/// ```
#[macro_export]
macro_rules! text_enum {
    ($(
        $(#[$meta:meta])*
        $vis:vis enum $name:ident as $set:literal {
            $($(#[$vmeta:meta])* $variant:ident),* $(,)?
        }
    )*) => {$(
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, ::serde::Serialize,
            ::strum::AsRefStr, ::strum::IntoStaticStr, ::strum::EnumString, ::strum::Display,
        )]
        $(#[$meta])*
        #[serde(rename_all = "snake_case")]
        #[strum(serialize_all = "snake_case")]
        $vis enum $name { $($(#[$vmeta])* $variant,)* }

        impl ::core::convert::TryFrom<::std::string::String> for $name {
            type Error = $crate::text::UnknownText;
            fn try_from(value: ::std::string::String) -> ::core::result::Result<Self, Self::Error> {
                value.parse().map_err(|_| $crate::text::UnknownText { set: $set, value })
            }
        }
    )*};
}

#[cfg(test)]
mod tests {
    use super::UnknownText;

    crate::text_enum! {
        /// A set with one renamed value.
        #[derive(Hash, strum::VariantArray)]
        enum Stage as "stage" {
            /// Spelt by serialize_all.
            NotYet,
            /// Spelt by hand, the same for strum and serde.
            #[strum(serialize = "done.ok")]
            #[serde(rename = "done.ok")]
            Done,
        }
    }

    #[test]
    fn values_read_and_write_as_declared_and_others_name_the_set() {
        use strum::VariantArray;
        for (value, text) in [(Stage::NotYet, "not_yet"), (Stage::Done, "done.ok")] {
            assert_eq!(value.as_ref(), text, "{value:?}");
            assert_eq!(<&str>::from(value), text, "{value:?}");
            assert_eq!(value.to_string(), text, "{value:?}");
            let json = serde_json::to_string(&value).unwrap_or_default();
            assert_eq!(json, format!("\"{text}\""), "{value:?}");
            assert_eq!(Stage::try_from(text.to_string()), Ok(value), "{text}");
        }
        assert_eq!(Stage::VARIANTS.len(), 2);
        let err = Stage::try_from("Done".to_string());
        let expected = UnknownText {
            set: "stage",
            value: "Done".into(),
        };
        assert_eq!(err, Err(expected.clone()));
        assert_eq!(
            expected.to_string(),
            "stored stage 'Done' is not one this service knows"
        );
    }
}
