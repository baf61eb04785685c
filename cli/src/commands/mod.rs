pub mod pull;
pub mod push;
pub mod registry;
pub mod up;
