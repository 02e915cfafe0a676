//! Compilation of a declarative spec into a [`CompiledSpec`]: every mistake a spec can hold is
//! found here, naming the record or field at fault.
//!
//! Depends on: [`super`] (both forms), [`crate::bankfiles::records`] (settlement kinds).

use super::*;
use crate::bankfiles::records::{Direction, SettlementKind};

fn compile_format(text: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = text.bytes();
    while let Some(b) = chars.next() {
        if b == b'%' {
            out.push(match chars.next() {
                Some(b'Y') => Tok::Year,
                Some(b'm') => Tok::Month,
                Some(b'd') => Tok::Day,
                Some(b'H') => Tok::Hour,
                Some(b'M') => Tok::Minute,
                Some(b'S') => Tok::Second,
                _ => return Err(format!("format '{text}': only %Y %m %d %H %M %S are known")),
            });
        } else {
            out.push(Tok::Lit(b));
        }
    }
    Ok(out)
}

fn compile_name(pattern: &str) -> Result<Vec<NamePart>, String> {
    let mut parts = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(NamePart::Lit(rest[..open].to_string()));
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("file_name '{pattern}': '{{' without '}}'"))?;
        let name = &after[..close];
        if name.is_empty() {
            return Err(format!("file_name '{pattern}': empty capture"));
        }
        if matches!(parts.last(), Some(NamePart::Capture(_))) {
            return Err(format!(
                "file_name '{pattern}': two captures need literal text between them"
            ));
        }
        parts.push(NamePart::Capture(name.to_string()));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        parts.push(NamePart::Lit(rest.to_string()));
    }
    Ok(parts)
}

impl CompiledSpec {
    /// Checks a spec as written and compiles it.
    pub fn compile(raw: SpecFile) -> Result<CompiledSpec, String> {
        let (encoding, delimiter) = encoding_and_delimiter(&raw)?;
        let (kinds, item) = compile_kinds(&raw)?;
        let file_name = raw.file_name.as_deref().map(compile_name).transpose()?;
        let mut spec = CompiledSpec {
            id: raw.id.clone(),
            title: raw.title.clone(),
            produces: raw.produces,
            encoding,
            layout: raw.layout,
            bom: raw.bom,
            eof_marker: raw.eof_marker,
            delimiter,
            file_name,
            file_name_pattern: raw.file_name.clone(),
            constants: raw.constants.clone(),
            kinds,
            item,
            checks: Vec::new(),
        };
        if !spec
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            || spec.id.is_empty()
        {
            return Err(format!(
                "id '{}' must be lowercase letters, digits, '-' and '.'",
                spec.id
            ));
        }
        for c in &raw.checks {
            let check = compile_check(&spec, c)?;
            spec.checks.push(check);
        }
        check_canonical(&spec)?;
        Ok(spec)
    }
}

/// The spec's encoding and (for a delimited layout) its delimiter byte.
fn encoding_and_delimiter(raw: &SpecFile) -> Result<(Encoding, u8), String> {
    let encoding = match raw.encoding.to_ascii_lowercase().as_str() {
        "gb18030" | "gbk" | "gb2312" => Encoding::Gb18030,
        "utf-8" | "utf8" => Encoding::Utf8,
        other => return Err(format!("encoding '{other}' is not gb18030, gbk or utf-8")),
    };
    if raw.eof_marker && raw.layout != Layout::Fixed {
        return Err("eof_marker is only for fixed width".into());
    }
    let delimiter = match (&raw.layout, raw.delimiter.as_deref()) {
        (Layout::Delimited, None) => b',',
        (Layout::Delimited, Some(d)) if d.len() == 1 && d.is_ascii() => d.as_bytes()[0],
        (Layout::Delimited, Some(d)) => {
            return Err(format!("delimiter '{d}' must be one ASCII character"))
        }
        (Layout::Fixed, None) => b',',
        (Layout::Fixed, Some(_)) => return Err("a fixed-width spec has no delimiter".into()),
    };
    Ok((encoding, delimiter))
}

