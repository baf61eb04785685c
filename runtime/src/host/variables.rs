//! Variables: `fermyon:spin/variables@2.0.0` and `wasi:config/store` (draft 2024-09-27).

use wasmtime::Result;

use crate::host::bindings::fermyon::spin::variables as spin_vars;
use crate::host::bindings::wasi::config::store as wasi_config;
use crate::host::InstanceState;
use crate::variables::VariablesError;

impl From<VariablesError> for spin_vars::Error {
    fn from(e: VariablesError) -> Self {
        let msg = e.to_string();
        match e {
            VariablesError::InvalidName { .. } => Self::InvalidName(msg),
            VariablesError::Undefined { .. } => Self::Undefined(msg),
            VariablesError::MissingRequired { .. } | VariablesError::Provider { .. } => {
                Self::Provider(msg)
            }
            VariablesError::BadTemplate { .. } => Self::Other(msg),
        }
    }
}

impl InstanceState {
    /// A variable of this component, as every variables interface reads it.
    pub(in crate::host) fn component_variable(&self, name: &str) -> Result<String, VariablesError> {
        (self.services.variables).get_component_variable(&self.component_id, name)
    }
}

impl spin_vars::Host for InstanceState {
    async fn get(&mut self, name: String) -> Result<Result<String, spin_vars::Error>> {
        Ok(self.component_variable(&name).map_err(Into::into))
    }
}

impl wasi_config::Host for InstanceState {
    async fn get(&mut self, key: String) -> Result<Result<Option<String>, wasi_config::Error>> {
        match self.component_variable(&key) {
            Ok(v) => Ok(Ok(Some(v))),
            // wasi:config reports an unknown key as absent, not as an error.
            Err(VariablesError::Undefined { .. } | VariablesError::InvalidName { .. }) => {
                Ok(Ok(None))
            }
            Err(e) => Ok(Err(wasi_config::Error::Upstream(e.to_string()))),
        }
    }

    async fn get_all(&mut self) -> Result<Result<Vec<(String, String)>, wasi_config::Error>> {
        let vars = &self.services.variables;
        let mut all = Vec::new();
        for name in vars.component_variable_names(&self.component_id) {
            match vars.get_component_variable(&self.component_id, &name) {
                Ok(v) => all.push((name, v)),
                Err(e) => return Ok(Err(wasi_config::Error::Upstream(e.to_string()))),
            }
        }
        Ok(Ok(all))
    }
}
