//! The foundation's tables: the chart and its balances, the ledger and its chain head, the
//! business days, the API tokens and the audit trail (split from [`super`] at their seam;
//! the same portable column types).

diesel::table! {
    accounts (code) {
        code -> Text,
        name -> Text,
        name_en -> Text,
        fund -> Text,
        kind -> Text,
        role -> Text,
        currency -> Text,
        parent -> Nullable<Text>,
        postable -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    account_balances (account_code) {
        account_code -> Text,
        debit_minor -> BigInt,
        credit_minor -> BigInt,
        last_entry_seq -> BigInt,
    }
}

diesel::table! {
    account_day_totals (account_code, business_date) {
        account_code -> Text,
        business_date -> Date,
        debit_minor -> BigInt,
        credit_minor -> BigInt,
    }
}

diesel::table! {
    ledger_head (id) {
        id -> BigInt,
        seq -> BigInt,
        hash -> Binary,
    }
}

diesel::table! {
    ledger_entries (seq) {
        seq -> BigInt,
        business_date -> Date,
        kind -> Text,
        memo -> Text,
        reference -> Nullable<Text>,
        reverses_seq -> Nullable<BigInt>,
        actor -> Text,
        created_at -> Timestamp,
        prev_hash -> Binary,
        hash -> Binary,
    }
}

diesel::table! {
    ledger_postings (entry_seq, line_no) {
        entry_seq -> BigInt,
        line_no -> BigInt,
        account_code -> Text,
        side -> Text,
        amount_minor -> BigInt,
        currency -> Text,
    }
}

diesel::table! {
    business_days (business_date) {
        business_date -> Date,
        status -> Text,
        entries -> Nullable<BigInt>,
        last_entry_hash -> Nullable<Binary>,
        seal -> Nullable<Text>,
        closed_at -> Nullable<Timestamp>,
        closed_by -> Nullable<Text>,
        seal_kid -> Nullable<Text>,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Text,
        name -> Text,
        role -> Text,
        token_hash -> Binary,
        created_at -> Timestamp,
        created_by -> Text,
        revoked_at -> Nullable<Timestamp>,
        person_id -> Nullable<Text>,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> Timestamp,
        actor -> Text,
        action -> Text,
        subject -> Text,
        before_json -> Nullable<Text>,
        after_json -> Nullable<Text>,
    }
}

diesel::joinable!(ledger_postings -> ledger_entries (entry_seq));
diesel::joinable!(ledger_postings -> accounts (account_code));
diesel::joinable!(account_balances -> accounts (account_code));
