//! The wire types of Rapport Sync v1 (JSON over HTTP, NDJSON for bootstrap, JSON messages on
//! the WebSocket). Shared by the server and the client so both sides read one definition.
//! Paths are under `/v1`; every org-scoped path names the org by id.

use crate::state::{Clocks, RecordState};
use rapport_core::Hlc;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The protocol version (`X-Sync-Protocol`).
pub const PROTOCOL: u32 = 1;
/// Header carrying the protocol version on sync calls.
pub const PROTOCOL_HEADER: &str = "x-sync-protocol";
/// Header carrying the client id on sync calls.
pub const CLIENT_HEADER: &str = "x-client-id";
/// Most ops one push may carry.
pub const MAX_PUSH_OPS: usize = 1000;
/// Largest page a pull may ask for.
pub const MAX_PAGE: usize = 5000;
/// Largest request body the server reads (bytes, after decompression).
pub const MAX_BODY: usize = 16 * 1024 * 1024;
/// How far ahead of the server's clock an op's stamp may be.
pub const MAX_FUTURE_SKEW_MS: i64 = 5 * 60 * 1000;

/// `GET /v1/capabilities`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capabilities {
    pub protocols: Vec<u32>,
    pub max_push_ops: usize,
    pub max_page: usize,
    pub max_body: usize,
    pub max_future_skew_ms: i64,
    /// `gzip`, `zstd`.
    pub compression: Vec<String>,
    /// `note_merge`, `bootstrap`, `events`, `presence`.
    pub features: Vec<String>,
    pub server_time: i64,
    pub version: String,
}

/// `POST /v1/auth/login`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    pub device_name: String,
}

/// An org the user belongs to, with their role there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgMembership {
    pub id: String,
    pub name: String,
    /// `owner`, `admin`, `member`, `viewer`.
    pub role: String,
}

/// A user as the server knows them (ids are ULIDs, the same as the org's user records).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserInfo {
    pub id: String,
    pub email: String,
    pub display_name: String,
}

/// Answer to a login (a new device token each time) and to `GET /v1/me` (no token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginResponse {
    /// Shown once; the server keeps only its SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    pub user: UserInfo,
    pub orgs: Vec<OrgMembership>,
}

/// A device or API token as listed (never the secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: String,
    /// `device`, `api`.
    pub kind: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// `POST /v1/orgs/{org}/clients`: register (idempotently) this device's client id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterRequest {
    pub client_id: String,
    pub device_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterResponse {
    pub epoch: String,
    /// The last `local_seq` the server applied for this client (0 for a new client).
    pub applied_local_seq: i64,
    pub applied_op_id: Option<String>,
    pub server_time: i64,
    pub horizon_seq: i64,
    pub last_seq: i64,
    /// The user's id on the server (the org's user record for them).
    pub user_id: String,
    pub role: String,
}

/// One pushed operation: a (partial) state of one record. A create carries every field and
/// `"*"`; an update carries the fields it sets with their clocks; a delete or undelete carries
/// `_deleted`. A note body edit names the body revision it was typed over (`base_rev`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op {
    pub local_seq: i64,
    pub op_id: String,
    pub entity: String,
    pub id: String,
    #[serde(default)]
    pub lead_id: Option<String>,
    /// `create`, `update`, `delete`, `undelete` (for logs; the state decides the merge).
    pub kind: String,
    #[serde(flatten)]
    pub state: RecordState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_rev: Option<i64>,
}

/// `POST /v1/orgs/{org}/push`. `ops` are contiguous in `local_seq`, starting at most at the
/// server's `applied_local_seq + 1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushRequest {
    pub client_id: String,
    pub epoch: String,
    pub ops: Vec<Op>,
}

/// What the server did with one op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpStatus {
    /// Every field it set won.
    Applied,
    /// Some fields won, others lost to newer clocks.
    PartiallyApplied,
    /// Every field lost to newer clocks (kept in the change log for audit).
    Stale,
    /// A note body merged cleanly with a concurrent edit.
    Merged,
    /// A note body conflicted: the server kept its text, this one is a conflict record.
    Conflict,
    /// Refused by validation (still advances `applied_local_seq`).
    Rejected,
    /// Already applied by an earlier push (a retry).
    Duplicate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpResult {
    pub local_seq: i64,
    pub status: OpStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushResponse {
    pub applied_through: i64,
    pub last_seq: i64,
    pub results: Vec<OpResult>,
    pub server_time: i64,
}

/// One record in a pull page or a bootstrap stream: its whole current state at `seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub seq: i64,
    pub entity: String,
    pub id: String,
    #[serde(default)]
    pub lead_id: Option<String>,
    #[serde(flatten)]
    pub state: RecordState,
    /// Notes: the server `seq` at which the current body was accepted (the `base_rev` of the
    /// next body edit typed over it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_rev: Option<i64>,
    /// The member whose push last changed the record (for "replaced by Joe's newer one").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
}

/// `GET /v1/orgs/{org}/changes?since=S&limit=L`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangesPage {
    pub epoch: String,
    pub changes: Vec<Change>,
    pub next_since: i64,
    pub has_more: bool,
    pub last_seq: i64,
    pub horizon_seq: i64,
    pub server_time: i64,
}

