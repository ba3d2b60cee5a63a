//! The hash chains that make the event log tamper-evident. Each case's events form a chain:
//! an event carries the hash of the case's previous event (`prev_hash`, empty for the first)
//! and its own `hash`, the SHA-256 of the previous hash and every column of the event. The
//! administrative events (users, tokens, passwords, workflows, plugins, cycles) form one chain
//! of their own, in id order. `verify_chains` recomputes everything and names the first broken
//! link: an event changed, removed from the middle, or inserted out of order.
//!
//! What a chain cannot show by itself: the newest events of a chain deleted together (the rest
//! is still a valid chain). Keeping the count or the last hash elsewhere (a printed report, an
//! export) closes that gap; `jixiao audit verify` prints both.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use super::{Result, Store};

/// The hash of a case event over its predecessor's hash and its own columns.
pub fn event_hash(
    prev: &str,
    case_id: i64,
    seq: i64,
    kind: &str,
    actor: Option<i64>,
    at_ms: i64,
    data: &str,
) -> String {
    let actor = actor.map(|a| a.to_string()).unwrap_or_default();
    hex::encode(Sha256::digest(format!("case-event\n{prev}\n{case_id}\n{seq}\n{kind}\n{actor}\n{at_ms}\n{data}")))
}

/// The hash of an administrative event over its predecessor's hash and its own columns.
pub fn admin_hash(prev: &str, kind: &str, actor: Option<i64>, at_ms: i64, data: &str) -> String {
    let actor = actor.map(|a| a.to_string()).unwrap_or_default();
    hex::encode(Sha256::digest(format!("admin-event\n{prev}\n{kind}\n{actor}\n{at_ms}\n{data}")))
}

