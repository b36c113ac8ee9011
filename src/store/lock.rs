//! The warehouse's two file locks. `.lock` is held by the one writer;
//! `.readers` is held shared by every reader while it reads, and taken
//! exclusively by a writer before it deletes files a reader may be reading.

use std::fs::{File, TryLockError};
use std::path::Path;

use super::warehouse::Warehouse;
use crate::error::{Error, Result};

const WRITE_LOCK: &str = ".lock";
const READERS_LOCK: &str = ".readers";

/// Held while writing; released on drop.
pub struct WriteLock {
    _file: File,
}

/// A shared lock on `.readers`, held while reading: files a reader may
/// still open are not deleted while it is held. Released on drop. `None`
/// inside when the warehouse is read-only to us and has no lock file yet
/// (then the retention period alone protects the reader).
pub struct ReadGuard {
    _file: Option<File>,
}

/// A lock file (created when missing, never truncated), open for reading
/// and writing so it can be locked either way.
pub(super) fn open_lock_file(path: &Path) -> std::io::Result<File> {
    File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// Tries the readers lock exclusively without waiting: `Some` means no
/// reader is reading (and none can start until it is dropped).
pub(super) fn try_exclusive_readers(root: &Path) -> Option<File> {
    let file = open_lock_file(&root.join(READERS_LOCK)).ok()?;
    match file.try_lock() {
        Ok(()) => Some(file),
        Err(TryLockError::WouldBlock) | Err(TryLockError::Error(_)) => None,
    }
}

impl Warehouse {
    /// Takes the writer lock (blocking while another doralens writes).
    pub fn lock(&self) -> Result<WriteLock> {
        let path = self.root().join(WRITE_LOCK);
        let file =
            open_lock_file(&path).map_err(|e| Error::io("cannot create lock file", &path, e))?;
        file.lock()
            .map_err(|e| Error::io("cannot lock warehouse", &path, e))?;
        self.sweep_dead_temp_files();
        Ok(WriteLock { _file: file })
    }

    /// Takes the shared readers lock (waiting only while a writer deletes
    /// retired files, which takes milliseconds).
    pub fn read_guard(&self) -> Result<ReadGuard> {
        let path = self.root().join(READERS_LOCK);
        let file = match open_lock_file(&path) {
            Ok(f) => f,
            // Read-only to us: lock the existing file through a read handle,
            // or go without when there is none (nobody can write here then
            // without creating it first; retention still protects us).
            Err(_) => match File::open(&path) {
                Ok(f) => f,
                Err(_) => return Ok(ReadGuard { _file: None }),
            },
        };
        file.lock_shared()
            .map_err(|e| Error::io("cannot lock warehouse for reading", &path, e))?;
        Ok(ReadGuard { _file: Some(file) })
    }

    /// The readers lock exclusively, waiting at most `patience` for the
    /// readers there are (a `serve` holds it while it has a warehouse
    /// state open, so waiting for ever would never end).
    pub(super) fn exclusive_readers_within(&self, patience: std::time::Duration) -> Option<File> {
        let deadline = std::time::Instant::now() + patience;
        loop {
            if let Some(file) = try_exclusive_readers(self.root()) {
                return Some(file);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::testing::temp_warehouse;

    #[test]
    fn a_second_writer_waits_for_the_first() {
        let (_tmp, wh) = temp_warehouse();
        let held = wh.lock().unwrap();
        let other = open_lock_file(&wh.root().join(WRITE_LOCK)).unwrap();
        assert!(matches!(other.try_lock(), Err(TryLockError::WouldBlock)));
        drop(held);
        assert!(other.try_lock().is_ok());
    }

    #[test]
    fn readers_share_their_lock_and_keep_deleting_writers_out() {
        let (_tmp, wh) = temp_warehouse();
        assert!(try_exclusive_readers(wh.root()).is_some(), "no reader yet");
        let first = wh.read_guard().unwrap();
        let second = wh.read_guard().unwrap();
        assert!(try_exclusive_readers(wh.root()).is_none());
        drop(first);
        assert!(
            try_exclusive_readers(wh.root()).is_none(),
            "one still reads"
        );
        drop(second);
        let exclusive = try_exclusive_readers(wh.root());
        assert!(exclusive.is_some());
        // Held exclusively, it keeps new readers out until dropped.
        let f = open_lock_file(&wh.root().join(READERS_LOCK)).unwrap();
        assert!(matches!(f.try_lock_shared(), Err(TryLockError::WouldBlock)));
    }

    #[test]
    fn exclusive_readers_within_waits_for_a_reader_only_so_long() {
        let (_tmp, wh) = temp_warehouse();
        let guard = wh.read_guard().unwrap();
        assert!(wh.exclusive_readers_within(Duration::ZERO).is_none());
        let reader = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(guard);
        });
        assert!(
            wh.exclusive_readers_within(Duration::from_secs(30))
                .is_some()
        );
        reader.join().unwrap();
    }
}
