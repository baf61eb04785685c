//! Outbound PostgreSQL (`spin:postgres/postgres@4.0.0`, `@3.0.0`, `fermyon:spin/postgres@2.0.0`)
//! through a real guest (e2e/apps/outbound-net, spin-sdk 5.2) and a throwaway PostgreSQL
//! cluster with password authentication.

mod common;

use common::{app_dir, urlencode, Up};
use spinkube_testenv::postgres::Postgres;

const USER: &str = "spin";
const PASSWORD: &str = "s3cr3t";

fn start(pg: &Postgres) -> Up {
    let dir = app_dir("e2e/apps/outbound-net");
    let port = format!("pg_port={}", pg.port());
    Up::start(&["-f", dir.to_str().unwrap(), "--variable", &port])
}

/// `POST /pg`: (status, body lines).
fn pg(up: &Up, v: u8, op: &str, address: &str, params: &[&str], sql: &str) -> (u16, String) {
    let mut path = format!("/pg?v={v}&op={op}&address={}", urlencode(address));
    for p in params {
        path.push_str(&format!("&p={}", urlencode(p)));
    }
    up.send("POST", &path, sql)
}

fn fields(line: &str) -> Vec<&str> {
    line.split('\t').collect()
}

const TABLE: &str = "CREATE TABLE everything (
    id int4 PRIMARY KEY, b bool, i2 int2, i8 int8, f4 float4, f8 float8,
    t text, vc varchar(10), bc char(3), by bytea, d date, tm time, ts timestamp, tstz timestamptz,
    u uuid, j jsonb, js json, n numeric(10,3), r4 int4range, r8 int8range, rn numrange,
    a4 int4[], a8 int8[], an numeric[], at text[], iv interval, ip inet)";

#[test]
fn every_column_type_round_trips_through_query() {
    let db = Postgres::start(USER, PASSWORD);
    db.psql(TABLE);
    let up = start(&db);
    let url = db.url();
    let insert = "INSERT INTO everything VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
        $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, '10.1.2.3')";
    let params = [
        "i32:1",
        "bool:true",
        "i16:-7",
        "i64:9000000000",
        "f32:1.5",
        "f64:-2.25",
        "str:héllo",
        "str:short",
        "str:abc",
        "bin:00ff10",
        "date:2024-2-29",
        "time:13:14:15:500000000",
        "dt:2024-2-29-13-14-15-123456000",
        "dt:1999-12-31-23-59-59-0",
        "uuid:67e55044-10b1-426f-9247-bb680e5fe0c8",
        r#"json:{"a": [1, 2]}"#,
        r#"json:{"b":null}"#,
        "dec:12.345",
        "r32:[1,5)",
        "r64:(_,100]",
        "rdec:[1.5,2.5)",
        "a32:1,_,3",
        "a64:-9000000000,7",
        "adec:1.10,_",
        "astr:a,_,c",
        "iv:1500000,2,14",
    ];
    assert_eq!(
        pg(&up, 4, "execute", &url, &params, insert),
        (200, "1".into())
    );
    db.psql("INSERT INTO everything (id) VALUES (2)");

    let (status, body) = pg(
        &up,
        4,
        "query",
        &url,
        &[],
        "SELECT * FROM everything ORDER BY id",
    );
    assert_eq!(status, 200, "{body}");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 3, "{body}");
    #[rustfmt::skip]
    let expected: &[(&str, &str, &str)] = &[
        ("id", "Int32", "Int32(1)"),
        ("b", "Boolean", "Boolean(true)"),
        ("i2", "Int16", "Int16(-7)"),
        ("i8", "Int64", "Int64(9000000000)"),
        ("f4", "Floating32", "Floating32(1.5)"),
        ("f8", "Floating64", "Floating64(-2.25)"),
        ("t", "Str", "Str(\"héllo\")"),
        ("vc", "Str", "Str(\"short\")"),
        ("bc", "Str", "Str(\"abc\")"),
        ("by", "Binary", "Binary(00ff10)"),
        ("d", "Date", "Date((2024, 2, 29))"),
        ("tm", "Time", "Time((13, 14, 15, 500000000))"),
        ("ts", "Datetime", "Datetime((2024, 2, 29, 13, 14, 15, 123456000))"),
        ("tstz", "Datetime", "Datetime((1999, 12, 31, 23, 59, 59, 0))"),
        ("u", "Uuid", "Uuid(\"67e55044-10b1-426f-9247-bb680e5fe0c8\")"),
        ("j", "Jsonb", "Jsonb({\"a\":[1,2]})"),
        ("js", "Jsonb", "Jsonb({\"b\":null})"),
        ("n", "Decimal", "Decimal(\"12.345\")"),
        ("r4", "RangeInt32", "RangeInt32((Some((1, RangeBoundKind::Inclusive)), Some((5, RangeBoundKind::Exclusive))))"),
        // Postgres keeps discrete ranges as [lower, upper): (,100] is (,101).
        ("r8", "RangeInt64", "RangeInt64((None, Some((101, RangeBoundKind::Exclusive))))"),
        ("rn", "RangeDecimal", "RangeDecimal((Some((\"1.5\", RangeBoundKind::Inclusive)), Some((\"2.5\", RangeBoundKind::Exclusive))))"),
        ("a4", "ArrayInt32", "ArrayInt32([Some(1), None, Some(3)])"),
        ("a8", "ArrayInt64", "ArrayInt64([Some(-9000000000), Some(7)])"),
        ("an", "ArrayDecimal", "ArrayDecimal([Some(\"1.10\"), None])"),
        ("at", "ArrayStr", "ArrayStr([Some(\"a\"), None, Some(\"c\")])"),
        ("iv", "Interval", "Interval(Interval { micros: 1500000, days: 2, months: 14 })"),
        // No WIT case: the server's binary encoding (family, bits, is_cidr, length, address).
        ("ip", "Other(\"inet\")", "Unsupported(022000040a010203)"),
    ];
    let columns = fields(lines[0]);
    let row = fields(lines[1]);
    let nulls = fields(lines[2]);
    assert_eq!(columns.len(), expected.len(), "{}", lines[0]);
    assert_eq!(row.len(), expected.len(), "{}", lines[1]);
    for (i, (name, ty, value)) in expected.iter().enumerate() {
        let column = format!("{name}:DbDataType::{ty}");
        assert_eq!(columns[i], column, "column {i}");
        assert_eq!(row[i], format!("DbValue::{value}"), "column {name}");
        let null = if i == 0 {
            "DbValue::Int32(2)"
        } else {
            "DbValue::DbNull"
        };
        assert_eq!(nulls[i], null, "column {name} of the NULL row");
    }
    // Parameters compare as the server sees them.
    let (status, body) = pg(
        &up,
        4,
        "query",
        &url,
        &[
            "uuid:67e55044-10b1-426f-9247-bb680e5fe0c8",
            "dec:12.345",
            "a32:1,_,3",
        ],
        "SELECT count(*) FROM everything WHERE u = $1 AND n = $2 AND a4 = $3",
    );
    assert_eq!(
        (status, body.lines().nth(1)),
        (200, Some("DbValue::Int64(1)"))
    );
}