/// Appends an event to a case's chain: the next sequence number, the predecessor's hash and
/// its own. Two writers appending to one case cannot both succeed: `(case_id, seq)` is unique.
pub(crate) async fn append_case_event(
    conn: &mut AnyConnection,
    case_id: i64,
    kind: &str,
    data: &str,
    actor: Option<i64>,
    at_ms: i64,
) -> Result<()> {
    let last: Option<(i64, Option<String>)> =
        sqlx::query_as("SELECT seq, hash FROM events WHERE case_id = $1 ORDER BY seq DESC LIMIT 1")
            .bind(case_id)
            .fetch_optional(&mut *conn)
            .await?;
    let (seq, prev) = match last {
        Some((seq, hash)) => (seq + 1, hash.unwrap_or_default()),
        None => (1, String::new()),
    };
    let hash = event_hash(&prev, case_id, seq, kind, actor, at_ms, data);
    sqlx::query(
        "INSERT INTO events (case_id, seq, kind, data, actor_id, at_ms, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(case_id)
    .bind(seq)
    .bind(kind)
    .bind(data)
    .bind(actor)
    .bind(at_ms)
    .bind(&prev)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Appends an administrative event to its chain. On PostgreSQL an advisory lock held to the end
/// of the transaction keeps two writers from chaining onto the same predecessor; SQLite has one
/// writer at a time anyway.
pub(crate) async fn append_admin_event(
    conn: &mut AnyConnection,
    kind: &str,
    data: &str,
    actor: Option<i64>,
    at_ms: i64,
) -> Result<()> {
    if conn.backend_name() == "PostgreSQL" {
        sqlx::query("SELECT pg_advisory_xact_lock(7362001)").execute(&mut *conn).await?;
    }
    let prev: Option<Option<String>> =
        sqlx::query_scalar("SELECT hash FROM admin_events ORDER BY id DESC LIMIT 1").fetch_optional(&mut *conn).await?;
    let prev = prev.flatten().unwrap_or_default();
    let hash = admin_hash(&prev, kind, actor, at_ms, data);
    sqlx::query(
        "INSERT INTO admin_events (kind, data, actor_id, at_ms, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(kind)
    .bind(data)
    .bind(actor)
    .bind(at_ms)
    .bind(&prev)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The first link found broken, or how far the chains were checked.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Broken {
    /// "case" or "admin".
    pub chain: String,
    /// The case (for a case chain).
    pub case_id: Option<i64>,
    /// The event's sequence number in its case, or its id in the administrative chain.
    pub position: i64,
    pub kind: String,
    pub problem: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    pub cases: i64,
    pub events: i64,
    pub admin_events: i64,
    /// The hash of the newest administrative event, to keep elsewhere.
    pub admin_head: String,
    pub broken: Option<Broken>,
}

const PAGE: i64 = 5000;

type EventRow = (i64, i64, i64, String, String, Option<i64>, i64, Option<String>, Option<String>);
/// id, seq, kind, data, actor, at, hash.
type UnsealedEvent = (i64, i64, String, String, Option<i64>, i64, Option<String>);
/// id, kind, data, actor, at, hash.
type UnsealedAdmin = (i64, String, String, Option<i64>, i64, Option<String>);

impl Store {
    /// Chains the events written before the log was hash-chained (or by a version that did not
    /// chain), in order. Run at start-up; does nothing when everything is chained.
    pub async fn seal_unchained(&self) -> Result<u64> {
        let mut sealed = 0u64;
        let mut tx = self.write().await?;
        let cases: Vec<i64> =
            sqlx::query_scalar("SELECT DISTINCT case_id FROM events WHERE hash IS NULL").fetch_all(&mut *tx).await?;
        for case_id in cases {
            let rows: Vec<UnsealedEvent> = sqlx::query_as(
                "SELECT id, seq, kind, data, actor_id, at_ms, hash FROM events WHERE case_id = $1 ORDER BY seq",
            )
            .bind(case_id)
            .fetch_all(&mut *tx)
            .await?;
            let mut prev = String::new();
            for (id, seq, kind, data, actor, at_ms, hash) in rows {
                let own = match hash {
                    Some(h) => h,
                    None => {
                        let h = event_hash(&prev, case_id, seq, &kind, actor, at_ms, &data);
                        sqlx::query("UPDATE events SET prev_hash = $1, hash = $2 WHERE id = $3")
                            .bind(&prev)
                            .bind(&h)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        sealed += 1;
                        h
                    }
                };
                prev = own;
            }
        }
        let unchained: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM admin_events WHERE hash IS NULL").fetch_one(&mut *tx).await?;
        if unchained > 0 {
            let rows: Vec<UnsealedAdmin> =
                sqlx::query_as("SELECT id, kind, data, actor_id, at_ms, hash FROM admin_events ORDER BY id")
                    .fetch_all(&mut *tx)
                    .await?;
            let mut prev = String::new();
            for (id, kind, data, actor, at_ms, hash) in rows {
                prev = match hash {
                    Some(h) => h,
                    None => {
                        let h = admin_hash(&prev, &kind, actor, at_ms, &data);
                        sqlx::query("UPDATE admin_events SET prev_hash = $1, hash = $2 WHERE id = $3")
                            .bind(&prev)
                            .bind(&h)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        sealed += 1;
                        h
                    }
                };
            }
        }
        tx.commit().await?;
        Ok(sealed)
    }

    /// Recomputes every chain and stops at the first broken link.
    pub async fn verify_chains(&self) -> Result<Verified> {
        let mut v = Verified { cases: 0, events: 0, admin_events: 0, admin_head: String::new(), broken: None };
        // Case chains, read in pages in (case, seq) order.
        let (mut after_case, mut after_seq) = (i64::MIN, i64::MIN);
        let (mut case, mut prev, mut expected_seq) = (None::<i64>, String::new(), 1i64);
        loop {
            let rows: Vec<EventRow> = sqlx::query_as(
                "SELECT case_id, seq, id, kind, data, actor_id, at_ms, prev_hash, hash FROM events \
                 WHERE case_id > $1 OR (case_id = $1 AND seq > $2) ORDER BY case_id, seq LIMIT $3",
            )
            .bind(after_case)
            .bind(after_seq)
            .bind(PAGE)
            .fetch_all(&self.pool)
            .await?;
            let Some(last) = rows.last() else { break };
            (after_case, after_seq) = (last.0, last.1);
            for (case_id, seq, _id, kind, data, actor, at_ms, prev_hash, hash) in rows {
                if case != Some(case_id) {
                    case = Some(case_id);
                    prev = String::new();
                    expected_seq = 1;
                    v.cases += 1;
                }
                v.events += 1;
                let broken = |problem: String| Broken {
                    chain: "case".into(),
                    case_id: Some(case_id),
                    position: seq,
                    kind: kind.clone(),
                    problem,
                };
                if seq != expected_seq {
                    v.broken = Some(broken(format!(
                        "event {expected_seq} is missing (the next one is {seq}): an event was removed"
                    )));
                    return Ok(v);
                }
                let Some(hash) = hash else {
                    v.broken = Some(broken("the event is not chained (no hash)".into()));
                    return Ok(v);
                };
                if prev_hash.as_deref().unwrap_or_default() != prev {
                    v.broken = Some(broken(
                        "its predecessor's hash is not the one it carries: an earlier event was changed or removed"
                            .into(),
                    ));
                    return Ok(v);
                }
                if event_hash(&prev, case_id, seq, &kind, actor, at_ms, &data) != hash {
                    v.broken = Some(broken(
                        "its content does not match its hash: the event was changed after it was written".into(),
                    ));
                    return Ok(v);
                }
                prev = hash;
                expected_seq += 1;
            }
        }
        // The administrative chain, in id order.
        let mut after = i64::MIN;
        let mut prev = String::new();
        loop {
            let rows = sqlx::query(
                "SELECT id, kind, data, actor_id, at_ms, prev_hash, hash FROM admin_events WHERE id > $1 ORDER BY id LIMIT $2",
            )
            .bind(after)
            .bind(PAGE)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let id: i64 = r.try_get("id")?;
                after = id;
                let kind: String = r.try_get("kind")?;
                let data: String = r.try_get("data")?;
                let actor: Option<i64> = r.try_get("actor_id")?;
                let at_ms: i64 = r.try_get("at_ms")?;
                let prev_hash: Option<String> = r.try_get("prev_hash")?;
                let hash: Option<String> = r.try_get("hash")?;
                v.admin_events += 1;
                let broken = |problem: &str| Broken {
                    chain: "admin".into(),
                    case_id: None,
                    position: id,
                    kind: kind.clone(),
                    problem: problem.into(),
                };
                let Some(hash) = hash else {
                    v.broken = Some(broken("the event is not chained (no hash)"));
                    return Ok(v);
                };
                if prev_hash.as_deref().unwrap_or_default() != prev {
                    v.broken = Some(broken(
                        "its predecessor's hash is not the one it carries: an earlier event was changed or removed",
                    ));
                    return Ok(v);
                }
                if admin_hash(&prev, &kind, actor, at_ms, &data) != hash {
                    v.broken =
                        Some(broken("its content does not match its hash: the event was changed after it was written"));
                    return Ok(v);
                }
                prev = hash;
            }
        }
        v.admin_head = prev;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_and_the_predecessor_change_the_hash() {
        let base = event_hash("p", 1, 2, "task_completed", Some(3), 4, "{}");
        assert_eq!(base, event_hash("p", 1, 2, "task_completed", Some(3), 4, "{}"));
        for other in [
            event_hash("q", 1, 2, "task_completed", Some(3), 4, "{}"),
            event_hash("p", 9, 2, "task_completed", Some(3), 4, "{}"),
            event_hash("p", 1, 9, "task_completed", Some(3), 4, "{}"),
            event_hash("p", 1, 2, "case_created", Some(3), 4, "{}"),
            event_hash("p", 1, 2, "task_completed", None, 4, "{}"),
            event_hash("p", 1, 2, "task_completed", Some(3), 9, "{}"),
            event_hash("p", 1, 2, "task_completed", Some(3), 4, "{\"x\":1}"),
        ] {
            assert_ne!(base, other);
        }
        assert_ne!(admin_hash("", "token_issued", Some(1), 2, "{}"), admin_hash("", "token_issued", Some(1), 3, "{}"));
    }
}
