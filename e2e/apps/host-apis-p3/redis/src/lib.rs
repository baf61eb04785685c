//! A Redis trigger handler as spin-sdk 7 writes one (`spin:redis/inbound-redis@3.0.0`): each
//! message is pushed onto the list `received` through outbound Redis at variable
//! `redis_address`. Message `error` fails the handler; `trap` panics.

use bytes::Bytes;
use spin_sdk::redis::{Connection, RedisParameter};
use spin_sdk::{redis_subscriber, variables};

#[redis_subscriber]
async fn on_message(message: Bytes) -> anyhow::Result<()> {
    match &message[..] {
        b"error" => anyhow::bail!("message `error` asks the handler to fail"),
        b"trap" => panic!("message `trap` asks the handler to trap"),
        _ => {}
    }
    let address = variables::get("redis_address").await?;
    let conn = Connection::open(address).await?;
    let args = vec![
        RedisParameter::Binary(b"received".to_vec()),
        RedisParameter::Binary(message.to_vec()),
    ];
    conn.execute("RPUSH", args).await?;
    Ok(())
}
