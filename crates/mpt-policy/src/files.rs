//! Files written with secrets and state in them: secret files (new, 0600, never through a
//! planted symlink, never over another file unless asked), and state files replaced
//! atomically. The CLI's secret files and an apply's sinks and state directory use them.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Why a file could not be read or written, naming it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The system refused, with the error it gave.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file (or directory) involved.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// Not a regular file: a FIFO, a directory, a device, or a symlink where none is followed.
    #[error("{}: not a regular file{}", path.display(), if *symlink { " (a symlink)" } else { "" })]
    NotRegular {
        /// The file.
        path: PathBuf,
        /// Whether it is a symlink.
        symlink: bool,
    },
    /// Larger than read.
    #[error("{}: larger than {max} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The largest read.
        max: u64,
    },
    /// Refused for another reason (there already, a directory where a file goes, ...).
    #[error("{}: {why}", path.display())]
    Refused {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn refused(path: &Path, why: impl Into<String>) -> FileError {
    FileError::Refused {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

/// A new file in `target`'s directory with a random name, created exclusively with mode 0600
/// (`O_EXCL`: no symlink planted at any name is followed), removed again unless it is put in
/// place.
struct Temp {
    path: PathBuf,
    file: Option<File>,
}

impl Temp {
    fn new(target: &Path) -> Result<Temp, FileError> {
        let dir = parent(target);
        let stem = target.file_name().and_then(|n| n.to_str()).unwrap_or("mpt");
        for _ in 0..16 {
            let path = dir.join(format!(".{stem}.{:016x}.tmp", fastrand::u64(..)));
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(&path) {
                Ok(file) => {
                    return Ok(Temp {
                        path,
                        file: Some(file),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io(dir)(e)),
            }
        }
        Err(refused(dir, "no free temporary name"))
    }

    /// Writes `contents` and syncs it.
    fn write(&mut self, contents: &str) -> std::io::Result<()> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("written already"))?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        self.file = None;
        let _ = std::fs::remove_file(&self.path);
    }
}

fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// A secret file made ready before anything is created on the platform: its directory is
/// writable (a temporary file was made in it), and the target is free (or `force` was given).
pub struct SecretFile {
    target: PathBuf,
    force: bool,
    temp: Temp,
}

impl SecretFile {
    /// Checks `target` and creates the temporary file beside it.
    pub fn prepare(target: &Path, force: bool) -> Result<SecretFile, FileError> {
        let dir = parent(target);
        match std::fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(refused(
                    target,
                    format!("{} is not a directory", dir.display()),
                ));
            }
            // The secret file is named, with its directory and what is wrong with it.
            Err(e) => return Err(refused(target, format!("{}: {e}", dir.display()))),
        }
        match std::fs::symlink_metadata(target) {
            Ok(meta) if meta.is_dir() => return Err(refused(target, "is a directory")),
            Ok(_) if !force => {
                return Err(refused(
                    target,
                    "exists; refusing to overwrite it (give --force to replace it)",
                ));
            }
            Ok(_) | Err(_) => {}
        }
        Ok(SecretFile {
            target: target.to_path_buf(),
            force,
            temp: Temp::new(target)?,
        })
    }

    /// The path the secret goes to.
    pub fn path(&self) -> &Path {
        &self.target
    }

    /// Writes `secret` and a newline, then puts the file in place: without `force`, only if
    /// nothing is at the target now (a hard link, which never replaces); with it, by a rename
    /// (which replaces a symlink there, never writing through it).
    pub fn commit(mut self, secret: &str) -> Result<(), FileError> {
        let target = self.target.clone();
        self.temp
            .write(&format!("{secret}\n"))
            .map_err(io(&target))?;
        if self.force {
            std::fs::rename(&self.temp.path, &target).map_err(io(&target))
        } else {
            std::fs::hard_link(&self.temp.path, &target).map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    refused(&target, "appeared meanwhile; not overwritten")
                }
                _ => io(&target)(e),
            })
        }
    }
}

/// Replaces `target` with `contents` atomically (a private temporary file renamed over it), so
/// a crash leaves the old file or the new one, never half of one.
pub fn replace(target: &Path, contents: &str) -> Result<(), FileError> {
    if let Ok(meta) = std::fs::metadata(target)
        && !meta.is_file()
    {
        return Err(FileError::NotRegular {
            path: target.to_path_buf(),
            symlink: false,
        });
    }
    let mut temp = Temp::new(target)?;
    temp.write(contents).map_err(io(target))?;
    std::fs::rename(&temp.path, target).map_err(io(target))
}

/// Whether a file can be made in `dir` now (one is made and removed again).
pub fn writable_dir(dir: &Path) -> Result<(), FileError> {
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(refused(dir, "is not a directory")),
        Err(e) => return Err(io(dir)(e)),
    }
    Temp::new(&dir.join("probe")).map(drop)
}

