//! The bottom layer: time, production classification and atomic file
//! writes. It imports nothing of doralens but the error type; every other
//! module may use it (the module graph is in ARCHITECTURE.md).

pub mod fs;
pub mod production;
pub mod time;
