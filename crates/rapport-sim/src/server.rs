//! The server side of the simulation: what the simulated network delivers requests to. The
//! real implementation is the team server's own storage and push/pull code
//! (`rapport-server`), driven in-process with the simulation's clock.

use rapport_sync::wire::*;

/// One org's server, in-process. `now` is the simulation's clock (ms).
pub trait SimServer: Send + Sync {
    /// Registers a client of the member `user` (an email; the adapter makes them members).
    fn register(
        &self,
        user: &str,
        client: &RegisterRequest,
        now: i64,
    ) -> impl Future<Output = Result<RegisterResponse, ApiError>> + Send;
    fn push(
        &self,
        user: &str,
        req: &PushRequest,
        now: i64,
    ) -> impl Future<Output = Result<PushResponse, ApiError>> + Send;
    fn pull(
        &self,
        user: &str,
        since: i64,
        limit: usize,
        now: i64,
    ) -> impl Future<Output = Result<ChangesPage, ApiError>> + Send;
    fn bootstrap(
        &self,
        user: &str,
        after_id: Option<String>,
        now: i64,
    ) -> impl Future<Output = Result<Vec<BootstrapLine>, ApiError>> + Send;
    /// The member `user`'s id and the org's id and name (to join the org).
    fn member(&self, user: &str) -> impl Future<Output = (String, String, String)> + Send;
    /// The org's current sequence number.
    fn last_seq(&self) -> impl Future<Output = i64> + Send;
    /// Every record's current state (tombstones too), for the invariants.
    fn records(&self) -> impl Future<Output = Vec<Change>> + Send;
}
