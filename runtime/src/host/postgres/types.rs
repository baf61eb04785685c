//! PostgreSQL values <-> `spin:postgres/postgres@4.0.0` values, with Spin's conversions
//! (older interface versions convert from these, see `versions.rs`).
//!
//! Reading: every column type the WIT names maps to its case (text-like types to `str`,
//! `timestamp`/`timestamptz` to `datetime` in UTC, `json`/`jsonb` to `jsonb` bytes, `numeric`
//! to a base-10 `decimal` string, ranges and one-dimensional arrays where 4.0 has them), NULL
//! to `db-null`, and any other type to `unsupported` carrying the server's binary encoding.

use std::error::Error as StdError;

use bytes::BytesMut;
use chrono::{Datelike, Timelike};
use postgres_protocol::types as proto;
use tokio_postgres::types::{accepts, to_sql_checked, FromSql, IsNull, Kind, ToSql, Type};
use tokio_postgres::Row;

use crate::host::bindings::spin::postgres4_0_0::postgres::{
    DbDataType, DbValue, Interval, ParameterValue, RangeBoundKind,
};

type BoxError = Box<dyn StdError + Sync + Send>;

/// The WIT data type of a column.
pub fn data_type(t: &Type) -> DbDataType {
    match *t {
        Type::BOOL => DbDataType::Boolean,
        Type::BYTEA => DbDataType::Binary,
        Type::FLOAT4 => DbDataType::Floating32,
        Type::FLOAT8 => DbDataType::Floating64,
        Type::INT2 => DbDataType::Int16,
        Type::INT4 => DbDataType::Int32,
        Type::INT8 => DbDataType::Int64,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => DbDataType::Str,
        Type::TIMESTAMP | Type::TIMESTAMPTZ => DbDataType::Datetime,
        Type::DATE => DbDataType::Date,
        Type::TIME => DbDataType::Time,
        Type::UUID => DbDataType::Uuid,
        Type::JSON | Type::JSONB => DbDataType::Jsonb,
        Type::NUMERIC => DbDataType::Decimal,
        Type::INT4_RANGE => DbDataType::RangeInt32,
        Type::INT8_RANGE => DbDataType::RangeInt64,
        Type::NUM_RANGE => DbDataType::RangeDecimal,
        Type::INT4_ARRAY => DbDataType::ArrayInt32,
        Type::INT8_ARRAY => DbDataType::ArrayInt64,
        Type::NUMERIC_ARRAY => DbDataType::ArrayDecimal,
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => DbDataType::ArrayStr,
        Type::INTERVAL => DbDataType::Interval,
        _ => DbDataType::Other(t.name().to_owned()),
    }
}

/// `Some(v)` through `f`, NULL as `db-null`.
fn get<'a, T: FromSql<'a>>(
    row: &'a Row,
    i: usize,
    f: impl FnOnce(T) -> Result<DbValue, String>,
) -> Result<DbValue, String> {
    match row.try_get::<_, Option<T>>(i) {
        Ok(Some(v)) => f(v),
        Ok(None) => Ok(DbValue::DbNull),
        Err(e) => Err(format!("column {i} ({}): {e}", row.columns()[i].name())),
    }
}

