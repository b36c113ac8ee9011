//! `doralens vacuum`.

use crate::error::Result;
use crate::metrics::interval;

use super::Context;

pub fn run(ctx: &Context, retain: &str) -> Result<()> {
    let retain = interval::parse_duration_micros("--retain", retain)?;
    let warehouse = ctx.existing()?;
    let removed = warehouse.vacuum(std::time::Duration::from_micros(retain as u64))?;
    eprintln!("removed {removed} superseded or leftover files and directories");
    Ok(())
}