/// The record kinds in order and the index of the one item kind.
fn compile_kinds(raw: &SpecFile) -> Result<(Vec<Kind>, usize), String> {
    if raw.records.is_empty() {
        return Err("no record kinds".into());
    }
    let mut kinds = Vec::new();
    let mut item = None;
    for (index, r) in raw.records.iter().enumerate() {
        let kind = compile_kind(raw, r).map_err(|m| format!("record '{}': {m}", r.kind))?;
        if r.role == Role::Item {
            if item.is_some() {
                return Err(format!(
                    "record '{}': only one record kind can be the item",
                    r.kind
                ));
            }
            item = Some(index);
        }
        if kinds.iter().any(|k: &Kind| k.name == kind.name) {
            return Err(format!("record '{}' is defined twice", r.kind));
        }
        kinds.push(kind);
    }
    let item = item.ok_or("no record kind has role = \"item\"")?;
    let defaults = kinds
        .iter()
        .filter(|k| matches!(k.matcher, Matcher::Default))
        .count();
    if defaults > 1 {
        return Err("at most one record kind may go without prefix / first_column".into());
    }
    if let Some((i, k)) = kinds
        .iter()
        .enumerate()
        .find(|(_, k)| matches!(k.matcher, Matcher::Default))
    {
        if i != item {
            return Err(format!(
                "record '{}': only the item kind may go without prefix / first_column",
                k.name
            ));
        }
    }
    Ok((kinds, item))
}

/// Every name a canonical record needs comes from somewhere, and the item's `kind` and
/// `direction` codes map to values the records know.
fn check_canonical(spec: &CompiledSpec) -> Result<(), String> {
    let item = spec.item;
    // Every field a canonical record needs must come from somewhere.
    let (required, optional): (&[&str], &[&str]) = match spec.produces {
        Produces::Settlement => (SETTLEMENT_REQUIRED, SETTLEMENT_OPTIONAL),
        Produces::Statement => (STATEMENT_REQUIRED, STATEMENT_OPTIONAL),
    };
    for name in required {
        if !spec.provides(name) {
            return Err(format!(
                "nothing gives '{name}': add it to the item, a header, the file name or constants"
            ));
        }
    }
    if spec.produces == Produces::Statement {
        let pair = (spec.provides("amount") && spec.provides("direction"))
            || (spec.provides("debit") && spec.provides("credit"));
        if !pair {
            return Err("a statement needs 'amount' + 'direction' or 'debit' + 'credit'".into());
        }
    }
    let _ = optional;
    if let Some(kind_field) = spec.kinds[item].fields.iter().find(|f| f.name == "kind") {
        for v in kind_field.map.values() {
            if v.parse::<SettlementKind>().is_err() {
                return Err(format!(
                    "field 'kind' maps to '{v}', not purchase, void, refund or adjustment"
                ));
            }
        }
    }
    if let Some(dir) = spec.kinds[item]
        .fields
        .iter()
        .find(|f| f.name == "direction")
    {
        for v in dir.map.values() {
            if v.parse::<Direction>().is_err() {
                return Err(format!(
                    "field 'direction' maps to '{v}', not credit or debit"
                ));
            }
        }
    }
    Ok(())
}

fn compile_kind(spec: &SpecFile, r: &RecordSpec) -> Result<Kind, String> {
    let matcher = kind_matcher(spec, r)?;
    let length = match spec.layout {
        Layout::Fixed => Some(
            r.length
                .ok_or("fixed width: 'length' (bytes) is required")?,
        ),
        Layout::Delimited => r.width.or(r.columns.as_ref().map(Vec::len)),
    };
    if spec.layout == Layout::Fixed && r.width.is_some() {
        return Err("fixed width: use 'length', not 'width'".into());
    }
    let mut fields: Vec<Field> = Vec::new();
    for f in &r.fields {
        let field = compile_field(spec, r, f).map_err(|m| format!("field '{}': {m}", f.name))?;
        if fields.iter().any(|x| x.name == field.name) {
            return Err(format!("field '{}' is defined twice", f.name));
        }
        fields.push(field);
    }
    resolve_references(r, &mut fields)?;
    if let Some(len) = length {
        for f in &fields {
            let end = if spec.layout == Layout::Fixed {
                f.start + f.len
            } else {
                f.start + 1
            };
            if end > len {
                return Err(format!(
                    "field '{}' ends at {end}, beyond the record's {len}",
                    f.name
                ));
            }
        }
    }
    Ok(Kind {
        name: r.kind.clone(),
        role: r.role,
        repeat: r.repeat,
        matcher,
        columns: r.columns.clone(),
        length,
        fields,
    })
}

