pub mod pull;
pub mod push;
pub mod registry;
mod scratch_dir;
pub mod up;