/// One line of the bootstrap NDJSON stream (`GET /v1/orgs/{org}/bootstrap?after_id=…`):
/// a header, then every live record in id order, then an end line. A stream without its end
/// line was cut off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum BootstrapLine {
    #[serde(rename = "header")]
    Header {
        org: String,
        epoch: String,
        snapshot_seq: i64,
        estimated: i64,
    },
    #[serde(rename = "r")]
    Record {
        #[serde(rename = "k")]
        entity: String,
        id: String,
        #[serde(default)]
        lead_id: Option<String>,
        #[serde(rename = "d", default)]
        deleted: bool,
        #[serde(rename = "f")]
        fields: Map<String, Value>,
        #[serde(rename = "c")]
        clocks: Clocks,
        #[serde(rename = "s")]
        seq: i64,
        /// Notes: as [`Change::body_rev`].
        #[serde(rename = "b", default, skip_serializing_if = "Option::is_none")]
        body_rev: Option<i64>,
    },
    #[serde(rename = "end")]
    End { count: i64, snapshot_seq: i64 },
}

/// Messages on `GET /v1/orgs/{org}/events` (WebSocket). Pokes carry no data: the pull is the
/// only data path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The org's sequence reached `seq`.
    Poke {
        seq: i64,
    },
    Ping,
    /// The token was revoked; the server closes the socket.
    Revoked,
    /// Who has which lead open (never stored).
    Presence {
        entries: Vec<PresenceEntry>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresenceEntry {
    pub user_id: String,
    pub display_name: String,
    pub client_id: String,
    pub lead_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Sent after connecting: the server pokes at once if it is past `cursor`.
    Hello { cursor: i64 },
    /// The lead this client has open (`None`: none).
    Presence { lead_id: Option<String> },
}

/// `POST /v1/orgs/{org}/notes/{note}/conflicts/{id}/resolve`: the text to keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolveRequest {
    pub body: String,
}

/// `POST /v1/orgs/{org}/reconcile`: the client's clocks for records it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconcileRequest {
    pub records: Vec<ReconcileEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconcileEntry {
    pub entity: String,
    pub id: String,
    pub clocks: Clocks,
}

/// The records (and keys) where the client's clocks are newer than the server's: the client
/// pushes those as repair ops with their original clocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconcileResponse {
    pub behind: Vec<ReconcileEntry>,
}

/// Every error body: a stable code, a message, and the facts some codes carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// The offending field (`ops[3].fields.name`) when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_local_seq: Option<i64>,
}

/// Stable error codes; clients branch on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: malformed JSON, wrong types, an invalid value.
    BadRequest,
    /// 400: an entity kind the server does not know.
    UnknownEntity,
    /// 400: a field the entity does not have.
    UnknownField,
    /// 401: no token, an unknown, expired or revoked token, or wrong credentials.
    Unauthorized,
    /// 403: the role may not do this (a viewer's push), or the client belongs to another user.
    Forbidden,
    /// 404: no such org (or not a member: the same answer), record or route.
    NotFound,
    /// 409: the server was restored or reset; re-push, reconcile and pull from 0.
    EpochChanged,
    /// 409: another device pushed under this client id (a copied store); re-register.
    ClientForked,
    /// 409: the push starts after `applied_local_seq + 1`; resend from there.
    Gap,
    /// 409: an op's clock is ahead of the server's by more than the allowed skew.
    ClockSkew,
    /// 410: the cursor is behind the tombstone horizon; bootstrap again.
    MustRebootstrap,
    /// 413: the body is over the limit.
    PayloadTooLarge,
    /// 429.
    RateLimited,
    /// 500 (no internals in the message).
    Internal,
}

impl ErrorCode {
    pub fn status(self) -> u16 {
        use ErrorCode::*;
        match self {
            BadRequest | UnknownEntity | UnknownField => 400,
            Unauthorized => 401,
            Forbidden => 403,
            NotFound => 404,
            EpochChanged | ClientForked | Gap | ClockSkew => 409,
            MustRebootstrap => 410,
            PayloadTooLarge => 413,
            RateLimited => 429,
            Internal => 500,
        }
    }
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            field: None,
            epoch: None,
            server_time: None,
            applied_local_seq: None,
        }
    }
    pub fn field(mut self, f: impl Into<String>) -> ApiError {
        self.field = Some(f.into());
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ApiError {}

/// An op's id: a hash of what makes it this op (its local position, stamp and record), so it
/// needs no storage, a retry of the same op has the same id, and two copies of one store that
/// wrote different things at one `local_seq` have different ids (fork detection).
pub fn op_id(local_seq: i64, entity: &str, id: &str, state: &RecordState) -> String {
    // FNV-1a, 64 bits, twice with different offsets: stable across versions and platforms.
    fn fnv(seed: u64, parts: &[&[u8]]) -> u64 {
        let mut h = seed;
        for p in parts {
            for b in *p {
                h ^= *b as u64;
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            h ^= 0xff;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    }
    let clocks = serde_json::to_string(&state.clocks).unwrap_or_default();
    let parts: [&[u8]; 4] = [
        &local_seq.to_le_bytes(),
        entity.as_bytes(),
        id.as_bytes(),
        clocks.as_bytes(),
    ];
    format!(
        "{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325, &parts),
        fnv(0x6c62_272e_07bb_0142, &parts)
    )
}

/// The newest stamp an op carries (what the skew guard checks).
pub fn op_clock(op: &Op) -> Option<Hlc> {
    op.state.max_clock()
}
