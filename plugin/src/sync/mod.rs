pub mod api;
mod batch;
pub mod describe;
pub mod description;
pub mod engine;
pub mod mapping;
mod owners;
pub mod soql_text;
