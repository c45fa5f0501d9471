//! A sink command's supervisor (Unix): what makes the whole command, and everything it starts,
//! die with its apply, even when the apply is killed outright (SIGKILL), where no code of the
//! apply runs.
//!
//! The apply forks one process for the command, in a process group of its own. Before it
//! execs, that process forks again: the new process (the grandchild) execs the command; the
//! first stays behind as its supervisor, in the same group, holding nothing of the apply's (it
//! closes every descriptor it inherited: stdin's pipe included, so the command sees its end of
//! input). The supervisor then
//!
//! * ends with the command: once the command has exited, it stops what the command left
//!   running in the group (it steps out of the group into the apply's, then SIGKILLs the
//!   group) and exits with the command's code (128 + the signal when it was killed), which the
//!   apply judges;
//! * stops the whole group (SIGKILL) as soon as its parent is not the apply any more: the apply
//!   died. It looks every [`LOOK_EVERY_MS`] ms, and on Linux the apply's death (its
//!   parent-death signal, SIGHUP, caught) or the command's end (SIGCHLD) wakes it at once.
//!
//! The command itself has a parent-death signal on Linux (SIGKILL): it dies with its supervisor
//! too, should something kill the supervisor alone. The apply still SIGKILLs the group when it
//! is done with the command, at the timeout, and when it ends or drops it.
//!
//! The supervisor's own parent-death signal only wakes it: were it SIGKILL, the kernel would
//! kill the supervisor first, and what the command started would outlive both. On other Unix
//! systems there is no parent-death signal: the supervisor notices the apply's death by its
//! parent changing, within [`LOOK_EVERY_MS`] ms. A process that leaves the group (`setsid`,
//! `setpgid`: a daemon) is out of reach, as it is of the timeout.
//!
//! Everything here runs in a child between fork and exec: only async-signal-safe calls, and
//! nothing allocated.

use std::io;

use nix::errno::Errno;
use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{self, ForkResult, Pid};

/// How often the supervisor looks at its command and its apply when no signal wakes it.
pub(super) const LOOK_EVERY_MS: u16 = 50;

/// Makes `command` run under a supervisor (see the module's docs): it must be spawned from this
/// process, in a process group of its own.
pub(super) fn supervised(command: &mut tokio::process::Command) {
    let apply = unistd::getpid();
    let apply_group = unistd::getpgrp();
    // SAFETY: the closure runs in the child between fork and exec, where only async-signal-safe
    // calls are allowed: `split` and what it calls make only such calls (fork, setpgid, prctl,
    // getppid, sigaction, close, poll, waitpid, killpg, _exit) and allocate nothing.
    unsafe {
        command.pre_exec(move || split(apply, apply_group));
    }
}

/// In the child, before exec: forks the command off (`Ok` there: std execs it), and becomes its
/// supervisor (never returns). An apply already gone starts nothing.
fn split(apply: Pid, apply_group: Pid) -> io::Result<()> {
    if unistd::getppid() != apply {
        return Err(io::Error::from(Errno::ESRCH));
    }
    // The group std made for the command (`process_group(0)`), made sure of.
    unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0))?;
    let supervisor = unistd::getpid();
    // SAFETY: this process has one thread (a child after fork): forking it again is sound, and
    // both sides go on with async-signal-safe calls only.
    match unsafe { unistd::fork() }? {
        ForkResult::Child => {
            #[cfg(target_os = "linux")]
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
            if unistd::getppid() != supervisor {
                return Err(io::Error::from(Errno::ESRCH));
            }
            Ok(())
        }
        ForkResult::Parent { child } => supervise(child, apply, apply_group),
    }
}

/// The supervisor's life: see the module's docs.
fn supervise(command: Pid, apply: Pid, apply_group: Pid) -> ! {
    // The apply's signal handlers (inherited: the supervisor never execs) are dropped first,
    // while the descriptors they may write to are still the apply's.
    wake_on_signals();
    close_inherited();
    loop {
        match waitpid(command, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => end(code, apply_group),
            Ok(WaitStatus::Signaled(_, sig, _)) => end(128 + sig as i32, apply_group),
            Ok(_) | Err(Errno::EINTR) => {}
            // It cannot be waited for (it is not ours any more): judged a failure.
            Err(_) => end(127, apply_group),
        }
        if unistd::getppid() != apply {
            // The apply died: the whole group goes, this process with it.
            let _ = signal::killpg(unistd::getpgrp(), Signal::SIGKILL);
            exit(137);
        }
        // Woken early by a signal (EINTR) or not: looked at again either way.
        let _ = nix::poll::poll(&mut [], LOOK_EVERY_MS);
    }
}

/// The command ended with `code`: what it left in the group is stopped (this process steps
/// into the apply's group first, so as not to be stopped with it), and its code is handed on.
fn end(code: i32, apply_group: Pid) -> ! {
    let group = unistd::getpgrp();
    if group != apply_group && unistd::setpgid(Pid::from_raw(0), apply_group).is_ok() {
        let _ = signal::killpg(group, Signal::SIGKILL);
    }
    exit(code)
}

/// Ends this process at once (no exit handlers: they are not async-signal-safe).
fn exit(code: i32) -> ! {
    // SAFETY: _exit(2) is async-signal-safe and takes a plain integer.
    unsafe { libc::_exit(code) }
}

/// A signal handler that does nothing: the signal only interrupts the supervisor's sleep.
extern "C" fn wake(_: libc::c_int) {}

/// Every signal back to its default action (the apply's handlers are not the supervisor's: a
/// SIGTERM ends it, as it would the command), but SIGCHLD (the command ended) and, on Linux,
/// the parent-death signal (SIGHUP: the apply died), which wake the supervisor at once instead
/// of at its next look.
fn wake_on_signals() {
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    let woken = SigAction::new(SigHandler::Handler(wake), SaFlags::empty(), SigSet::empty());
    for sig in Signal::iterator() {
        let action = match sig {
            Signal::SIGCHLD | Signal::SIGHUP => &woken,
            _ => &default,
        };
        // SAFETY: the handler does nothing, so it is async-signal-safe; sigaction(2) is too.
        // SIGKILL and SIGSTOP refuse (EINVAL): they keep their actions.
        let _ = unsafe { signal::sigaction(sig, action) };
    }
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGHUP);
}

/// Closes every descriptor the supervisor inherited (0-2 and the rest: the command's pipes,
/// the apply's sockets and files, std's exec-error pipe): it needs none, and one it held would
/// keep the command's stdin from ending, or the apply waiting.
fn close_inherited() {
    #[cfg(target_os = "linux")]
    {
        // close_range(2), by its system call number: nix has no wrapper, and glibc's needs
        // glibc 2.34. Linux 5.9 and later; else the loop below.
        // SAFETY: plain integers in, an integer out; no memory is touched.
        if unsafe { libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32) } == 0 {
            return;
        }
    }
    let most = match nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE) {
        Ok((soft, _)) => i32::try_from(soft).unwrap_or(1 << 20).min(1 << 20),
        Err(_) => 1 << 16,
    };
    for fd in 0..most {
        // SAFETY: close(2) on a plain integer; a descriptor that is not open is EBADF, ignored.
        unsafe {
            libc::close(fd);
        }
    }
}
