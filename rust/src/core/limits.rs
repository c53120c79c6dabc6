//! Every size, depth and count limit of the core, and the defaults of its options, defined once.
//! The modules that enforce them, the bindings (which export them to Python as module
//! constants) and the docs all read them from here; this module depends on nothing.

// Channel ids (docs/spec.md §1).

/// Longest wire id, in bytes.
pub const MAX_WIRE_ID_BYTES: usize = 512;
/// Most segments in a template or wire id.
pub const MAX_SEGMENTS: usize = 16;
/// Longest static segment, and longest parameter name.
pub const MAX_NAME_LEN: usize = 64;
/// Longest possible template: 16 segments of `{` + 64 + `}` and the dots between them.
pub const MAX_TEMPLATE_BYTES: usize = MAX_SEGMENTS * (MAX_NAME_LEN + 2) + MAX_SEGMENTS - 1;

// Keys (docs/spec.md §2).

/// Shortest accepted secret: RFC 7518 §3.2 wants an HS256 key at least as long as the hash.
pub const MIN_SECRET_BYTES: usize = 32;
/// Longest accepted key name.
pub const MAX_KID_BYTES: usize = 256;

// Signing and verification (docs/spec.md §3, §4).

/// The audience signers write and verifiers require unless told otherwise.
pub const DEFAULT_AUDIENCE: &str = "sock8";
/// A signer's default token lifetime, in seconds: an hour.
pub const DEFAULT_TTL: u64 = 3600;
/// Longest lifetime a signer gives a token: a year. Grant tokens are meant to be short-lived.
pub const MAX_TTL: u64 = 31_536_000;
/// Ceiling and default of a verifier's `max_token_bytes`; also the largest token a signer writes.
pub const MAX_TOKEN_BYTES: usize = 512 * 1024;
/// Ceiling and default of a verifier's `max_depth`: no valid token is deeper.
pub const MAX_JSON_DEPTH: usize = 8;
/// Ceiling and default of a verifier's `max_channels`; also the most channels a signer grants.
pub const MAX_CHANNELS: usize = 10_000;
/// Largest leeway, in seconds.
pub const MAX_LEEWAY: f64 = 86_400.0;

// Message payloads (docs/spec.md §5).

/// Default depth limit of `json::check_value`, for message payloads: eight times a token's,
/// deeper than real messages nest, as deep as .NET's `System.Text.Json` reads by default, far
/// below what recursive consumers stop at (Python's `json.loads`, near 1,000 levels), and a
/// bounded stack for the recursive parser (under 50 KiB at this depth in a release build).
pub const MAX_PAYLOAD_DEPTH: usize = 64;
/// Ceiling of the depth limit `json::check_value` accepts: room for a payload of
/// [`MAX_PAYLOAD_DEPTH`] inside an envelope (the gateway's publish body), with a worst-case
/// stack under 100 KiB in a release build, within the smallest thread stacks Python runs on
/// (musl's 128 KiB).
pub const MAX_CHECK_DEPTH: usize = 2 * MAX_PAYLOAD_DEPTH;