/// Reads a regular file of at most `max` bytes (symlinks followed); a FIFO, directory or
/// device is refused before it is opened, and the file is opened without blocking and checked
/// again, so nothing planted makes a read wait.
pub fn read_regular(path: &Path, max: u64) -> Result<String, FileError> {
    let file = open_regular(path)?;
    if file.metadata().map_err(io(path))?.len() > max {
        return Err(FileError::TooLarge {
            path: path.to_path_buf(),
            max,
        });
    }
    let mut text = String::new();
    file.take(max + 1)
        .read_to_string(&mut text)
        .map_err(io(path))?;
    Ok(text)
}

/// Opens a regular file to read (symlinks followed), of any size; a FIFO, directory or device
/// is refused before it is opened, and the file is opened without blocking and checked again,
/// so nothing planted makes a read wait.
pub fn open_regular(path: &Path) -> Result<std::fs::File, FileError> {
    let not_regular = || FileError::NotRegular {
        path: path.to_path_buf(),
        symlink: false,
    };
    if !std::fs::metadata(path).map_err(io(path))?.is_file() {
        return Err(not_regular());
    }
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path).map_err(io(path))?;
    if !file.metadata().map(|m| m.is_file()).unwrap_or(false) {
        return Err(not_regular());
    }
    Ok(file)
}

/// [`read_regular`] for a file the state directory or a sink holds: a symlink is refused too.
pub fn read_small(path: &Path, max: u64) -> Result<String, FileError> {
    let meta = std::fs::symlink_metadata(path).map_err(io(path))?;
    if meta.file_type().is_symlink() {
        return Err(FileError::NotRegular {
            path: path.to_path_buf(),
            symlink: true,
        });
    }
    read_regular(path, max)
}

/// Whether two paths name one file, by what they are, not how they are spelled: the same
/// device and inode when both exist (hard links, symlinks, any spelling); else the same path
/// once each is resolved (its longest existing ancestor canonical: `.`, `..` and symlinked
/// directories resolved).
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
        use std::os::unix::fs::MetadataExt;
        return (ma.dev(), ma.ino()) == (mb.dev(), mb.ino());
    }
    resolved(a) == resolved(b)
}

/// Whether `path` is `dir` or inside it, by what they are, not how they are spelled: each
/// resolved as far as it exists (`.`, `..` and symlinks resolved), the rest taken as written.
pub fn within(path: &Path, dir: &Path) -> bool {
    resolved(path).starts_with(resolved(dir))
}

/// `path` made absolute, its longest existing ancestor canonical, the rest appended (`.`
/// dropped, `..` taking a component off).
fn resolved(path: &Path) -> std::path::PathBuf {
    use std::path::Component;
    let absolute = std::env::current_dir().unwrap_or_default().join(path);
    let mut base = absolute.as_path();
    let mut rest = Vec::new();
    let canonical = loop {
        if let Ok(canonical) = std::fs::canonicalize(base) {
            break canonical;
        }
        match (base.parent(), base.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                base = parent;
            }
            _ => break base.to_path_buf(),
        }
    };
    let mut out = canonical;
    for part in rest.into_iter().rev() {
        match Path::new(&part).components().next() {
            Some(Component::ParentDir) => {
                out.pop();
            }
            Some(Component::CurDir) => {}
            _ => out.push(part),
        }
    }
    out
}

/// Whether `path` is a directory an apply may keep its state in (made when missing, private:
/// 0700): made, then a file made and removed in it.
pub(crate) fn state_dir(path: &Path) -> Result<(), FileError> {
    private_dir(path)?;
    writable_dir(path)
}

/// Makes `path` a directory of mode 0700 when missing. One that is there must be a directory
/// of this user's, not a symlink (never followed): one with group or other permissions is
/// made private (0700) before anything is kept in it; anything else is refused.
pub(crate) fn private_dir(path: &Path) -> Result<(), FileError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(refused(path, "a symlink; refused (it is never followed)"));
        }
        Ok(meta) if !meta.is_dir() => return Err(refused(path, "not a directory")),
        Ok(meta) => return make_private(path, &meta),
        Err(_) => {}
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path).map_err(io(path))
}

/// A directory of ours with group or other permissions made 0700; another user's refused.
#[cfg(unix)]
fn make_private(path: &Path, meta: &std::fs::Metadata) -> Result<(), FileError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(refused(
            path,
            format!("owned by another user (uid {}); refused", meta.uid()),
        ));
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| refused(path, format!("cannot be made private: {e}")))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn make_private(_: &Path, _: &std::fs::Metadata) -> Result<(), FileError> {
    Ok(())
}
