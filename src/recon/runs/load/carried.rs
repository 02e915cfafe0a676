//! The files a run carries forward from earlier days, and what runs of other dates already
//! found about their cash (DESIGN §5 "No credit is ever lost").

#[allow(unused_imports)]
use super::*;

/// The settlement files dated before `before` carried forward into the run of `date`: no run
/// of another date spent their cash (`cash_matched` / `cash_mismatch` active there) and their
/// settlement entry is not posted (or was posted by an earlier run of `date` itself, which
/// this run replaces). Whatever their age: an unpaid file is never dropped.
pub(super) fn carried_files(
    conn: &mut DbConn,
    date: NaiveDate,
    before: NaiveDate,
) -> Result<Vec<FileRow>, DbError> {
    let spent_elsewhere = recon_outcomes::table
        .filter(recon_outcomes::active.eq(true))
        .filter(recon_outcomes::subject.eq(Subject::File.as_ref()))
        .filter(recon_outcomes::category.eq_any(CONSUMING))
        .filter(recon_outcomes::business_date.ne(date))
        .filter(recon_outcomes::file_id.is_not_null())
        .select(recon_outcomes::file_id);
    let candidates: Vec<FileRow> = settlement_files::table
        .filter(settlement_files::produces.eq(Produces::Settlement.as_ref()))
        .filter(settlement_files::settlement_date.lt(before))
        .filter(settlement_files::id.nullable().ne_all(spent_elsewhere))
        .select(FileRow::as_select())
        .order(settlement_files::id)
        .load(conn)?;
    let mut posted: BTreeSet<String> = BTreeSet::new();
    for chunk in candidates.chunks(500) {
        let refs: Vec<String> = chunk.iter().map(|f| settlement_reference(&f.id)).collect();
        posted.extend(
            ledger_entries::table
                // A file written off (its whole gross taken out of transit) is finished too.
                .filter(
                    ledger_entries::kind
                        .eq_any([EntryKind::Settlement.as_str(), EntryKind::WriteOff.as_str()]),
                )
                .filter(ledger_entries::reference.eq_any(refs))
                .select(ledger_entries::reference)
                .load::<Option<String>>(conn)?
                .into_iter()
                .flatten(),
        );
    }
    let mut mine: BTreeSet<String> = BTreeSet::new();
    if !posted.is_empty() {
        mine.extend(
            recon_outcomes::table
                .filter(recon_outcomes::active.eq(true))
                .filter(recon_outcomes::business_date.eq(date))
                .filter(recon_outcomes::subject.eq(Subject::File.as_ref()))
                .filter(recon_outcomes::category.eq_any(CONSUMING))
                .select(recon_outcomes::file_id)
                .load::<Option<String>>(conn)?
                .into_iter()
                .flatten(),
        );
    }
    Ok(candidates
        .into_iter()
        .filter(|f| !posted.contains(&settlement_reference(&f.id)) || mine.contains(&f.id))
        .collect())
}

/// A stored file's envelope for the cash tier (net and line count from its stored lines).
pub(super) fn envelope(
    conn: &mut DbConn,
    f: &FileRow,
    date: NaiveDate,
) -> Result<SettlementFile, DbError> {
    let (lines, _, _, net_minor) = file_sums(conn, &f.id)?;
    Ok(file_in(
        f,
        net_minor,
        u64::try_from(lines).unwrap_or(0),
        date,
    ))
}

pub(super) fn file_in(f: &FileRow, net_minor: i64, lines: u64, date: NaiveDate) -> SettlementFile {
    SettlementFile {
        file_id: f.id.clone(),
        channel: if f.spec == "onecard-settlement-csv" {
            Channel::OneCard
        } else {
            Channel::BankCard
        },
        // a file that names no merchant (an optional fact of the file)
        merchant: f.merchant.clone().unwrap_or_default(),
        settlement_date: f.settlement_date.unwrap_or(date),
        net_minor,
        lines,
    }
}

/// What active runs of other dates found about the cash of `files` and the bookings of
/// `bookings`: files whose cash they spent or reported missing. A file another run paid with
/// one of `bookings` is added to `files` (its envelope), so the booking's sum adds up and the
/// booking is never spent twice.
pub(super) fn prior_cash(
    conn: &mut DbConn,
    date: NaiveDate,
    files: &mut Vec<SettlementFile>,
    bookings: &[Booking],
) -> Result<Vec<PriorCash>, DbError> {
    type Row = (NaiveDate, String, Option<String>, Option<i64>);
    let base = || {
        recon_outcomes::table
            .filter(recon_outcomes::active.eq(true))
            .filter(recon_outcomes::subject.eq(Subject::File.as_ref()))
            .filter(recon_outcomes::business_date.ne(date))
            .select((
                recon_outcomes::business_date,
                recon_outcomes::category,
                recon_outcomes::file_id,
                recon_outcomes::booking_id,
            ))
    };
    let mut rows: Vec<Row> = Vec::new();
    let file_ids: Vec<String> = files.iter().map(|f| f.file_id.clone()).collect();
    for chunk in file_ids.chunks(500) {
        rows.extend(
            base()
                .filter(recon_outcomes::file_id.eq_any(chunk))
                .filter(recon_outcomes::category.eq_any(CASH_KNOWN))
                .load::<Row>(conn)?,
        );
    }
    let booking_ids: Vec<i64> = bookings.iter().map(|b| b.id).collect();
    for chunk in booking_ids.chunks(500) {
        rows.extend(
            base()
                .filter(recon_outcomes::booking_id.eq_any(chunk))
                .filter(recon_outcomes::category.eq_any(CONSUMING))
                .load::<Row>(conn)?,
        );
    }
    // One per file: a run that spent the cash wins over one that reported it missing.
    let mut by_file: BTreeMap<String, PriorCash> = BTreeMap::new();
    for (owner_date, category, file_id, booking_id) in rows {
        let Some(file_id) = file_id else { continue };
        let category: Category = stored::parse("recon_outcomes.category", &category)?;
        let prior = PriorCash {
            file_id: file_id.clone(),
            owner_date,
            category,
            booking_id,
        };
        match by_file.get(&file_id) {
            Some(p) if p.category.consumes_cash() || !category.consumes_cash() => {}
            _ => {
                by_file.insert(file_id, prior);
            }
        }
    }
    let known: BTreeSet<String> = file_ids.into_iter().collect();
    let missing: Vec<&str> = by_file
        .keys()
        .filter(|id| !known.contains(*id))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        let rows: Vec<FileRow> = settlement_files::table
            .filter(settlement_files::id.eq_any(&missing))
            .select(FileRow::as_select())
            .order(settlement_files::id)
            .load(conn)?;
        for f in &rows {
            files.push(envelope(conn, f, date)?);
        }
    }
    Ok(by_file.into_values().collect())
}
