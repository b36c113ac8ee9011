//! `doralens generate`: a synthetic organisation, into the warehouse or
//! into importable files.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::args::{FileFormat, GenerateArgs};
use crate::error::{Error, Result};
use crate::ingest::synthetic::{self, GeneratorConfig, Sink};
use crate::metrics::interval;
use crate::store::schema::Table;

use super::Context;

pub fn run(ctx: &Context, args: GenerateArgs) -> Result<()> {
    let config = config(&args)?;
    let counts = match &args.out {
        Some(dir) => {
            let mut sink = FileSink::new(dir, args.file_format)?;
            synthetic::generate(&config, &mut sink)?
        }
        None => {
            // One recorded run (`syncs`); rows name the generator's seed.
            let run = ctx.recording("generate", &format!("generate:seed {}", config.seed))?;
            let warehouse = run.open()?;
            let warehouse = warehouse.in_scope(
                format!("generate:seed {}", config.seed),
                Some(format!("doralens generate, seed {}", config.seed)),
            );
            let mut sink = crate::ingest::synthetic::WarehouseSink {
                warehouse: &warehouse,
            };
            run.finish(synthetic::generate(&config, &mut sink))?
        }
    };
    eprintln!("generated {counts}");
    Ok(())
}

pub fn config(args: &GenerateArgs) -> Result<GeneratorConfig> {
    let end = match &args.end {
        Some(s) => interval::parse_instant("--end", s)?,
        None => interval::Timestamp::now().start_of_day(),
    };
    // NaN and infinity fail these comparisons too.
    let within = |v: f64, lo: f64, hi: f64| v.is_finite() && v >= lo && v <= hi;
    if !(1..=10_000).contains(&args.teams) || !(1..=36_600).contains(&args.days) {
        return Err(Error::usage(
            "--teams/--days",
            "--teams must be 1 to 10000 and --days 1 to 36600",
        ));
    }
    if !within(args.scale, f64::MIN_POSITIVE, 1_000.0) {
        return Err(Error::usage(
            "--scale",
            format!("`{}` is not a number above 0 and at most 1000", args.scale),
        ));
    }
    if !within(args.incident_rate, 0.0, 1_000.0) {
        return Err(Error::usage(
            "--incident-rate",
            format!("`{}` is not a number from 0 to 1000", args.incident_rate),
        ));
    }
    Ok(GeneratorConfig {
        seed: args.seed,
        teams: args.teams,
        days: args.days,
        scale: args.scale,
        end,
        incident_rate: args.incident_rate,
    })
}

/// Generator rows into one importable file per table.
struct FileSink {
    dir: PathBuf,
    format: FileFormat,
    written: std::collections::BTreeSet<Table>,
}

impl FileSink {
    fn new(dir: &Path, format: FileFormat) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
        Ok(FileSink {
            dir: dir.to_path_buf(),
            format,
            written: Default::default(),
        })
    }

    fn path(&self, table: Table) -> PathBuf {
        let ext = match self.format {
            FileFormat::Csv => "csv",
            FileFormat::Ndjson => "ndjson",
        };
        self.dir.join(format!("{}.{ext}", table.name()))
    }
}

impl Sink for FileSink {
    fn write(&mut self, table: Table, batch: datafusion::arrow::array::RecordBatch) -> Result<()> {
        let path = self.path(table);
        let first = self.written.insert(table);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(!first)
            .truncate(first)
            .open(&path)
            .map_err(|e| Error::io("cannot write", &path, e))?;
        let mut w = std::io::BufWriter::new(file);
        crate::render::import_files::write_import_file(
            &batch,
            self.format == FileFormat::Csv,
            first,
            &mut w,
        )?;
        w.flush().map_err(|e| Error::io("cannot write", &path, e))
    }
}
