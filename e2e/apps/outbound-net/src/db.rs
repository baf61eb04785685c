//! The /pg and /mysql routes: parameters from the query string, rows as Debug text.

use std::fmt::Debug;

use super::Query;
use spin_sdk::{mysql as my, pg as pg2, pg3, pg4};

fn split(v: &str) -> (&str, &str) {
    v.split_once(':').unwrap_or((v, ""))
}

fn num<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("bad number {s:?}"))
}

fn hex(s: &str) -> Result<Vec<u8>, String> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2).unwrap_or("zz"), 16).map_err(|e| e.to_string()))
        .collect()
}

fn opt_list<T>(s: &str, f: impl Fn(&str) -> Result<T, String>) -> Result<Vec<Option<T>>, String> {
    s.split(',')
        .map(|x| if x == "_" { Ok(None) } else { f(x).map(Some) })
        .collect()
}

/// `[1,5)`: each bound `_` for unbounded.
fn range<T>(
    s: &str,
    f: impl Fn(&str) -> Result<T, String>,
) -> Result<
    (
        Option<(T, pg4::RangeBoundKind)>,
        Option<(T, pg4::RangeBoundKind)>,
    ),
    String,
> {
    use pg4::RangeBoundKind::*;
    let lo_kind = if s.starts_with('[') {
        Inclusive
    } else {
        Exclusive
    };
    let hi_kind = if s.ends_with(']') {
        Inclusive
    } else {
        Exclusive
    };
    let inner = &s[1..s.len() - 1];
    let (lo, hi) = inner.split_once(',').ok_or("range needs a comma")?;
    let bound = |v: &str, k| {
        if v == "_" {
            Ok(None)
        } else {
            f(v).map(|v| Some((v, k)))
        }
    };
    Ok((bound(lo, lo_kind)?, bound(hi, hi_kind)?))
}

fn pg4_param(p: &str) -> Result<pg4::ParameterValue, String> {
    use pg4::ParameterValue as P;
    let (t, v) = split(p);
    let ints = |v: &str| -> Result<Vec<u32>, String> { v.split(['-', ':']).map(num).collect() };
    Ok(match t {
        "null" => P::DbNull,
        "bool" => P::Boolean(v == "true"),
        "i8" => P::Int8(num(v)?),
        "i16" => P::Int16(num(v)?),
        "i32" => P::Int32(num(v)?),
        "i64" => P::Int64(num(v)?),
        "f32" => P::Floating32(num(v)?),
        "f64" => P::Floating64(num(v)?),
        "str" => P::Str(v.into()),
        "bin" => P::Binary(hex(v)?),
        "date" => {
            let n = ints(v)?;
            P::Date((n[0] as i32, n[1] as u8, n[2] as u8))
        }
        "time" => {
            let n = ints(v)?;
            P::Time((n[0] as u8, n[1] as u8, n[2] as u8, n[3]))
        }
        "dt" => {
            let n = ints(v)?;
            P::Datetime((
                n[0] as i32,
                n[1] as u8,
                n[2] as u8,
                n[3] as u8,
                n[4] as u8,
                n[5] as u8,
                n[6],
            ))
        }
        "ts" => P::Timestamp(num(v)?),
        "uuid" => P::Uuid(v.into()),
        "json" => P::Jsonb(v.as_bytes().to_vec()),
        "dec" => P::Decimal(v.into()),
        "r32" => P::RangeInt32(range(v, num)?),
        "r64" => P::RangeInt64(range(v, num)?),
        "rdec" => P::RangeDecimal(range(v, |s| Ok(s.to_string()))?),
        "a32" => P::ArrayInt32(opt_list(v, num)?),
        "a64" => P::ArrayInt64(opt_list(v, num)?),
        "adec" => P::ArrayDecimal(opt_list(v, |s| Ok(s.to_string()))?),
        "astr" => P::ArrayStr(opt_list(v, |s| Ok(s.to_string()))?),
        "iv" => {
            let n: Vec<i64> = v.split(',').map(num).collect::<Result<_, _>>()?;
            P::Interval(pg4::Interval {
                micros: n[0],
                days: n[1] as i32,
                months: n[2] as i32,
            })
        }
        other => return Err(format!("unknown parameter type {other:?}")),
    })
}

fn pg3_param(p: &str) -> Result<pg3::ParameterValue, String> {
    use pg3::ParameterValue as P;
    Ok(match pg4_param(p)? {
        pg4::ParameterValue::DbNull => P::DbNull,
        pg4::ParameterValue::Boolean(v) => P::Boolean(v),
        pg4::ParameterValue::Int16(v) => P::Int16(v),
        pg4::ParameterValue::Int32(v) => P::Int32(v),
        pg4::ParameterValue::Int64(v) => P::Int64(v),
        pg4::ParameterValue::Floating64(v) => P::Floating64(v),
        pg4::ParameterValue::Str(v) => P::Str(v),
        pg4::ParameterValue::Date(v) => P::Date(v),
        pg4::ParameterValue::Datetime(v) => P::Datetime(v),
        other => return Err(format!("{other:?} is not in this test's 3.0 subset")),
    })
}