fn compile_field(spec: &SpecFile, r: &RecordSpec, f: &FieldSpec) -> Result<Field, String> {
    let (start, len, position) = field_position(spec.layout, f)?;
    let (format, year_from) = field_time(f)?;
    let unit = match (f.ty, f.unit) {
        (FieldType::Amount, Some(u)) => u,
        (FieldType::Amount, None) => return Err("amounts need 'unit' (fen or yuan)".into()),
        (_, Some(_)) => return Err("'unit' is only for amounts".into()),
        (_, None) => Unit::Fen,
    };
    if f.ty != FieldType::Amount
        && (f.thousands || f.signed || f.sign.is_some() || f.sign_from.is_some())
    {
        return Err("'thousands', 'signed', 'sign', 'sign_from' are only for amounts".into());
    }
    let sign_from_code = match f.sign_from.as_deref() {
        None => false,
        Some("code") => true,
        Some(other) => return Err(format!("sign_from '{other}': only \"code\" is known")),
    };
    if f.ty == FieldType::Code && f.map.is_empty() {
        return Err("a code needs 'map'".into());
    }
    if f.ty != FieldType::Code && !f.map.is_empty() {
        return Err("'map' is only for codes".into());
    }
    if let (Layout::Fixed, Some(eq)) = (spec.layout, &f.equals) {
        if eq.len() > len {
            return Err(format!(
                "'equals' text is longer than the field's {len} bytes"
            ));
        }
    }
    let _ = r;
    Ok(Field {
        name: f.name.clone(),
        start,
        len,
        position,
        ty: f.ty,
        format,
        year_from,
        year_from_field: None,
        unit,
        thousands: f.thousands,
        signed: f.signed,
        sign: None,
        sign_from_code,
        optional: f.optional,
        equals: f.equals.clone(),
        map: f.map.clone(),
        fallback: None,
    })
}

/// How lines of this record kind are recognised: a prefix (fixed width), a first column
/// (delimited), or neither (the one default kind).
fn kind_matcher(spec: &SpecFile, r: &RecordSpec) -> Result<Matcher, String> {
    Ok(
        match (spec.layout, &r.prefix, &r.first_column, &r.columns) {
            (Layout::Fixed, Some(p), None, None) if !p.is_empty() => {
                Matcher::Prefix(p.as_bytes().to_vec())
            }
            (Layout::Fixed, None, None, None) => Matcher::Default,
            (Layout::Fixed, _, _, _) => {
                return Err(
                    "fixed width: give a non-empty 'prefix' (not first_column / columns)".into(),
                )
            }
            (Layout::Delimited, None, Some(c), None) => Matcher::FirstColumn(c.clone()),
            (Layout::Delimited, None, None, Some(cols)) => match cols.first() {
                Some(first) => Matcher::FirstColumn(first.clone()),
                None => return Err("'columns' is empty".into()),
            },
            (Layout::Delimited, None, None, None) => Matcher::Default,
            (Layout::Delimited, _, _, _) => {
                return Err(
                    "delimited: give 'first_column' or 'columns', not 'prefix' or both".into(),
                )
            }
        },
    )
}

/// Resolves a field's `sign` and `fallback`, which name other fields of the same record.
fn resolve_references(r: &RecordSpec, fields: &mut [Field]) -> Result<(), String> {
    for (i, f) in r.fields.iter().enumerate() {
        if let Some(sign) = &f.sign {
            let at = fields
                .iter()
                .position(|x| &x.name == sign && x.ty == FieldType::Sign)
                .ok_or_else(|| {
                    format!(
                        "field '{}': sign field '{sign}' is not a 'sign' field of this record",
                        f.name
                    )
                })?;
            fields[i].sign = Some(at);
        }
        if let Some(fb) = &f.fallback {
            let at = fields.iter().position(|x| &x.name == fb).ok_or_else(|| {
                format!(
                    "field '{}': fallback '{fb}' is not a field of this record",
                    f.name
                )
            })?;
            fields[i].fallback = Some(at);
        }
        if let Some((from, _)) = &fields[i].year_from {
            let at = fields.iter().position(|x| &x.name == from);
            fields[i].year_from_field = at;
        }
    }
    Ok(())
}

/// Where a field is: 0-based start, length in bytes (0 when delimited), 1-based position as
/// the spec wrote it.
fn field_position(layout: Layout, f: &FieldSpec) -> Result<(usize, usize, usize), String> {
    Ok(match layout {
        Layout::Fixed => {
            let at = f.at.ok_or("fixed width: 'at' is required")?;
            let len = f.len.ok_or("fixed width: 'len' is required")?;
            if at == 0 || len == 0 {
                return Err("'at' and 'len' count from 1".into());
            }
            if f.column.is_some() {
                return Err("fixed width: use 'at'/'len', not 'column'".into());
            }
            (at - 1, len, at)
        }
        Layout::Delimited => {
            let col = f.column.ok_or("delimited: 'column' is required")?;
            if col == 0 {
                return Err("'column' counts from 1".into());
            }
            if f.at.is_some() || f.len.is_some() {
                return Err("delimited: use 'column', not 'at'/'len'".into());
            }
            (col - 1, 0, col)
        }
    })
}

/// A compiled date/time layout, and the value (with its window in days) that decides the year
/// when the layout has none.
type TimeLayout = (Vec<Tok>, Option<(String, i64)>);

