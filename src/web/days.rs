//! 日结: what stops a business day from closing (the close use case's own checks,
//! [`days::close_blockers`]), the close form, and a closed day's seal with how anyone can check
//! it with the published key.

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

use super::reconciliation::{blockers as blocker_views, morning_date, Blocker, DateForm};
use super::table::{link_csv, Cell, Table};
use super::{download, Chrome, Export, OrPage, PostForm, Staff, WebError, BASE};
use crate::auth::may;
use crate::http::blocking::with_conn;
use crate::recon::days::{self, CloseError, Day};
use crate::words;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/days", web::get().to(show))
        .route("/days/close", web::post().to(close));
}

words! {
    /// Labels of the day-close page (and of the day part of the daily report).
    pub struct DaysWords {
        title: "日结" / "Day close",
        state: "状态" / "State",
        open: "未结账" / "Open",
        closed: "已结账" / "Closed",
        entries: "当日分录数" / "Entries dated this day",
        last_hash: "最后一笔分录的链哈希" / "Chain hash of the last entry",
        closed_at: "结账时间（北京时间）" / "Closed at (Beijing time)",
        closed_by: "结账人" / "Closed by",
        blockers: "暂不能结账，原因：" / "The day cannot be closed yet:",
        no_blockers: "没有阻止结账的事项。" / "Nothing stops this day from closing.",
        open_exceptions: "未处理的对账差异" / "Open reconciliation exceptions",
        exception: "差异编号" / "Exception",
        work_them: "去对账页处理" / "Work them on the reconciliation page",
        close: "结账并签章" / "Close and seal the day",
        close_button: "结账" / "Close the day",
        close_hint: "结账后该日不再接受任何分录，结账信息以服务的 Ed25519 密钥签章。" / "Once closed, the day takes no more entries; the close is sealed with the service's Ed25519 key.",
        closed_message: "已结账并签章：" / "Closed and sealed: ",
        seal: "签章" / "Seal",
        seal_message: "签章内容（UTF-8，行间以换行分隔）" / "What the seal signs (UTF-8, lines separated by a newline)",
        signature: "签名（Base64，Ed25519）" / "Signature (base64, Ed25519)",
        public_key: "公钥（Base64，32 字节 Ed25519，亦见 GET /v1/signing-key）" / "Public key (base64, 32-byte Ed25519; also at GET /v1/signing-key)",
        verify: "如何验证签章" / "How to check the seal",
        verify_hint: "任何持有公钥的人都可以不经本系统用 OpenSSL 验证：" / "Anyone holding the public key can check it with OpenSSL alone, without this service:",
    }
}

#[derive(Template)]
#[template(path = "days.html", config = "src/web/askama.toml")]
struct DaysPage {
    c: Chrome,
    t: &'static DaysWords,
    date: NaiveDate,
    day: Day,
    blockers: Vec<Blocker>,
    open_exceptions: Table,
    may_close: bool,
    public_key: String,
    seal_message: String,
    verify_script: String,
}

/// `?date=&csv=`.
#[derive(Debug, Deserialize)]
struct DaysQuery {
    date: Option<String>,
    csv: Option<String>,
    xlsx: Option<String>,
}

/// The day with what stops it closing, as the close use case would refuse it.
pub(super) async fn day_state(
    staff: &Staff,
    date: NaiveDate,
) -> Result<(Day, Vec<CloseError>), WebError> {
    with_conn(&staff.ctx, move |conn, ctx| {
        let today = ctx.business_today();
        Ok((
            days::get(conn, date)?,
            days::close_blockers(conn, date, today)?,
        ))
    })
    .await
    .or_page(staff.lang)
}

/// The public key (base64) a day's seal is checked with: the one its key id names (a seal made
/// before a rotation keeps its old key), or the key that signs now for an open day.
async fn seal_key(staff: &Staff, kid: Option<String>) -> Result<String, WebError> {
    let published = with_conn(&staff.ctx, |conn, _| {
        Ok(crate::auth::signing_keys::list(conn)?)
    })
    .await
    .or_page(staff.lang)?;
    let named = published
        .into_iter()
        .find(|k| kid.as_deref().map_or(k.until.is_none(), |kid| k.kid == kid));
    Ok(named.map_or_else(|| staff.ctx.keys.public_key_base64(), |k| k.public_key))
}

/// The shell commands that check a seal with OpenSSL (as the README checks a remittance file).
fn verify_script(day: &Day, public_key: &str) -> String {
    // An open day has no seal yet: the script then shows an empty one (the page says so).
    let seal = day.seal.as_deref().unwrap_or_default();
    format!(
        "printf 'onecard-day-seal\\n{date}\\n{hash}\\n{entries}' > seal.txt\n\
         {{ printf '\\060\\052\\060\\005\\006\\003\\053\\145\\160\\003\\041\\000'; printf '%s' '{public_key}' | openssl base64 -d -A; }} > pub.der\n\
         openssl pkey -pubin -inform DER -in pub.der -out pub.pem\n\
         printf '%s' '{seal}' | openssl base64 -d -A > seal.sig\n\
         openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in seal.txt -sigfile seal.sig",
        date = day.date.format("%Y-%m-%d"),
        hash = day.last_entry_hash,
        entries = day.entries,
    )
}

async fn show(staff: Staff, query: web::Query<DaysQuery>) -> Result<HttpResponse, WebError> {
    staff.require(may::READ_DAYS)?;
    let lang = staff.lang;
    let date = morning_date(query.date.as_deref(), &staff.ctx).or_page(lang)?;
    let (day, blockers) = day_state(&staff, date).await?;
    let t = DaysWords::of(lang);
    let mut open_exceptions =
        Table::new("open_exceptions", t.open_exceptions, staff.w.nothing_here).col(t.exception);
    for b in &blockers {
        if let CloseError::OpenExceptions(ids) = b {
            for id in ids {
                open_exceptions.push(vec![Cell::link(
                    id,
                    format!("{BASE}/reconciliation?date={date}&status=open#work-{id}"),
                )]);
            }
        }
    }
    if let Some(id) = Export::asked(&query.csv, &query.xlsx) {
        return download(&[&open_exceptions], id, &format!("day-{date}"), lang);
    }
    link_csv(
        &mut [&mut open_exceptions],
        staff.request().path(),
        staff.request().query_string(),
    );
    let public_key = seal_key(&staff, day.seal_kid.clone()).await?;
    let page = DaysPage {
        c: staff.chrome(format!("{} · {date}", t.title), "days"),
        t,
        date,
        seal_message: days::seal_message(date, &day.last_entry_hash, day.entries),
        verify_script: verify_script(&day, &public_key),
        public_key,
        day,
        blockers: blocker_views(blockers, lang),
        open_exceptions,
        may_close: staff.may(may::CLOSE_DAY),
    };
    staff.page(&page)
}

async fn close(staff: Staff, form: PostForm<DateForm>) -> Result<HttpResponse, WebError> {
    let actor = staff.require(may::CLOSE_DAY)?.actor();
    let lang = staff.lang;
    let f = staff.form(form)?;
    let date = morning_date(Some(&f.date), &staff.ctx).or_page(lang)?;
    let ctx = &staff.ctx;
    let today = ctx.business_today();
    let day = days::close(&ctx.writer, ctx.keys.clone(), date, today, actor)
        .await
        .or_page(lang)?;
    let t = DaysWords::of(lang);
    Ok(staff.done(
        &format!("{BASE}/days?date={date}"),
        &format!(
            "{}{} ({}: {})",
            t.closed_message, day.date, t.entries, day.entries
        ),
    ))
}