/// Column `i` of `row` as its WIT value.
pub fn value(row: &Row, i: usize) -> Result<DbValue, String> {
    let ok = |v| Ok(v);
    match *row.columns()[i].type_() {
        Type::BOOL => get(row, i, |v| ok(DbValue::Boolean(v))),
        Type::BYTEA => get(row, i, |v| ok(DbValue::Binary(v))),
        Type::FLOAT4 => get(row, i, |v| ok(DbValue::Floating32(v))),
        Type::FLOAT8 => get(row, i, |v| ok(DbValue::Floating64(v))),
        Type::INT2 => get(row, i, |v| ok(DbValue::Int16(v))),
        Type::INT4 => get(row, i, |v| ok(DbValue::Int32(v))),
        Type::INT8 => get(row, i, |v| ok(DbValue::Int64(v))),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => get(row, i, |v| ok(DbValue::Str(v))),
        Type::TIMESTAMP => get(row, i, |v| ok(DbValue::Datetime(datetime_to_wit(v)))),
        Type::TIMESTAMPTZ => get(row, i, |v: chrono::DateTime<chrono::Utc>| {
            ok(DbValue::Datetime(datetime_to_wit(v.naive_utc())))
        }),
        Type::DATE => get(row, i, |v| ok(DbValue::Date(date_to_wit(v)))),
        Type::TIME => get(row, i, |v| ok(DbValue::Time(time_to_wit(v)))),
        Type::UUID => get(row, i, |v: uuid::Uuid| ok(DbValue::Uuid(v.to_string()))),
        Type::JSON | Type::JSONB => get(row, i, |v: serde_json::Value| {
            serde_json::to_vec(&v)
                .map(DbValue::Jsonb)
                .map_err(|e| e.to_string())
        }),
        Type::NUMERIC => get(row, i, |v: rust_decimal::Decimal| {
            ok(DbValue::Decimal(v.to_string()))
        }),
        Type::INT4_RANGE => get(row, i, |r: PgRange<i32>| ok(DbValue::RangeInt32(r.0))),
        Type::INT8_RANGE => get(row, i, |r: PgRange<i64>| ok(DbValue::RangeInt64(r.0))),
        Type::NUM_RANGE => get(row, i, |r: PgRange<rust_decimal::Decimal>| {
            let s = |b: Option<(rust_decimal::Decimal, RangeBoundKind)>| {
                b.map(|(d, k)| (d.to_string(), k))
            };
            ok(DbValue::RangeDecimal((s(r.0 .0), s(r.0 .1))))
        }),
        Type::INT4_ARRAY => get(row, i, |v| ok(DbValue::ArrayInt32(v))),
        Type::INT8_ARRAY => get(row, i, |v| ok(DbValue::ArrayInt64(v))),
        Type::NUMERIC_ARRAY => get(row, i, |v: Vec<Option<rust_decimal::Decimal>>| {
            ok(DbValue::ArrayDecimal(
                v.into_iter().map(|d| d.map(|d| d.to_string())).collect(),
            ))
        }),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => {
            get(row, i, |v| ok(DbValue::ArrayStr(v)))
        }
        Type::INTERVAL => get(row, i, |v: PgInterval| ok(DbValue::Interval(v.0))),
        _ => get(row, i, |v: Raw| ok(DbValue::Unsupported(v.0))),
    }
}

fn datetime_to_wit(v: chrono::NaiveDateTime) -> (i32, u8, u8, u8, u8, u8, u32) {
    let (y, mo, d) = date_to_wit(v.date());
    let (h, mi, s, ns) = time_to_wit(v.time());
    (y, mo, d, h, mi, s, ns)
}

// Month, day, hour, minute and second always fit in a u8.
fn date_to_wit(v: chrono::NaiveDate) -> (i32, u8, u8) {
    (v.year(), v.month() as u8, v.day() as u8)
}

fn time_to_wit(v: chrono::NaiveTime) -> (u8, u8, u8, u32) {
    (
        v.hour() as u8,
        v.minute() as u8,
        v.second() as u8,
        v.nanosecond(),
    )
}

fn date_from_wit((y, mo, d): (i32, u8, u8)) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::from_ymd_opt(y, mo.into(), d.into())
        .ok_or_else(|| format!("invalid date y={y}, m={mo}, d={d}"))
}

fn time_from_wit((h, mi, s, ns): (u8, u8, u8, u32)) -> Result<chrono::NaiveTime, String> {
    chrono::NaiveTime::from_hms_nano_opt(h.into(), mi.into(), s.into(), ns)
        .ok_or_else(|| format!("invalid time {h}:{mi}:{s}.{ns}"))
}

fn decimal_from_wit(s: &str) -> Result<rust_decimal::Decimal, String> {
    rust_decimal::Decimal::from_str_exact(s).map_err(|e| format!("invalid decimal {s:?}: {e}"))
}

/// A query parameter as tokio-postgres sends it.
pub type Param = Box<dyn ToSql + Send + Sync>;

