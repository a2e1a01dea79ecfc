//! The process's resident memory, for the tests that measure what the hub
//! costs (no counting allocator: the workspace forbids `unsafe`).

/// `VmRSS` of `/proc/self/status`, in KiB.
pub(crate) fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}
