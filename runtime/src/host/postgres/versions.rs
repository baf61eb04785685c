//! The older PostgreSQL interfaces as views of 4.0: `spin:postgres@3.0.0` lacks uuid, json,
//! decimals, ranges, arrays and intervals (those read as `unsupported`, data type `other`),
//! `fermyon:spin/postgres@2.0.0` (rdbms-types) also lacks dates and times, and has unsigned
//! integers Postgres cannot take. The same mapping as Spin's.

use crate::host::bindings::fermyon::spin::rdbms_types as v2;
use crate::host::bindings::spin::postgres3_0_0::postgres as v3;
use crate::host::bindings::spin::postgres4_0_0::postgres as v4;

/// A `spin:postgres@3.0.0` parameter as a 4.0 one.
pub fn v3_param(p: v3::ParameterValue) -> v4::ParameterValue {
    use v3::ParameterValue as P;
    use v4::ParameterValue as Q;
    match p {
        P::Boolean(v) => Q::Boolean(v),
        P::Int8(v) => Q::Int8(v),
        P::Int16(v) => Q::Int16(v),
        P::Int32(v) => Q::Int32(v),
        P::Int64(v) => Q::Int64(v),
        P::Floating32(v) => Q::Floating32(v),
        P::Floating64(v) => Q::Floating64(v),
        P::Str(v) => Q::Str(v),
        P::Binary(v) => Q::Binary(v),
        P::Date(v) => Q::Date(v),
        P::Time(v) => Q::Time(v),
        P::Datetime(v) => Q::Datetime(v),
        P::Timestamp(v) => Q::Timestamp(v),
        P::DbNull => Q::DbNull,
    }
}

/// A `fermyon:spin/postgres@2.0.0` parameter as a 4.0 one; an error for any unsigned integer, which
/// Postgres lacks (as in Spin).
pub fn v2_param(p: v2::ParameterValue) -> Result<v4::ParameterValue, String> {
    use v2::ParameterValue as P;
    use v4::ParameterValue as Q;
    Ok(match p {
        P::Boolean(v) => Q::Boolean(v),
        P::Int8(v) => Q::Int8(v),
        P::Int16(v) => Q::Int16(v),
        P::Int32(v) => Q::Int32(v),
        P::Int64(v) => Q::Int64(v),
        P::Uint8(_) | P::Uint16(_) | P::Uint32(_) | P::Uint64(_) => {
            return Err("Postgres does not support unsigned integers".into())
        }
        P::Floating32(v) => Q::Floating32(v),
        P::Floating64(v) => Q::Floating64(v),
        P::Str(v) => Q::Str(v),
        P::Binary(v) => Q::Binary(v),
        P::DbNull => Q::DbNull,
    })
}

/// A 4.0 value as 3.0 sees it (`unsupported` for types 3.0 lacks).
pub fn v3_value(v: v4::DbValue) -> v3::DbValue {
    use v3::DbValue as W;
    use v4::DbValue as V;
    match v {
        V::Boolean(v) => W::Boolean(v),
        V::Int8(v) => W::Int8(v),
        V::Int16(v) => W::Int16(v),
        V::Int32(v) => W::Int32(v),
        V::Int64(v) => W::Int64(v),
        V::Floating32(v) => W::Floating32(v),
        V::Floating64(v) => W::Floating64(v),
        V::Str(v) => W::Str(v),
        V::Binary(v) => W::Binary(v),
        V::Date(v) => W::Date(v),
        V::Time(v) => W::Time(v),
        V::Datetime(v) => W::Datetime(v),
        V::Timestamp(v) => W::Timestamp(v),
        V::DbNull => W::DbNull,
        _ => W::Unsupported,
    }
}

/// A 4.0 value as 2.0 sees it (`unsupported` for types 2.0 lacks).
pub fn v2_value(v: v4::DbValue) -> v2::DbValue {
    use v2::DbValue as W;
    use v4::DbValue as V;
    match v {
        V::Boolean(v) => W::Boolean(v),
        V::Int8(v) => W::Int8(v),
        V::Int16(v) => W::Int16(v),
        V::Int32(v) => W::Int32(v),
        V::Int64(v) => W::Int64(v),
        V::Floating32(v) => W::Floating32(v),
        V::Floating64(v) => W::Floating64(v),
        V::Str(v) => W::Str(v),
        V::Binary(v) => W::Binary(v),
        V::DbNull => W::DbNull,
        _ => W::Unsupported,
    }
}