/// A date, datetime or time field's compiled layout, and for a datetime without a year the
/// value that decides it (with the window in days).
fn field_time(f: &FieldSpec) -> Result<TimeLayout, String> {
    let format = match (f.ty, &f.format) {
        (FieldType::Date | FieldType::Datetime | FieldType::Time, Some(text)) => {
            compile_format(text)?
        }
        (FieldType::Date | FieldType::Datetime | FieldType::Time, None) => {
            return Err("dates and times need 'format'".into())
        }
        (_, Some(_)) => return Err("'format' is only for date, datetime and time".into()),
        (_, None) => Vec::new(),
    };
    let has = |t: Tok| format.contains(&t);
    match f.ty {
        FieldType::Date if !(has(Tok::Year) && has(Tok::Month) && has(Tok::Day)) => {
            return Err("a date format needs %Y %m %d".into())
        }
        FieldType::Datetime if !(has(Tok::Month) && has(Tok::Day) && has(Tok::Hour)) => {
            return Err("a datetime format needs at least %m %d %H".into())
        }
        FieldType::Time if !has(Tok::Hour) => return Err("a time format needs %H".into()),
        _ => {}
    }
    let year_from = match (f.ty, has(Tok::Year), &f.year_from) {
        (FieldType::Datetime, false, Some(from)) => {
            let days = f.year_window_days.unwrap_or(31);
            if !(1..=366).contains(&days) {
                return Err("'year_window_days' must be 1 to 366".into());
            }
            Some((from.clone(), days))
        }
        (FieldType::Datetime, false, None) => {
            return Err(
                "a datetime without %Y needs 'year_from' (the date that decides the year)".into(),
            )
        }
        (_, _, Some(_)) => return Err("'year_from' is only for a datetime without %Y".into()),
        _ => None,
    };
    Ok((format, year_from))
}

fn compile_check(spec: &CompiledSpec, c: &CheckSpec) -> Result<Check, String> {
    let resolve = |reference: &str| -> Result<(usize, usize), String> {
        let (kind, field) = reference
            .split_once('.')
            .ok_or_else(|| format!("check reference '{reference}' is not 'kind.field'"))?;
        let k = spec
            .kinds
            .iter()
            .position(|k| k.name == kind)
            .ok_or_else(|| format!("check reference '{reference}': no record kind '{kind}'"))?;
        if spec.kinds[k].role == Role::Item || spec.kinds[k].repeat == Repeat::Many {
            return Err(format!(
                "check reference '{reference}': '{kind}' must be a header, trailer or footer that occurs once"
            ));
        }
        let f = spec.kinds[k]
            .fields
            .iter()
            .position(|f| f.name == field)
            .ok_or_else(|| {
                format!("check reference '{reference}': '{kind}' has no field '{field}'")
            })?;
        match spec.kinds[k].fields[f].ty {
            FieldType::Integer | FieldType::Amount => Ok((k, f)),
            _ => Err(format!(
                "check reference '{reference}' must be an integer or amount field"
            )),
        }
    };
    let filter_ok = |filter: Filter| {
        matches!(
            (spec.produces, filter),
            (_, Filter::All)
                | (Produces::Statement, Filter::Credit | Filter::Debit)
                | (Produces::Settlement, Filter::Positive | Filter::Negative)
        )
    };
    match c {
        CheckSpec::Count { filter, equals } => {
            if !filter_ok(*filter) || matches!(filter, Filter::Positive | Filter::Negative) {
                return Err(format!(
                    "count check: filter {filter:?} does not apply here"
                ));
            }
            Ok(Check::Count {
                filter: *filter,
                equals: resolve(equals)?,
            })
        }
        CheckSpec::Sum {
            of,
            filter,
            absolute,
            equals,
        } => {
            let of = match (spec.produces, of.as_str()) {
                (Produces::Settlement, "gross") => SumOf::Gross,
                (Produces::Settlement, "fee") => SumOf::Fee,
                (Produces::Settlement, "net") => SumOf::Net,
                (Produces::Statement, "amount") => SumOf::Amount,
                (_, other) => return Err(format!("sum check: cannot sum '{other}' here")),
            };
            if !filter_ok(*filter) {
                return Err(format!("sum check: filter {filter:?} does not apply here"));
            }
            Ok(Check::Sum {
                of,
                filter: *filter,
                absolute: *absolute,
                equals: resolve(equals)?,
            })
        }
        CheckSpec::BalanceChain => {
            if spec.produces != Produces::Statement || !spec.provides("balance_after") {
                return Err("balance_chain needs a statement with 'balance_after'".into());
            }
            Ok(Check::BalanceChain)
        }
    }
}
