//! What the system does with a sink command's program when it starts it, read from the file's
//! first bytes, as the kernel reads them: a script's `#!` line names its interpreter (one that
//! is a script itself is followed, up to [`MAX_DEPTH`] levels, as Linux follows them), an ELF
//! program may name its loader (`PT_INTERP`). Both must be regular files this process may
//! execute. Reads are bounded: the first [`HEAD`] bytes, the ELF program headers (at most
//! [`MAX_PHDRS`] bytes), the loader's path (at most [`MAX_INTERP`] bytes). Not checked: an ELF
//! program's machine, its shared libraries, what an interpreter does with the script. A file
//! this process may not read is taken as it is (the system may still run an ELF program).
//! Anything else (a file starting neither with `#!` nor with ELF's magic, an empty one) is
//! refused: the system does not start it, and `execvp`, which starts the command, would hand it
//! to `/bin/sh`.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::runnable::{NotRunnable, file_runnable};

/// How much of a file the kernel reads to tell its format (Linux's `BINPRM_BUF_SIZE`).
const HEAD: u64 = 256;
/// How many levels of `#!` interpreters are followed (Linux gives up past 4).
const MAX_DEPTH: usize = 4;
/// The largest ELF program header table read (Linux's own bound).
const MAX_PHDRS: usize = 65536;
/// The longest loader path read (`PATH_MAX`, Linux's own bound).
const MAX_INTERP: usize = 4096;
/// `PT_INTERP`.
const PT_INTERP: u32 = 3;

/// Whether the program at `at` (a regular file this process may execute) is one the system
/// starts: its `#!` interpreter or ELF loader found and runnable. `depth`: interpreters
/// followed so far.
pub(super) fn startable(at: &Path, depth: usize) -> Result<(), NotRunnable> {
    let Ok(mut file) = File::open(at) else {
        return Ok(());
    };
    let mut head = Vec::new();
    if (&mut file).take(HEAD).read_to_end(&mut head).is_err() {
        return Ok(());
    }
    let not = |why: &str| NotRunnable::NotAProgram {
        at: at.to_path_buf(),
        why: why.to_string(),
    };
    if let Some(line) = head.strip_prefix(b"#!") {
        let interpreter =
            shebang(line).ok_or_else(|| not("a script whose #! line names no interpreter"))?;
        if depth >= MAX_DEPTH {
            return Err(not("a script behind too many levels of #! interpreters"));
        }
        let why = file_runnable(&interpreter)
            .and_then(|()| startable(&interpreter, depth + 1))
            .err();
        return match why {
            None => Ok(()),
            Some(why) => Err(NotRunnable::Interpreter {
                at: at.to_path_buf(),
                what: "#! interpreter",
                interpreter,
                why: Box::new(why),
            }),
        };
    }
    if head.starts_with(b"\x7fELF") {
        let loader = elf_loader(&mut file, &head)
            .map_err(|why| not(&format!("not an ELF program the system starts: {why}")))?;
        if let Some(loader) = loader {
            file_runnable(&loader).map_err(|why| NotRunnable::Interpreter {
                at: at.to_path_buf(),
                what: "ELF loader (PT_INTERP)",
                interpreter: loader.clone(),
                why: Box::new(why),
            })?;
        }
        return Ok(());
    }
    // `execvp` would hand such a file to `/bin/sh` (its ENOEXEC fallback): no shell.
    Err(not(if head.is_empty() {
        "an empty file, not a program (the system would run it with /bin/sh, which does nothing with the secret)"
    } else {
        "neither an ELF program nor a script starting with #! (the system would run it with /bin/sh)"
    }))
}

/// The interpreter a `#!` line names: its first word, spaces and tabs around it skipped.
fn shebang(line: &[u8]) -> Option<PathBuf> {
    let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
    let word = line
        .split(|&b| b == b' ' || b == b'\t')
        .find(|w| !w.is_empty())?;
    Some(path_of(word))
}

