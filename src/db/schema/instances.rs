//! What several instances share (migration 000022): rate-limit windows, page tasks, job leases
//! and the nightly runs' claims (split from [`super`] at their seam; the same portable column
//! types).

diesel::table! {
    rate_windows (bucket, window_start) {
        bucket -> Text,
        window_start -> BigInt,
        used -> BigInt,
    }
}

diesel::table! {
    web_tasks (id) {
        id -> Text,
        owner -> Text,
        title -> Text,
        instance -> Text,
        phase -> Text,
        done -> BigInt,
        total -> Nullable<BigInt>,
        started_at -> Timestamp,
        heartbeat_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        outcome -> Nullable<Text>,
        summary -> Nullable<Text>,
        href -> Nullable<Text>,
        problem_code -> Nullable<Text>,
        problem_detail -> Nullable<Text>,
    }
}

diesel::table! {
    job_leases (name) {
        name -> Text,
        holder -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    nightly_runs (business_date) {
        business_date -> Date,
        instance -> Text,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}
