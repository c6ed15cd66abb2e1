//! Read: find the components and their settings in an object, a command line or a flag file.
//! Parsing only; no verdicts here.

pub mod component;
pub mod flags;
pub mod shell;
pub mod sources;
pub mod subjects;