#[cfg(unix)]
fn path_of(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(OsStr::from_bytes(bytes))
}

#[cfg(not(unix))]
fn path_of(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

/// Reads numbers of one ELF file's width and byte order.
struct Elf {
    wide: bool,
    little: bool,
}

impl Elf {
    fn num(&self, bytes: &[u8], at: usize, len: usize) -> Option<u64> {
        let field = bytes.get(at..at.checked_add(len)?)?;
        let mut n: u64 = 0;
        for i in 0..len {
            let b = if self.little {
                field[len - 1 - i]
            } else {
                field[i]
            };
            n = (n << 8) | u64::from(b);
        }
        Some(n)
    }

    /// A word: 8 bytes in a 64-bit file, 4 in a 32-bit one.
    fn word(&self, bytes: &[u8], at64: usize, at32: usize) -> Option<u64> {
        if self.wide {
            self.num(bytes, at64, 8)
        } else {
            self.num(bytes, at32, 4)
        }
    }
}

/// The loader an ELF program names (`PT_INTERP`), if any, from its header (`head`) and its
/// program headers; why the system would not start it otherwise.
fn elf_loader(file: &mut File, head: &[u8]) -> Result<Option<PathBuf>, &'static str> {
    let wide = match head.get(4) {
        Some(1) => false,
        Some(2) => true,
        _ => return Err("a truncated or unknown ELF header"),
    };
    let little = match head.get(5) {
        Some(1) => true,
        Some(2) => false,
        _ => return Err("a truncated or unknown ELF header"),
    };
    let elf = Elf { wide, little };
    let truncated = "a truncated ELF header";
    let kind = elf.num(head, 16, 2).ok_or(truncated)?;
    if kind != 2 && kind != 3 {
        return Err("an ELF file that is not a program (not ET_EXEC nor ET_DYN)");
    }
    let phoff = elf.word(head, 0x20, 0x1c).ok_or(truncated)?;
    let (entsize, count) = if wide {
        (elf.num(head, 0x36, 2), elf.num(head, 0x38, 2))
    } else {
        (elf.num(head, 0x2a, 2), elf.num(head, 0x2c, 2))
    };
    let (entsize, count) = (entsize.ok_or(truncated)?, count.ok_or(truncated)?);
    let expected = if wide { 56 } else { 32 };
    let size = usize::try_from(entsize * count).unwrap_or(usize::MAX);
    if entsize != expected || count == 0 || size > MAX_PHDRS {
        return Err("no program headers the system reads");
    }
    let phdrs = read_at(file, phoff, size).ok_or("truncated program headers")?;
    for ph in phdrs.chunks_exact(expected as usize) {
        if elf.num(ph, 0, 4) != Some(u64::from(PT_INTERP)) {
            continue;
        }
        let offset = elf.word(ph, 8, 4).ok_or(truncated)?;
        let len = elf.word(ph, 0x20, 0x10).ok_or(truncated)?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if !(2..=MAX_INTERP).contains(&len) {
            return Err("a loader path (PT_INTERP) of a length the system refuses");
        }
        let path = read_at(file, offset, len).ok_or("a truncated loader path (PT_INTERP)")?;
        let Some((0, path)) = path.split_last() else {
            return Err("a loader path (PT_INTERP) not ended by a NUL");
        };
        let path = path.split(|&b| b == 0).next().unwrap_or_default();
        if path.is_empty() {
            return Err("an empty loader path (PT_INTERP)");
        }
        return Ok(Some(path_of(path)));
    }
    Ok(None)
}

/// Exactly `len` bytes at `offset`, or `None`.
fn read_at(file: &mut File, offset: u64, len: usize) -> Option<Vec<u8>> {
    file.seek(SeekFrom::Start(offset)).ok()?;
    let mut bytes = vec![0; len];
    file.read_exact(&mut bytes).ok()?;
    Some(bytes)
}
