//! Outbound MySQL (`fermyon:spin/mysql@2.0.0`) through a real guest (e2e/apps/outbound-net,
//! spin-sdk 5.2) and a throwaway MariaDB server with a password user.

mod common;

use common::{app_dir, urlencode, Up};
use spinkube_testenv::mariadb::MariaDb;

const USER: &str = "spin";
const PASSWORD: &str = "s3cr3t";

fn start(db: &MariaDb) -> Up {
    let dir = app_dir("e2e/apps/outbound-net");
    let port = format!("mysql_port={}", db.port());
    Up::start(&["-f", dir.to_str().unwrap(), "--variable", &port])
}

fn my(up: &Up, op: &str, address: &str, params: &[&str], sql: &str) -> (u16, String) {
    let mut path = format!("/mysql?op={op}&address={}", urlencode(address));
    for p in params {
        path.push_str(&format!("&p={}", urlencode(p)));
    }
    up.send("POST", &path, sql)
}

#[test]
fn every_column_type_round_trips_and_errors_are_the_wits_variants() {
    let db = MariaDb::start(USER, PASSWORD);
    db.sql(
        "CREATE TABLE spin.everything (id INT PRIMARY KEY, ti TINYINT, uti TINYINT UNSIGNED,
         si SMALLINT, usi SMALLINT UNSIGNED, mi MEDIUMINT, i INT, ui INT UNSIGNED, bi BIGINT,
         ubi BIGINT UNSIGNED, f FLOAT, d DOUBLE, vc VARCHAR(20), t TEXT, c CHAR(3),
         vb VARBINARY(8), bl BLOB, dt DATETIME)",
    );
    let up = start(&db);
    let url = db.url();
    let params = [
        "i32:1",
        "i8:-8",
        "u8:250",
        "i16:-300",
        "u16:65000",
        "i32:-70000",
        "i32:-2000000000",
        "u32:4000000000",
        "i64:-9000000000",
        "u64:18000000000000000000",
        "f32:1.5",
        "f64:-2.25",
        "str:héllo",
        "str:long text",
        "str:abc",
        "bin:00ff10",
        "bin:cafe",
    ];
    let insert =
        "INSERT INTO everything VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)";
    assert_eq!(
        my(&up, "execute", &url, &params, insert),
        (200, "ok".into())
    );
    db.sql("INSERT INTO spin.everything (id) VALUES (2)");

    let (status, body) = my(
        &up,
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
        ("ti", "Int8", "Int8(-8)"),
        ("uti", "Uint8", "Uint8(250)"),
        ("si", "Int16", "Int16(-300)"),
        ("usi", "Uint16", "Uint16(65000)"),
        ("mi", "Int32", "Int32(-70000)"),
        ("i", "Int32", "Int32(-2000000000)"),
        ("ui", "Uint32", "Uint32(4000000000)"),
        ("bi", "Int64", "Int64(-9000000000)"),
        ("ubi", "Uint64", "Uint64(18000000000000000000)"),
        ("f", "Floating32", "Floating32(1.5)"),
        ("d", "Floating64", "Floating64(-2.25)"),
        ("vc", "Str", "Str(\"héllo\")"),
        ("t", "Str", "Str(\"long text\")"),
        ("c", "Str", "Str(\"abc\")"),
        ("vb", "Binary", "Binary([0, 255, 16])"),
        ("bl", "Binary", "Binary([202, 254])"),
        // Spin has no date type for MySQL: `other`, and NULL still reads as db-null.
        ("dt", "Other", "DbNull"),
    ];
    let columns: Vec<&str> = lines[0].split('\t').collect();
    let row: Vec<&str> = lines[1].split('\t').collect();
    let nulls: Vec<&str> = lines[2].split('\t').collect();
    assert_eq!(columns.len(), expected.len(), "{}", lines[0]);
    for (i, (name, ty, value)) in expected.iter().enumerate() {
        assert_eq!(columns[i], format!("{name}:DbDataType::{ty}"), "column {i}");
        assert_eq!(row[i], format!("DbValue::{value}"), "column {name}");
        let null = if i == 0 {
            "DbValue::Int32(2)"
        } else {
            "DbValue::DbNull"
        };
        assert_eq!(nulls[i], null, "column {name} of the NULL row");
    }
    // A value of a type Spin cannot convert is value-conversion-failed, naming the column.
    let (status, body) = my(&up, "query", &url, &[], "SELECT NOW() AS now_col");
    assert_eq!(status, 502);
    assert!(
        body.starts_with("error: Error::ValueConversionFailed(") && body.contains("now_col"),
        "{body}"
    );
    // Bad SQL: query-failed with the server's message.
    let (status, body) = my(&up, "query", &url, &[], "SELECT * FROM nope");
    assert_eq!(status, 502);
    assert!(
        body.starts_with("error: Error::QueryFailed(") && body.contains("spin.nope' doesn't exist"),
        "{body}"
    );
    // Wrong password.
    let (status, body) = my(
        &up,
        "query",
        &url.replace(PASSWORD, "wrong"),
        &[],
        "SELECT 1",
    );
    assert_eq!(status, 502);
    assert!(
        body.starts_with("error: Error::ConnectionFailed(") && body.contains("Access denied"),
        "{body}"
    );
}

#[test]
fn disallowed_hosts_are_denied_before_any_connection_and_connections_are_pooled() {
    let db = MariaDb::start(USER, PASSWORD);
    db.sql("CREATE TABLE spin.n (v INT)");
    let up = start(&db);
    let before = db.connections(USER);
    let by_name = db.url().replace("127.0.0.1", "localhost");
    assert_eq!(
        my(&up, "query", &by_name, &[], "SELECT 1"),
        (
            502,
            format!("error: Error::ConnectionFailed(\"address {by_name} is not permitted\")")
        )
    );
    assert_eq!(db.connections(USER), before);
    assert!(up
        .wait_for_log(&format!("mysql://localhost:{} denied", db.port()))
        .contains(&format!("add \"mysql://localhost:{}\"", db.port())));

    for i in 0..5 {
        assert_eq!(
            my(
                &up,
                "execute",
                &db.url(),
                &[&format!("i32:{i}")],
                "INSERT INTO n VALUES (?)"
            ),
            (200, "ok".into())
        );
    }
    assert_eq!(db.sql("SELECT count(*) FROM spin.n"), "5");
    let opened = db.connections(USER) - before;
    assert!(
        (1..5).contains(&opened),
        "{opened} connections for 5 requests"
    );
}
