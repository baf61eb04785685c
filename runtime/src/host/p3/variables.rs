//! `spin:variables/variables@3.0.0`: the same lookup as `fermyon:spin/variables@2.0.0`.

use wasmtime::component::Accessor;
use wasmtime::Result;

use super::bindings::spin::variables::variables as v3;
use super::SpinP3;
use crate::host::InstanceState;
use crate::variables::VariablesError;

impl From<VariablesError> for v3::Error {
    fn from(e: VariablesError) -> Self {
        use crate::host::bindings::fermyon::spin::variables::Error as V2;
        match V2::from(e) {
            V2::InvalidName(m) => Self::InvalidName(m),
            V2::Undefined(m) => Self::Undefined(m),
            V2::Provider(m) => Self::Provider(m),
            V2::Other(m) => Self::Other(m),
        }
    }
}

impl v3::Host for InstanceState {}

impl<U> v3::HostWithStore<U> for SpinP3 {
    async fn get(acc: &Accessor<U, Self>, name: String) -> Result<Result<String, v3::Error>> {
        Ok(acc.with(|mut a| a.get().component_variable(&name).map_err(Into::into)))
    }
}
