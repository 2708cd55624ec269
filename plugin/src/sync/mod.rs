pub mod description;
pub mod mapping;
pub mod soql_text;