#[test]
fn execute_counts_rows_and_errors_are_the_wits_variants() {
    let db = Postgres::start(USER, PASSWORD);
    db.psql("CREATE TABLE items (id int4, name text)");
    db.psql("INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 5) g");
    let up = start(&db);
    let url = db.url();
    for v in [4, 3, 2] {
        assert_eq!(
            pg(
                &up,
                v,
                "execute",
                &url,
                &["i32:3"],
                "UPDATE items SET name = 'x' WHERE id <= $1"
            ),
            (200, "3".into()),
            "v{v}"
        );
    }
    assert_eq!(
        pg(
            &up,
            4,
            "execute",
            &url,
            &[],
            "DELETE FROM items WHERE id > 4"
        ),
        (200, "1".into())
    );
    assert_eq!(db.psql("SELECT count(*) FROM items"), "4");

    // Bad SQL: query-failed with the server's message (4.0: its structured error too).
    let (status, body) = pg(&up, 4, "query", &url, &[], "SELECT * FROM nope");
    assert_eq!(status, 502);
    assert!(
        body.starts_with("error: Error::QueryFailed(QueryError::DbError(DbError {"),
        "{body}"
    );
    assert!(
        body.contains(r#"message: "relation \"nope\" does not exist""#),
        "{body}"
    );
    assert!(
        body.contains(r#"code: "42P01""#) && body.contains(r#"severity: "ERROR""#),
        "{body}"
    );
    for v in [3, 2] {
        assert_eq!(
            pg(&up, v, "query", &url, &[], "SELECT * FROM nope"),
            (
                502,
                r#"error: Error::QueryFailed("db error: ERROR: relation \"nope\" does not exist")"#
                    .into()
            ),
            "v{v}"
        );
    }
    // Parameters that cannot be converted.
    let (status, body) = pg(
        &up,
        4,
        "query",
        &url,
        &["uuid:not-a-uuid"],
        "SELECT $1::uuid",
    );
    assert_eq!(status, 502);
    assert!(
        body.starts_with("error: Error::BadParameter(\"parameter 1: invalid UUID"),
        "{body}"
    );
    assert_eq!(
        pg(&up, 2, "query", &url, &["u8:1"], "SELECT $1"),
        (
            502,
            r#"error: Error::ValueConversionFailed("Postgres does not support unsigned integers")"#
                .into()
        )
    );
    // 3.0 and 2.0 see 4.0-only types as unsupported, with the data type `other`.
    let (status, body) = pg(
        &up,
        3,
        "query",
        &url,
        &[],
        "SELECT DATE '2024-01-02' AS d, UUID '67e55044-10b1-426f-9247-bb680e5fe0c8' AS u",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        "d:DbDataType::Date\tu:DbDataType::Other\nDbValue::Date((2024, 1, 2))\tDbValue::Unsupported"
    );
    let (status, body) = pg(
        &up,
        2,
        "query",
        &url,
        &[],
        "SELECT 7::int8 AS n, DATE '2024-01-02' AS d",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        "n:DbDataType::Int64\td:DbDataType::Other\nDbValue::Int64(7)\tDbValue::Unsupported"
    );

    // Wrong password: connection-failed naming the server's reason.
    let wrong = url.replace(PASSWORD, "wrong");
    let (status, body) = pg(&up, 4, "query", &wrong, &[], "SELECT 1");
    assert_eq!(status, 502);
    assert!(
        body.starts_with("error: Error::ConnectionFailed(")
            && body.contains("password authentication failed"),
        "{body}"
    );
}

#[test]
fn disallowed_hosts_are_denied_before_any_connection_and_sessions_are_pooled() {
    let db = Postgres::start(USER, PASSWORD);
    let up = start(&db);
    let before = db.connections();
    // The same server under a name nobody granted.
    let by_name = format!(
        "host=localhost port={} user={USER} password={PASSWORD} dbname=postgres",
        db.port()
    );
    assert_eq!(
        pg(&up, 4, "query", &by_name, &[], "SELECT 1"),
        (
            502,
            format!(
                "error: Error::ConnectionFailed(\"address postgres://localhost:{} is not permitted\")",
                db.port()
            )
        )
    );
    assert_eq!(db.connections(), before, "{}", db.log());
    assert!(up
        .wait_for_log(&format!("postgres://localhost:{} denied", db.port()))
        .contains(&format!("add \"postgres://localhost:{}\"", db.port())));

    // Five requests, each opening a connection: sessions are reused, not one per request.
    for i in 0..5 {
        let (status, body) = pg(
            &up,
            4,
            "query",
            &db.url(),
            &[&format!("i32:{i}")],
            "SELECT $1 + 1 AS n",
        );
        assert_eq!(
            (status, body.lines().nth(1)),
            (200, Some(&*format!("DbValue::Int32({})", i + 1)))
        );
    }
    let opened = db.connections() - before;
    assert!(
        (1..5).contains(&opened),
        "{opened} connections for 5 requests"
    );
    // What one request leaves behind (a setting, an open transaction) is undone before its
    // session goes back to the pool: wait until the server shows it so, then reuse it.
    let others = "usename = 'spin' AND pid <> pg_backend_pid()";
    let (status, _) = pg(
        &up,
        4,
        "execute",
        &db.url(),
        &[],
        "SET application_name = 'leaked'",
    );
    assert_eq!(status, 200);
    let (status, _) = pg(&up, 4, "execute", &db.url(), &[], "BEGIN");
    assert_eq!(status, 200);
    common::wait_until("pooled sessions to be rolled back and reset", || {
        let dirty = db.psql(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE {others} \
             AND (state <> 'idle' OR application_name <> '')"
        ));
        (dirty == "0").then_some(())
    });
    let pooled: usize = db
        .psql(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE {others}"
        ))
        .parse()
        .unwrap();
    assert!(pooled >= 1, "the sessions were closed instead of pooled");
    let (_, body) = pg(
        &up,
        4,
        "query",
        &db.url(),
        &[],
        "SELECT current_setting('application_name') AS a, \
         (SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction') AS open",
    );
    assert_eq!(
        body.lines().nth(1),
        Some("DbValue::Str(\"\")\tDbValue::Int64(0)"),
        "{body}"
    );
}