/// A 4.0 column type as 3.0 sees it (`other` for types 3.0 lacks).
pub fn v3_type(t: v4::DbDataType) -> v3::DbDataType {
    use v3::DbDataType as U;
    use v4::DbDataType as T;
    match t {
        T::Boolean => U::Boolean,
        T::Int8 => U::Int8,
        T::Int16 => U::Int16,
        T::Int32 => U::Int32,
        T::Int64 => U::Int64,
        T::Floating32 => U::Floating32,
        T::Floating64 => U::Floating64,
        T::Str => U::Str,
        T::Binary => U::Binary,
        T::Date => U::Date,
        T::Time => U::Time,
        T::Datetime => U::Datetime,
        T::Timestamp => U::Timestamp,
        _ => U::Other,
    }
}

/// A 4.0 column type as 2.0 sees it (`other` for types 2.0 lacks).
pub fn v2_type(t: v4::DbDataType) -> v2::DbDataType {
    use v2::DbDataType as U;
    use v4::DbDataType as T;
    match t {
        T::Boolean => U::Boolean,
        T::Int8 => U::Int8,
        T::Int16 => U::Int16,
        T::Int32 => U::Int32,
        T::Int64 => U::Int64,
        T::Floating32 => U::Floating32,
        T::Floating64 => U::Floating64,
        T::Str => U::Str,
        T::Binary => U::Binary,
        _ => U::Other,
    }
}

/// A 4.0 row set as 3.0 sees it.
pub fn v3_rows(rs: v4::RowSet) -> v3::RowSet {
    v3::RowSet {
        columns: rs
            .columns
            .into_iter()
            .map(|c| v3::Column {
                name: c.name,
                data_type: v3_type(c.data_type),
            })
            .collect(),
        rows: rs
            .rows
            .into_iter()
            .map(|r| r.into_iter().map(v3_value).collect())
            .collect(),
    }
}

/// A 4.0 row set as 2.0 sees it.
pub fn v2_rows(rs: v4::RowSet) -> v2::RowSet {
    v2::RowSet {
        columns: rs
            .columns
            .into_iter()
            .map(|c| v2::Column {
                name: c.name,
                data_type: v2_type(c.data_type),
            })
            .collect(),
        rows: rs
            .rows
            .into_iter()
            .map(|r| r.into_iter().map(v2_value).collect())
            .collect(),
    }
}

/// 4.0's error in 3.0's shape (its query failures are text).
pub fn v3_error(e: v4::Error) -> v3::Error {
    match e {
        v4::Error::ConnectionFailed(m) => v3::Error::ConnectionFailed(m),
        v4::Error::BadParameter(m) => v3::Error::BadParameter(m),
        v4::Error::QueryFailed(q) => v3::Error::QueryFailed(query_text(q)),
        v4::Error::ValueConversionFailed(m) => v3::Error::ValueConversionFailed(m),
        v4::Error::Other(m) => v3::Error::Other(m),
    }
}

/// A 4.0 error as 2.0 reports it.
pub fn v2_error(e: v4::Error) -> v2::Error {
    match e {
        v4::Error::ConnectionFailed(m) => v2::Error::ConnectionFailed(m),
        v4::Error::BadParameter(m) => v2::Error::BadParameter(m),
        v4::Error::QueryFailed(q) => v2::Error::QueryFailed(query_text(q)),
        v4::Error::ValueConversionFailed(m) => v2::Error::ValueConversionFailed(m),
        v4::Error::Other(m) => v2::Error::Other(m),
    }
}

fn query_text(q: v4::QueryError) -> String {
    match q {
        v4::QueryError::Text(t) => t,
        v4::QueryError::DbError(d) => d.as_text,
    }
}
