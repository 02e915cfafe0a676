//! The one portable schema for both backends. Only BigInt, Text, Bool, Date, Timestamp and
//! Binary columns: the types diesel's multi-backend connection carries.

mod books;
mod instances;
pub use books::*;
pub use instances::*;

diesel::joinable!(payment_cards -> payments (payment_id));

diesel::table! {
    fee_items (code, version) {
        code -> Text,
        version -> BigInt,
        name -> Text,
        department -> Text,
        revenue_subject -> Text,
        legal_document -> Text,
        legal_article -> Nullable<Text>,
        pricing_kind -> Text,
        amount_minor -> Nullable<BigInt>,
        unit -> Nullable<Text>,
        min_minor -> Nullable<BigInt>,
        max_minor -> Nullable<BigInt>,
        effective_from -> Date,
        effective_to -> Nullable<Date>,
        created_at -> Timestamp,
        created_by -> Text,
    }
}

diesel::table! {
    fee_item_concessions (fee_code, fee_version, code) {
        fee_code -> Text,
        fee_version -> BigInt,
        code -> Text,
        position -> BigInt,
        name -> Text,
        legal_basis -> Text,
        kind -> Text,
        amount_minor -> BigInt,
    }
}

diesel::table! {
    receipt_series (series_code) {
        series_code -> Text,
        next_number -> BigInt,
    }
}

diesel::table! {
    departments (code) {
        code -> Text,
        name -> Text,
        name_en -> Nullable<Text>,
        created_at -> Timestamp,
        created_by -> Text,
    }
}

diesel::table! {
    department_windows (department, code) {
        department -> Text,
        code -> Text,
        name -> Text,
        name_en -> Nullable<Text>,
        created_at -> Timestamp,
        created_by -> Text,
    }
}

diesel::table! {
    payments (id) {
        id -> Text,
        reference -> Text,
        channel -> Text,
        department -> Text,
        window_code -> Text,
        payer_name -> Nullable<Text>,
        payer_id_hmac -> Nullable<Binary>,
        payer_id_masked -> Nullable<Text>,
        amount_minor -> BigInt,
        business_date -> Date,
        status -> Text,
        entry_seq -> BigInt,
        created_at -> Timestamp,
        created_by -> Text,
    }
}

diesel::table! {
    payment_lines (payment_id, line_no) {
        payment_id -> Text,
        line_no -> BigInt,
        fee_code -> Text,
        fee_version -> BigInt,
        quantity -> BigInt,
        amount_minor -> BigInt,
        revenue_subject -> Text,
        concession_code -> Nullable<Text>,
        forgone_minor -> Nullable<BigInt>,
    }
}

diesel::table! {
    payment_cards (payment_id) {
        payment_id -> Text,
        merchant_id -> Text,
        terminal_id -> Text,
        batch_no -> Nullable<Text>,
        trace_no -> Nullable<Text>,
        rrn -> Nullable<Text>,
        auth_code -> Nullable<Text>,
        serial -> Nullable<Text>,
        masked_card -> Text,
        txn_time -> Text,
    }
}