#[test]
fn tls_sessions_verify_the_server_against_the_system_trust_store() {
    let db = Postgres::start_tls(USER, PASSWORD);
    let dir = app_dir("e2e/apps/outbound-net");
    let port = format!("pg_port={}", db.port());
    let args = ["-f", dir.to_str().unwrap(), "--variable", &port];
    let require = format!("{}?sslmode=require", db.url());
    // The server's CA is not trusted: the handshake fails, and says why.
    {
        let empty = tempfile::NamedTempFile::new().unwrap();
        let up = Up::start_with_env(&args, &[("SSL_CERT_FILE", empty.path().to_str().unwrap())]);
        let (status, body) = pg(&up, 4, "query", &require, &[], "SELECT 1");
        assert_eq!(status, 502);
        assert!(
            body.starts_with("error: Error::ConnectionFailed(") && body.contains("certificate"),
            "{body}"
        );
    }
    let ca = db.ca_path();
    let up = Up::start_with_env(&args, &[("SSL_CERT_FILE", ca.to_str().unwrap())]);
    let (status, body) = pg(
        &up,
        4,
        "query",
        &require,
        &[],
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    );
    assert_eq!(
        (status, body.lines().nth(1)),
        (200, Some("DbValue::Boolean(true)")),
        "{body}"
    );
    assert!(db.tls_sessions() >= 1);
}
