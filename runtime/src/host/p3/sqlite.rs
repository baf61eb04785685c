//! `spin:sqlite/sqlite@3.1.0`: the 3.0 functions plus async twins, on the same databases.

use wasmtime::component::{Accessor, FutureReader, Resource, StreamReader};
use wasmtime::Result;

use super::bindings::spin::sqlite::sqlite as v3_1;
use super::SpinP3;
use crate::host::sqlite::{sqlite_interface, sqlite_v3_connection, ConnectionHandle};

sqlite_interface!(v3_1);
sqlite_v3_connection!(v3_1);

/// The columns, the rows as a stream, and a future that says whether all rows came.
type Rows = (
    Vec<String>,
    StreamReader<v3_1::RowResult>,
    FutureReader<Result<(), v3_1::Error>>,
);

impl<U> v3_1::HostConnectionWithStore<U> for SpinP3 {
    async fn open_async(
        acc: &Accessor<U, Self>,
        database: String,
    ) -> Result<Result<Resource<ConnectionHandle>, v3_1::Error>> {
        acc.with(|mut a| {
            let state = a.get();
            Ok(state.opened(state.open_database(&database))?)
        })
    }

    /// The statement runs to completion before the first row is streamed, as in 3.0.
    async fn execute_async(
        acc: &Accessor<U, Self>,
        c: Resource<ConnectionHandle>,
        statement: String,
        parameters: Vec<v3_1::Value>,
    ) -> Result<Result<Rows, v3_1::Error>> {
        let db = acc.with(|mut a| a.get().sqlite_database(&c))?;
        let params = parameters.into_iter().map(Into::into).collect();
        let out = db.execute(statement, params).await;
        acc.with(|mut a| a.get().record_sql_outcome(&c, &out))?;
        let result = match out {
            Ok(out) => v3_1::QueryResult::from(out),
            Err(e) => return Ok(Err(e.into())),
        };
        acc.with(|mut a| {
            let rows = StreamReader::new(&mut a, result.rows)?;
            let done = FutureReader::new(&mut a, async { Ok::<_, wasmtime::Error>(Ok(())) })?;
            Ok(Ok((result.columns, rows, done)))
        })
    }

    async fn last_insert_rowid_async(
        acc: &Accessor<U, Self>,
        c: Resource<ConnectionHandle>,
    ) -> Result<i64> {
        Ok(acc.with(|mut a| a.get().sqlite_counters(&c))?.0)
    }

    async fn changes_async(acc: &Accessor<U, Self>, c: Resource<ConnectionHandle>) -> Result<u64> {
        Ok(acc.with(|mut a| a.get().sqlite_counters(&c))?.1)
    }
}