/// A parameter; errors say which value is wrong (the caller adds its position).
pub fn param(p: ParameterValue) -> Result<Param, String> {
    Ok(match p {
        ParameterValue::Boolean(v) => Box::new(v),
        ParameterValue::Int8(v) => Box::new(v),
        ParameterValue::Int16(v) => Box::new(v),
        ParameterValue::Int32(v) => Box::new(v),
        ParameterValue::Int64(v) => Box::new(v),
        ParameterValue::Floating32(v) => Box::new(v),
        ParameterValue::Floating64(v) => Box::new(v),
        ParameterValue::Str(v) => Box::new(v),
        ParameterValue::Binary(v) => Box::new(v),
        ParameterValue::Date(v) => Box::new(date_from_wit(v)?),
        ParameterValue::Time(v) => Box::new(time_from_wit(v)?),
        ParameterValue::Datetime((y, mo, d, h, mi, s, ns)) => Box::new(AnyTimestamp(
            chrono::NaiveDateTime::new(date_from_wit((y, mo, d))?, time_from_wit((h, mi, s, ns))?),
        )),
        ParameterValue::Timestamp(secs) => Box::new(AnyTimestamp(
            chrono::DateTime::from_timestamp(secs, 0)
                .ok_or_else(|| format!("invalid epoch timestamp {secs}"))?
                .naive_utc(),
        )),
        ParameterValue::Uuid(v) => {
            Box::new(uuid::Uuid::parse_str(&v).map_err(|e| format!("invalid UUID {v:?}: {e}"))?)
        }
        ParameterValue::Jsonb(v) => Box::new(
            serde_json::from_slice::<serde_json::Value>(&v)
                .map_err(|e| format!("invalid JSON {:?}: {e}", String::from_utf8_lossy(&v)))?,
        ),
        ParameterValue::Decimal(v) => Box::new(decimal_from_wit(&v)?),
        ParameterValue::RangeInt32(r) => Box::new(PgRange(r)),
        ParameterValue::RangeInt64(r) => Box::new(PgRange(r)),
        ParameterValue::RangeDecimal((lo, hi)) => {
            let d = |b: Option<(String, RangeBoundKind)>| {
                b.map(|(s, k)| decimal_from_wit(&s).map(|d| (d, k)))
                    .transpose()
            };
            Box::new(PgRange((d(lo)?, d(hi)?)))
        }
        ParameterValue::ArrayInt32(v) => Box::new(v),
        ParameterValue::ArrayInt64(v) => Box::new(v),
        ParameterValue::ArrayDecimal(v) => Box::new(
            v.iter()
                .map(|d| d.as_deref().map(decimal_from_wit).transpose())
                .collect::<Result<Vec<_>, _>>()?,
        ),
        ParameterValue::ArrayStr(v) => Box::new(v),
        ParameterValue::Interval(v) => Box::new(PgInterval(v)),
        ParameterValue::DbNull => Box::new(Null),
    })
}

/// NULL for a parameter of any type.
#[derive(Debug)]
struct Null;

impl ToSql for Null {
    fn to_sql(&self, _: &Type, _: &mut BytesMut) -> Result<IsNull, BoxError> {
        Ok(IsNull::Yes)
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

/// A date-time for `timestamp` and `timestamptz` columns alike (the encoding is the same;
/// WIT date-times are UTC).
#[derive(Debug)]
struct AnyTimestamp(chrono::NaiveDateTime);

impl ToSql for AnyTimestamp {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        self.0.to_sql(&Type::TIMESTAMP, out)
    }
    accepts!(TIMESTAMP, TIMESTAMPTZ);
    to_sql_checked!();
}

/// The server's binary encoding of a type this runtime has no WIT case for.
struct Raw(Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(Raw(raw.to_vec()))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

/// `interval`: microseconds, days and months, as Postgres stores it.
#[derive(Debug)]
struct PgInterval(Interval);

impl<'a> FromSql<'a> for PgInterval {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let bytes: [u8; 16] = raw.try_into().map_err(|_| "interval is not 16 bytes")?;
        let (micros, rest) = bytes.split_at(8);
        let (days, months) = rest.split_at(4);
        Ok(PgInterval(Interval {
            micros: i64::from_be_bytes(micros.try_into()?),
            days: i32::from_be_bytes(days.try_into()?),
            months: i32::from_be_bytes(months.try_into()?),
        }))
    }
    accepts!(INTERVAL);
}

impl ToSql for PgInterval {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        out.extend_from_slice(&self.0.micros.to_be_bytes());
        out.extend_from_slice(&self.0.days.to_be_bytes());
        out.extend_from_slice(&self.0.months.to_be_bytes());
        Ok(IsNull::No)
    }
    accepts!(INTERVAL);
    to_sql_checked!();
}

/// A range as WIT has it: each bound absent (unbounded) or a value with its kind. An empty
/// range reads as `(none, none)`, as in Spin.
type Bounds<T> = (Option<(T, RangeBoundKind)>, Option<(T, RangeBoundKind)>);

#[derive(Debug)]
struct PgRange<T>(Bounds<T>);

