//! What the generator reads about its own process: CPU time, resident memory, the fd limit.

use std::io;

/// User plus system CPU time of this process, all threads, in seconds (`getrusage`, microsecond
/// resolution, where `/proc/<pid>/stat` counts clock ticks).
pub fn cpu_seconds() -> f64 {
    // SAFETY: `getrusage` writes a `struct rusage` into the zeroed value we own; RUSAGE_SELF is
    // always valid, so it cannot fail.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &raw mut usage);
        usage
    };
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

#[allow(clippy::cast_precision_loss)] // seconds of CPU time: far below 2^52
fn seconds(time: libc::timeval) -> f64 {
    time.tv_sec as f64 + time.tv_usec as f64 / 1e6
}

/// Resident set size of a process, from `/proc/<pid>/status` (`self` for this one).
pub fn rss_bytes(pid: &str) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| io::Error::other(format!("no VmRSS in /proc/{pid}/status")))
}

/// User plus system CPU time of another process, from `/proc/<pid>/stat`, in seconds.
pub fn process_cpu_seconds(pid: u32) -> io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the command's ")".
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let mut fields = after.split_whitespace().skip(11);
    let mut next = || fields.next().and_then(|field| field.parse::<u64>().ok());
    let (Some(user), Some(system)) = (next(), next()) else {
        return Err(io::Error::other(format!("unreadable /proc/{pid}/stat")));
    };
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    #[allow(clippy::cast_precision_loss)] // clock ticks of a bench run: far below 2^52
    Ok((user + system) as f64 / ticks.max(1) as f64)
}

/// Raises RLIMIT_NOFILE's soft limit towards `wanted`, at most to the hard limit; returns the
/// soft limit now.
pub fn raise_fd_limit(wanted: u64) -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the `rlimit` we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let target = wanted.min(limit.rlim_max);
    if limit.rlim_cur < target {
        limit.rlim_cur = target;
        // SAFETY: setrlimit reads the `rlimit` we own.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raw const limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(limit.rlim_cur)
}