/// rdbms-types parameters (Postgres 2.0 and MySQL), with unsigned integers.
fn rdbms_param(p: &str) -> Result<pg2::ParameterValue, String> {
    use pg2::ParameterValue as P;
    let (t, v) = split(p);
    Ok(match t {
        "null" => P::DbNull,
        "bool" => P::Boolean(v == "true"),
        "i8" => P::Int8(num(v)?),
        "i16" => P::Int16(num(v)?),
        "i32" => P::Int32(num(v)?),
        "i64" => P::Int64(num(v)?),
        "u8" => P::Uint8(num(v)?),
        "u16" => P::Uint16(num(v)?),
        "u32" => P::Uint32(num(v)?),
        "u64" => P::Uint64(num(v)?),
        "f32" => P::Floating32(num(v)?),
        "f64" => P::Floating64(num(v)?),
        "str" => P::Str(v.into()),
        "bin" => P::Binary(hex(v)?),
        other => return Err(format!("unknown parameter type {other:?}")),
    })
}

fn table<C, V: Debug>(columns: &[C], rows: &[Vec<V>], col: impl Fn(&C) -> String) -> String {
    table_with(columns, rows, col, |v| format!("{v:?}"))
}

fn table_with<C, V>(
    columns: &[C],
    rows: &[Vec<V>],
    col: impl Fn(&C) -> String,
    val: impl Fn(&V) -> String,
) -> String {
    let mut out = columns.iter().map(col).collect::<Vec<_>>().join("\t");
    for row in rows {
        out.push('\n');
        out.push_str(&row.iter().map(&val).collect::<Vec<_>>().join("\t"));
    }
    out
}

/// Debug, except that bytes show as text (JSON) or hex (binary) to keep lines readable.
fn pg4_value(v: &pg4::DbValue) -> String {
    match v {
        pg4::DbValue::Jsonb(b) => format!("DbValue::Jsonb({})", String::from_utf8_lossy(b)),
        pg4::DbValue::Binary(b) => format!("DbValue::Binary({})", to_hex(b)),
        pg4::DbValue::Unsupported(b) => format!("DbValue::Unsupported({})", to_hex(b)),
        other => format!("{other:?}"),
    }
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn err<E: Debug>(e: E) -> String {
    format!("{e:?}")
}

pub fn postgres(q: &Query, sql: &str) -> Result<String, String> {
    let address = q.get("address");
    let ps = q.all("p");
    let query = q.get("op") == "query";
    match q.get("v").as_str() {
        "4" => {
            let params = ps
                .iter()
                .map(|p| pg4_param(p))
                .collect::<Result<Vec<_>, _>>()?;
            let conn = pg4::Connection::open(&address).map_err(err)?;
            if query {
                let rs = conn.query(sql, &params).map_err(err)?;
                Ok(table_with(
                    &rs.columns,
                    &rs.rows,
                    |c| format!("{}:{:?}", c.name, c.data_type),
                    pg4_value,
                ))
            } else {
                conn.execute(sql, &params)
                    .map(|n| n.to_string())
                    .map_err(err)
            }
        }
        "3" => {
            let params = ps
                .iter()
                .map(|p| pg3_param(p))
                .collect::<Result<Vec<_>, _>>()?;
            let conn = pg3::Connection::open(&address).map_err(err)?;
            if query {
                let rs = conn.query(sql, &params).map_err(err)?;
                Ok(table(&rs.columns, &rs.rows, |c| {
                    format!("{}:{:?}", c.name, c.data_type)
                }))
            } else {
                conn.execute(sql, &params)
                    .map(|n| n.to_string())
                    .map_err(err)
            }
        }
        "2" => {
            let params = ps
                .iter()
                .map(|p| rdbms_param(p))
                .collect::<Result<Vec<_>, _>>()?;
            let conn = pg2::Connection::open(&address).map_err(err)?;
            if query {
                let rs = conn.query(sql, &params).map_err(err)?;
                Ok(table(&rs.columns, &rs.rows, |c| {
                    format!("{}:{:?}", c.name, c.data_type)
                }))
            } else {
                conn.execute(sql, &params)
                    .map(|n| n.to_string())
                    .map_err(err)
            }
        }
        other => Err(format!("unknown version {other:?}")),
    }
}

pub fn mysql(q: &Query, sql: &str) -> Result<String, String> {
    let params = q
        .all("p")
        .iter()
        .map(|p| rdbms_param(p))
        .collect::<Result<Vec<_>, _>>()?;
    let conn = my::Connection::open(&q.get("address")).map_err(err)?;
    if q.get("op") == "query" {
        let rs = conn.query(sql, &params).map_err(err)?;
        Ok(table(&rs.columns, &rs.rows, |c| {
            format!("{}:{:?}", c.name, c.data_type)
        }))
    } else {
        conn.execute(sql, &params)
            .map(|()| "ok".to_string())
            .map_err(err)
    }
}
