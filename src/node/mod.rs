//! Node files: read them (`inputs`), judge them (`check`), repair them in place (`fix`).

pub mod check;
pub mod fix;
pub mod inputs;
