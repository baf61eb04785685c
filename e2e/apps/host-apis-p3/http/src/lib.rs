//! Drives the async Spin host APIs of spin-sdk 7 (`spin:*@3` interfaces, WASI p3) over HTTP.
//!
//! - `GET /whoami`: `<ROLE or host-apis-p3>:<path>`
//! - `GET /count`: how many requests this instance has served (instance reuse)
//! - `GET|PUT|DELETE /kv/STORE/KEY`, `GET /kv-keys/STORE` (sorted, comma-separated)
//! - `GET /var/NAME`
//! - `POST /sql/DB` with one statement as the body: `columns=..`, one `row=..` line per row,
//!   then `rowid=N changes=M`
//! - `POST /redis/OP?address=A&key=K` for OP in set (body), get, incr, del, execute (body: the
//!   command and its arguments separated by spaces), publish (`channel=C`, body)
//! - `GET /http?url=U`: outbound HTTP, answered as `status=N\n<body>`
//! - `GET /lookup?name=N`: `wasi:sockets/ip-name-lookup@0.3` of N, the IPv4 addresses comma-separated
//! - `GET /trap`: panics
//!
//! A host API error answers 409 with its Debug form, so tests can match the error case.

use std::sync::atomic::{AtomicU64, Ordering};

use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{IntoResponse, Request, StatusCode};
use spin_sdk::redis::{Connection, RedisParameter, RedisResult};
use spin_sdk::{http_service, key_value, sqlite, variables};

static SERVED: AtomicU64 = AtomicU64::new(0);

type Answer = (StatusCode, String);

fn ok(body: impl Into<String>) -> Answer {
    (StatusCode::OK, body.into())
}

fn failed(e: impl std::fmt::Debug) -> Answer {
    (StatusCode::CONFLICT, format!("{e:?}"))
}

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    let served = SERVED.fetch_add(1, Ordering::Relaxed) + 1;
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let body = match req.into_body().bytes().await {
        Ok(b) => b.to_vec(),
        Err(e) => return failed(e),
    };
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        (_, ["whoami"]) => {
            let role = std::env::var("ROLE").unwrap_or_else(|_| "host-apis-p3".into());
            ok(format!("{role}:{path}"))
        }
        (_, ["count"]) => ok(served.to_string()),
        (_, ["trap"]) => panic!("trap requested"),
        (m, ["kv", store, key]) => kv(m, store, key, body).await,
        (_, ["kv-keys", store]) => kv_keys(store).await,
        (_, ["var", name]) => match variables::get(*name).await {
            Ok(v) => ok(v),
            Err(e) => failed(e),
        },
        ("POST", ["sql", db]) => sql(db, &String::from_utf8_lossy(&body)).await,
        ("POST", ["redis", op]) => redis(op, &query, body).await,
        (_, ["http"]) => outbound_http(&param(&query, "url").unwrap_or_default()).await,
        (_, ["lookup"]) => lookup(param(&query, "name").unwrap_or_default()).await,
        _ => (StatusCode::NOT_FOUND, "no such route".into()),
    }
}