diesel::table! {
    receipts (series_code, number) {
        series_code -> Text,
        number -> BigInt,
        payment_id -> Text,
        status -> Text,
        issued_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (idem_key) {
        idem_key -> Text,
        request_hash -> Binary,
        status_code -> BigInt,
        response_body -> Text,
        payment_id -> Nullable<Text>,
        created_at -> Timestamp,
        hash_version -> BigInt,
        refund_id -> Nullable<Text>,
    }
}

diesel::table! {
    refunds (id) {
        id -> Text,
        payment_id -> Text,
        amount_minor -> BigInt,
        reason -> Text,
        status -> Text,
        requested_by_token -> Text,
        requested_by -> Text,
        approved_by -> Nullable<Text>,
        entry_seq -> Nullable<BigInt>,
        created_at -> Timestamp,
        approved_at -> Nullable<Timestamp>,
        requested_by_person -> Nullable<Text>,
        business_date -> Date,
        closed_by -> Nullable<Text>,
        closed_at -> Nullable<Timestamp>,
        closed_on -> Nullable<Date>,
        closed_note -> Nullable<Text>,
        route -> Text,
    }
}

diesel::table! {
    refund_requests (id) {
        id -> Text,
        refund_id -> Text,
        payment_id -> Text,
        business_date -> Date,
        revenue_subject -> Text,
        account_code -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        message_id -> Text,
        status -> Text,
        created_at -> Timestamp,
        created_by -> Text,
        pull_seq -> Nullable<BigInt>,
        offered_at -> Nullable<Timestamp>,
        file_bytes -> Nullable<Binary>,
        file_sha256 -> Nullable<Binary>,
        signature -> Nullable<Binary>,
        acknowledged_at -> Nullable<Timestamp>,
        acknowledged_by -> Nullable<Text>,
        treasury_reference -> Nullable<Text>,
        return_entry_seq -> Nullable<BigInt>,
        payout_entry_seq -> Nullable<BigInt>,
        rejected_at -> Nullable<Timestamp>,
        rejected_by -> Nullable<Text>,
        reject_reason -> Nullable<Text>,
        signature_kid -> Nullable<Text>,
    }
}

diesel::table! {
    settlement_files (id) {
        id -> Text,
        spec -> Text,
        sha256 -> Text,
        produces -> Text,
        file_name -> Nullable<Text>,
        size_bytes -> BigInt,
        records -> BigInt,
        totals -> Text,
        facts -> Text,
        merchant -> Nullable<Text>,
        settlement_date -> Nullable<Date>,
        imported_at -> Timestamp,
        imported_by -> Text,
        lines_already_imported -> BigInt,
    }
}

diesel::table! {
    settlement_records (id) {
        id -> BigInt,
        file_id -> Text,
        line_no -> BigInt,
        kind -> Text,
        merchant -> Text,
        terminal -> Text,
        batch -> Nullable<Text>,
        trace -> Nullable<Text>,
        rrn -> Nullable<Text>,
        auth_code -> Nullable<Text>,
        masked_card -> Nullable<Text>,
        gross_minor -> BigInt,
        fee_minor -> BigInt,
        net_minor -> BigInt,
        currency -> Text,
        txn_time -> Timestamp,
        settlement_date -> Date,
        original_ref -> Nullable<Text>,
        own_ref -> Nullable<Text>,
    }
}

diesel::table! {
    bank_statements (id) {
        id -> BigInt,
        file_id -> Text,
        line_no -> BigInt,
        statement_id -> Text,
        account -> Text,
        currency -> Text,
        from_date -> Nullable<Date>,
        to_date -> Nullable<Date>,
        opening_minor -> Nullable<BigInt>,
        closing_minor -> Nullable<BigInt>,
        credit_count -> BigInt,
        credit_minor -> BigInt,
        debit_count -> BigInt,
        debit_minor -> BigInt,
    }
}

diesel::table! {
    statement_bookings (id) {
        id -> BigInt,
        file_id -> Text,
        line_no -> BigInt,
        account -> Text,
        currency -> Text,
        booking_date -> Date,
        value_date -> Nullable<Date>,
        direction -> Text,
        amount_minor -> BigInt,
        reversal -> Bool,
        bank_ref -> Nullable<Text>,
        narrative -> Text,
        counterparty_account -> Nullable<Text>,
        counterparty_name -> Nullable<Text>,
        balance_after_minor -> Nullable<BigInt>,
        identity -> Nullable<Text>,
    }
}

diesel::table! {
    statement_lines (identity) {
        identity -> Text,
        file_id -> Text,
    }
}

diesel::table! {
    settlement_file_withdrawals (file_id) {
        file_id -> Text,
        withdrawn_at -> Timestamp,
        withdrawn_by -> Text,
        reason -> Text,
    }
}

diesel::table! {
    settlement_file_stages (file_id) {
        file_id -> Text,
        sha256 -> Text,
        first_row -> Nullable<BigInt>,
        started_at -> Timestamp,
        touched_at -> Timestamp,
    }
}

diesel::table! {
    recon_runs (id) {
        id -> Text,
        business_date -> Date,
        summary -> Text,
        balance -> Text,
        created_at -> Timestamp,
        created_by -> Text,
        state -> Text,
        touched_at -> Nullable<Timestamp>,
        first_outcome -> Nullable<BigInt>,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    recon_outcomes (id) {
        id -> BigInt,
        run_id -> Text,
        business_date -> Date,
        category -> Text,
        subject -> Text,
        payment_id -> Nullable<Text>,
        settlement_record_id -> Nullable<BigInt>,
        void_record_id -> Nullable<BigInt>,
        file_id -> Nullable<Text>,
        booking_id -> Nullable<BigInt>,
        ledger_minor -> Nullable<BigInt>,
        settlement_minor -> Nullable<BigInt>,
        note -> Text,
        active -> Bool,
    }
}

diesel::table! {
    recon_exceptions (id) {
        id -> Text,
        run_id -> Text,
        business_date -> Date,
        kind -> Text,
        payment_id -> Nullable<Text>,
        settlement_record_id -> Nullable<BigInt>,
        file_id -> Nullable<Text>,
        booking_id -> Nullable<BigInt>,
        ledger_minor -> Nullable<BigInt>,
        settlement_minor -> Nullable<BigInt>,
        suggested_action -> Text,
        status -> Text,
        active -> Bool,
        resolution -> Nullable<Text>,
        note -> Nullable<Text>,
        matched_payment_id -> Nullable<Text>,
        matched_record_id -> Nullable<BigInt>,
        resolved_by_token -> Nullable<Text>,
        resolved_by -> Nullable<Text>,
        resolved_at -> Nullable<Timestamp>,
        approved_by -> Nullable<Text>,
        approved_at -> Nullable<Timestamp>,
        matched_booking_id -> Nullable<BigInt>,
        amount_minor -> Nullable<BigInt>,
        entry_seq -> Nullable<BigInt>,
        resolved_by_person -> Nullable<Text>,
        action_code -> Nullable<Text>,
    }
}

diesel::table! {
    remittances (id) {
        id -> Text,
        business_date -> Date,
        message_id -> Text,
        currency -> Text,
        amount_minor -> BigInt,
        status -> Text,
        prepared_at -> Timestamp,
        prepared_by -> Text,
        approved_at -> Nullable<Timestamp>,
        approved_by -> Nullable<Text>,
        pull_seq -> Nullable<BigInt>,
        file_bytes -> Nullable<Binary>,
        file_sha256 -> Nullable<Binary>,
        signature -> Nullable<Binary>,
        acknowledged_at -> Nullable<Timestamp>,
        acknowledged_by -> Nullable<Text>,
        treasury_reference -> Nullable<Text>,
        ack_entry_seq -> Nullable<BigInt>,
        prepared_by_person -> Nullable<Text>,
        withdrawn_at -> Nullable<Timestamp>,
        withdrawn_by -> Nullable<Text>,
        withdrawn_reason -> Nullable<Text>,
        signature_kid -> Nullable<Text>,
    }
}

diesel::table! {
    remittance_subjects (remittance_id, revenue_subject) {
        remittance_id -> Text,
        revenue_subject -> Text,
        account_code -> Text,
        name -> Text,
        amount_minor -> BigInt,
    }
}

diesel::table! {
    remittance_documents (remittance_id, revenue_subject, document) {
        remittance_id -> Text,
        revenue_subject -> Text,
        document -> Text,
        kind -> Text,
        payment_id -> Nullable<Text>,
        amount_minor -> BigInt,
    }
}

diesel::table! {
    treasury_request_nonces (token_id, signature) {
        token_id -> Text,
        signature -> Binary,
        seen_at -> Timestamp,
    }
}

diesel::table! {
    staff_users (id) {
        id -> Text,
        name -> Text,
        role -> Text,
        password_hash -> Binary,
        salt -> Binary,
        iterations -> BigInt,
        failures -> BigInt,
        locked_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        created_by -> Text,
        disabled_at -> Nullable<Timestamp>,
        person_id -> Nullable<Text>,
    }
}

diesel::table! {
    staff_sessions (id) {
        id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(staff_sessions -> staff_users (user_id));

diesel::table! {
    persons (id) {
        id -> Text,
        name -> Text,
        created_at -> Timestamp,
        created_by -> Text,
    }
}

diesel::table! {
    entry_posters (entry_seq) {
        entry_seq -> BigInt,
        person_id -> Text,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        alg -> Text,
        public_key -> Binary,
        valid_from -> Timestamp,
        valid_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    treasury_secrets (token_id, generation) {
        token_id -> Text,
        generation -> BigInt,
        created_at -> Timestamp,
        created_by -> Text,
        previous_valid_until -> Timestamp,
    }
}

diesel::joinable!(treasury_secrets -> api_tokens (token_id));

diesel::allow_tables_to_appear_in_same_query!(
    refunds,
    refund_requests,
    accounts,
    account_balances,
    account_day_totals,
    ledger_head,
    ledger_entries,
    ledger_postings,
    business_days,
    api_tokens,
    audit_log,
    fee_items,
    fee_item_concessions,
    departments,
    department_windows,
    receipt_series,
    payments,
    payment_lines,
    payment_cards,
    receipts,
    idempotency_keys,
    settlement_files,
    settlement_records,
    bank_statements,
    statement_bookings,
    statement_lines,
    settlement_file_withdrawals,
    settlement_file_stages,
    recon_runs,
    recon_outcomes,
    recon_exceptions,
    remittances,
    remittance_subjects,
    remittance_documents,
    treasury_request_nonces,
    staff_users,
    staff_sessions,
    persons,
    entry_posters,
    signing_keys,
    treasury_secrets,
);
