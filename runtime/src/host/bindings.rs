//! Host bindings for Spin's own interfaces (see wit/spin/world.wit).

wasmtime::component::bindgen!({
    path: "../wit/spin",
    world: "fermyon:spin/spin-host@2.0.0",
    imports: { default: async | trappable },
    with: {
        "fermyon:spin/key-value.store": crate::host::key_value::StoreHandle,
        "wasi:keyvalue/store.bucket": crate::host::key_value::StoreHandle,
        "wasi:keyvalue/atomics.cas": crate::host::key_value::CasHandle,
        "fermyon:spin/sqlite.connection": crate::host::sqlite::ConnectionHandle,
        "spin:sqlite/sqlite.connection": crate::host::sqlite::ConnectionHandle,
        "fermyon:spin/redis.connection": crate::host::redis_outbound::RedisHandle,
        "fermyon:spin/mqtt.connection": crate::host::mqtt::MqttHandle,
        "fermyon:spin/postgres.connection": crate::host::postgres::PgHandle,
        "fermyon:spin/mysql.connection": crate::host::mysql::MysqlHandle,
        "spin:postgres/postgres@3.0.0.connection": crate::host::postgres::PgHandle,
        "spin:postgres/postgres@4.0.0.connection": crate::host::postgres::PgHandle,
    },
});