/// Writes one bound's value (if bounded) for `range_to_sql`.
fn write_bound<'a, T: ToSql>(
    bound: &'a Option<(T, RangeBoundKind)>,
    inner: &'a Type,
) -> impl FnOnce(&mut BytesMut) -> Result<proto::RangeBound<postgres_protocol::IsNull>, BoxError> + 'a
{
    move |buf| {
        let Some((v, kind)) = bound else {
            return Ok(proto::RangeBound::Unbounded);
        };
        let is_null = match v.to_sql(inner, buf)? {
            IsNull::Yes => postgres_protocol::IsNull::Yes,
            IsNull::No => postgres_protocol::IsNull::No,
        };
        Ok(match kind {
            RangeBoundKind::Inclusive => proto::RangeBound::Inclusive(is_null),
            RangeBoundKind::Exclusive => proto::RangeBound::Exclusive(is_null),
        })
    }
}

/// The element type of a range type (`int4` for `int4range`).
fn element(ty: &Type) -> Result<&Type, BoxError> {
    match ty.kind() {
        Kind::Range(inner) => Ok(inner),
        _ => Err(format!("{ty} is not a range type").into()),
    }
}

impl<'a, T: FromSql<'a>> FromSql<'a> for PgRange<T> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let inner = element(ty)?;
        let bound = |b: proto::RangeBound<Option<&'a [u8]>>| -> Result<_, BoxError> {
            let (raw, kind) = match b {
                proto::RangeBound::Unbounded => return Ok(None),
                proto::RangeBound::Inclusive(v) => (v, RangeBoundKind::Inclusive),
                proto::RangeBound::Exclusive(v) => (v, RangeBoundKind::Exclusive),
            };
            let raw = raw.ok_or("NULL range bound")?;
            Ok(Some((T::from_sql(inner, raw)?, kind)))
        };
        match proto::range_from_sql(raw)? {
            proto::Range::Empty => Ok(PgRange((None, None))),
            proto::Range::Nonempty(lo, hi) => Ok(PgRange((bound(lo)?, bound(hi)?))),
        }
    }
    fn accepts(ty: &Type) -> bool {
        matches!(ty.kind(), Kind::Range(inner) if T::accepts(inner))
    }
}

impl<T: ToSql> ToSql for PgRange<T> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let inner = element(ty)?;
        proto::range_to_sql(
            write_bound(&self.0 .0, inner),
            write_bound(&self.0 .1, inner),
            out,
        )?;
        Ok(IsNull::No)
    }
    fn accepts(ty: &Type) -> bool {
        matches!(ty.kind(), Kind::Range(inner) if T::accepts(inner))
    }
    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wit_dates_and_times_round_trip_and_bad_ones_are_named() {
        let d = date_from_wit((2024, 2, 29)).unwrap();
        assert_eq!(date_to_wit(d), (2024, 2, 29));
        assert!(date_from_wit((2023, 2, 29)).unwrap_err().contains("y=2023"));
        let t = time_from_wit((23, 59, 58, 123_456_000)).unwrap();
        assert_eq!(time_to_wit(t), (23, 59, 58, 123_456_000));
        assert!(time_from_wit((24, 0, 0, 0)).is_err());
        assert!(decimal_from_wit("12.5x").unwrap_err().contains("12.5x"));
    }

    #[test]
    fn intervals_and_ranges_encode_as_postgres_does() {
        let iv = PgInterval(Interval {
            micros: 1_500_000,
            days: -2,
            months: 14,
        });
        let mut buf = BytesMut::new();
        iv.to_sql(&Type::INTERVAL, &mut buf).unwrap();
        let back = PgInterval::from_sql(&Type::INTERVAL, &buf).unwrap();
        assert_eq!(
            (back.0.micros, back.0.days, back.0.months),
            (1_500_000, -2, 14)
        );

        let range = PgRange((
            Some((3i32, RangeBoundKind::Inclusive)),
            Some((9i32, RangeBoundKind::Exclusive)),
        ));
        let mut buf = BytesMut::new();
        range.to_sql(&Type::INT4_RANGE, &mut buf).unwrap();
        let back = PgRange::<i32>::from_sql(&Type::INT4_RANGE, &buf).unwrap();
        assert!(matches!(
            back.0,
            (
                Some((3, RangeBoundKind::Inclusive)),
                Some((9, RangeBoundKind::Exclusive))
            )
        ));
        assert!(!<PgRange<i32> as ToSql>::accepts(&Type::INT8_RANGE));
        assert!(<PgRange<i64> as FromSql>::accepts(&Type::INT8_RANGE));
    }
}