async fn kv(method: &str, store: &str, key: &str, body: Vec<u8>) -> Answer {
    let store = match key_value::Store::open(store).await {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    let outcome = match method {
        "PUT" => store.set(key, &body).await.map(|()| ok("ok")),
        "DELETE" => store.delete(key).await.map(|()| ok("ok")),
        _ => store.get(key).await.map(|v| match v {
            Some(v) => ok(String::from_utf8_lossy(&v)),
            None => (StatusCode::NOT_FOUND, "not found".into()),
        }),
    };
    outcome.unwrap_or_else(failed)
}

async fn kv_keys(store: &str) -> Answer {
    let store = match key_value::Store::open(store).await {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    match store.get_keys().await.collect().await {
        Ok(mut keys) => {
            keys.sort();
            ok(keys.join(","))
        }
        Err(e) => failed(e),
    }
}

async fn sql(db: &str, statement: &str) -> Answer {
    let conn = match sqlite::Connection::open(db).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let mut result = match conn.execute(statement, []).await {
        Ok(r) => r,
        Err(e) => return failed(e),
    };
    let mut lines = vec![format!("columns={}", result.columns().join(","))];
    while let Some(row) = result.next().await {
        let values: Vec<String> = row.values.iter().map(show_value).collect();
        lines.push(format!("row={}", values.join(",")));
    }
    if let Err(e) = result.result().await {
        return failed(e);
    }
    lines.push(format!(
        "rowid={} changes={}",
        conn.last_insert_rowid().await,
        conn.changes().await
    ));
    ok(lines.join("\n"))
}

fn show_value(v: &sqlite::Value) -> String {
    match v {
        sqlite::Value::Integer(i) => i.to_string(),
        sqlite::Value::Real(f) => f.to_string(),
        sqlite::Value::Text(t) => t.clone(),
        sqlite::Value::Blob(b) => format!("blob:{}", b.len()),
        sqlite::Value::Null => "null".into(),
    }
}

async fn redis(op: &str, query: &str, body: Vec<u8>) -> Answer {
    let conn = match Connection::open(param(query, "address").unwrap_or_default()).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let key = param(query, "key").unwrap_or_default();
    let outcome = match op {
        "set" => conn.set(&key, &body).await.map(|()| "ok".to_string()),
        "get" => (conn.get(&key).await).map(|v| {
            v.map(|v| String::from_utf8_lossy(&v).into_owned())
                .unwrap_or_default()
        }),
        "incr" => conn.incr(&key).await.map(|n| n.to_string()),
        "del" => conn.del([key.as_str()]).await.map(|n| n.to_string()),
        "publish" => {
            let channel = param(query, "channel").unwrap_or_default();
            conn.publish(channel, &body)
                .await
                .map(|()| "ok".to_string())
        }
        "execute" => {
            let text = String::from_utf8_lossy(&body).into_owned();
            let mut words = text.split(' ');
            let command = words.next().unwrap_or_default().to_string();
            let args = words.map(|w| RedisParameter::Binary(w.as_bytes().to_vec()));
            conn.execute(command, args).await.map(|results| {
                let shown: Vec<String> = results.iter().map(show_result).collect();
                shown.join(",")
            })
        }
        _ => return (StatusCode::NOT_FOUND, "no such redis op".into()),
    };
    outcome.map(ok).unwrap_or_else(failed)
}

fn show_result(r: &RedisResult) -> String {
    match r {
        RedisResult::Nil => "nil".into(),
        RedisResult::Status(s) => format!("status:{s}"),
        RedisResult::Int64(i) => format!("int:{i}"),
        RedisResult::Binary(b) => format!("bin:{}", String::from_utf8_lossy(b)),
    }
}

async fn outbound_http(url: &str) -> Answer {
    match spin_sdk::http::get(url).await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            match resp.into_body().bytes().await {
                Ok(b) => ok(format!("status={status}\n{}", String::from_utf8_lossy(&b))),
                Err(e) => failed(e),
            }
        }
        Err(e) => failed(e),
    }
}

/// A query parameter, decoded as a form (`%XX` and `+`).
async fn lookup(name: String) -> Answer {
    use wasip3::sockets::ip_name_lookup::resolve_addresses;
    use wasip3::sockets::types::IpAddress;
    match resolve_addresses(name).await {
        Ok(ips) => ok(ips
            .iter()
            .filter_map(|ip| match ip {
                IpAddress::Ipv4((a, b, c, d)) => Some(format!("{a}.{b}.{c}.{d}")),
                IpAddress::Ipv6(_) => None,
            })
            .collect::<Vec<_>>()
            .join(",")),
        Err(e) => failed(e),
    }
}

fn param(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes()).find_map(|(k, v)| (k == name).then(|| v.into_owned()))
}
