//! Application variables (`[variables]`) and component variables
//! (`[component.x.variables]`, the locked app's `config`), resolved like Spin:
//! `--variable` values, then the runtime config's providers in file order, then
//! the always-present default env provider (`SPIN_VARIABLE_*`, `.env` in the
//! working directory), then the declared `default`.
//!
//! Values are resolved once, when the [`Resolver`] is built: providers are
//! local and the environment does not change under a running app.

mod dotenv;
mod error;
mod name;
mod provider;
mod resolver;
mod template;
#[cfg(test)]
mod tests;

pub use error::VariablesError;
pub use name::{env_name, validate_name};
pub use provider::{providers_from_config, Provider, DEFAULT_ENV_PREFIX};
pub use resolver::Resolver;
