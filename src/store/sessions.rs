//! Web log-in: password hashes (argon2id), sessions known by the hash of their cookie, and the
//! failed attempts the log-in rate limit counts.

use super::people::{User, audit, hash_token, new_token, same_secret};
use super::{Result, Store, StoreError};

/// A session ends after this long without a request …
pub const IDLE_MS: i64 = 30 * 60_000;
/// … and in any case this long after log-in.
pub const LIFETIME_MS: i64 = 12 * 3_600_000;
/// Failed log-ins for one username from one client address within `FAILURE_WINDOW_MS` that
/// lock that username for that address until the oldest of them leaves the window. Its owner,
/// elsewhere, is not locked out by someone else's guesses.
pub const MAX_FAILURES: i64 = 5;
/// Failed log-ins from one client address, whatever the usernames, that lock every log-in from
/// that address the same way (one address guessing across many usernames).
pub const MAX_CLIENT_FAILURES: i64 = 30;
pub const FAILURE_WINDOW_MS: i64 = 15 * 60_000;
/// From this many failures for one username within the window, from any addresses, each
/// further attempt for it waits `SLOW_STEP_MS` longer than the one before, up to
/// `SLOW_MAX_MS`: guesses spread over many addresses slow down, while the owner still gets in.
pub const SLOW_AFTER: i64 = 10;
pub const SLOW_STEP_MS: i64 = 250;
pub const SLOW_MAX_MS: i64 = 5_000;

/// The shortest password the bureau may set.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// A live session: its user and the token its forms must carry.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf: String,
}

/// Why a log-in was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginRefused {
    /// Unknown user, no password set, or a wrong password (not told apart, on purpose).
    Wrong,
    /// Too many failures: try again at this time.
    Locked { until_ms: i64 },
}

/// How long a log-in form's token is accepted (its cookie lives as long).
pub const LOGIN_FORM_MS: i64 = 3_600_000;

/// HMAC-SHA-256 (RFC 2104) of `msg` under `key`.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

fn hash_password(password: &str) -> Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let salt = SaltString::encode_b64(&bytes)
        .map_err(|e| StoreError::Other(anyhow::anyhow!("making a password salt failed: {e}")))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Other(anyhow::anyhow!("hashing a password failed: {e}")))
}

fn password_matches(password: &str, stored: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(stored).is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Password hashing is deliberately slow (argon2id: tens of milliseconds and 19 MiB each). It
/// runs on the blocking pool, at most this many at once, so a flood of log-ins waits its turn
/// instead of taking the threads that answer everyone else.
const HASHING_AT_ONCE: usize = 2;
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(HASHING_AT_ONCE);

/// Runs a password hash or check off the request threads, within `HASHING_AT_ONCE`.
async fn hashing<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let _permit = HASHING
        .acquire()
        .await
        .map_err(|e| StoreError::Other(anyhow::anyhow!("the password hashing queue is closed: {e}")))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Other(anyhow::anyhow!("password hashing failed: {e}")))
}

/// A hash no password matches, checked in place of a missing one.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password(&new_token()).unwrap_or_default())
}

impl Store {
    /// Sets a user's password (the bureau's admin does) and ends their sessions.
    pub async fn set_password(&self, user_id: i64, password: &str, now_ms: i64, actor: Option<i64>) -> Result<()> {
        if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > 1000 {
            return Err(StoreError::Invalid {
                message: "the password is unsuitable".into(),
                details: vec![crate::domain::FieldError {
                    zh: None,
                    path: "password".into(),
                    message: format!("a password has {MIN_PASSWORD_CHARS} to 1000 characters"),
                }],
            });
        }
        let owned = password.to_string();
        let hash = hashing(move || hash_password(&owned)).await??;
        let mut tx = self.write().await?;
        let n = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("no user {user_id}")));
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        audit(&mut tx, "password_set", &serde_json::json!({"user_id": user_id}), actor, now_ms).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A secret of the server's, made on first use and kept in the database (so every API
    /// process of an installation has the same).
    async fn server_secret(&self, name: &str) -> Result<String> {
        let get = || {
            sqlx::query_scalar::<_, String>("SELECT value FROM server_secrets WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
        };
        if let Some(v) = get().await? {
            return Ok(v);
        }
        sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(new_token())
            .execute(&self.pool)
            .await?;
        get().await?.ok_or_else(|| StoreError::Other(anyhow::anyhow!("the server secret {name} was not kept")))
    }

    /// A token for the log-in form: when it was issued, a random part, and their HMAC under
    /// the server's secret. The form's page also sets it as a cookie; a log-in must bring
    /// both, equal, and the signature must hold, so a client cannot make one up.
    pub async fn login_form_token(&self, now_ms: i64) -> Result<String> {
        let secret = self.server_secret("login_form").await?;
        let nonce = format!("{now_ms}-{}", &new_token()[3..35]);
        Ok(format!("{nonce}.{}", hex::encode(hmac_sha256(secret.as_bytes(), nonce.as_bytes()))))
    }

    /// Whether `token` is a log-in form token this server issued within [`LOGIN_FORM_MS`].
    pub async fn login_form_token_valid(&self, token: &str, now_ms: i64) -> Result<bool> {
        let Some((nonce, mac)) = token.split_once('.') else { return Ok(false) };
        let issued = nonce.split_once('-').and_then(|(t, _)| t.parse::<i64>().ok());
        if issued.is_none_or(|t| t > now_ms + 60_000 || now_ms - t > LOGIN_FORM_MS) {
            return Ok(false);
        }
        let secret = self.server_secret("login_form").await?;
        let expected = hex::encode(hmac_sha256(secret.as_bytes(), nonce.as_bytes()));
        Ok(same_secret(&expected, mac))
    }

    /// Checks a username and password from the client address `client`, counting failures; on
    /// success opens a session and returns its cookie value (shown once, stored only as its
    /// hash). Refused without checking the password when this address has failed too often
    /// for this username or for all usernames together (see [`MAX_FAILURES`],
    /// [`MAX_CLIENT_FAILURES`]); slowed when the username has failed often from anywhere
    /// ([`SLOW_AFTER`]).
    pub async fn log_in(
        &self,
        username: &str,
        password: &str,
        client: &str,
        now_ms: i64,
    ) -> Result<Result<String, LoginRefused>> {
        let username: String = username.trim().chars().take(64).collect();
        let since = now_ms - FAILURE_WINDOW_MS;
        // The three counts at once: this username from this address, this address for any
        // username, this username from any address.
        let (pair, pair_oldest, from_client, client_oldest, for_user): (i64, Option<i64>, i64, Option<i64>, i64) =
            sqlx::query_as(
                "SELECT COALESCE(SUM(CASE WHEN username = $1 AND client = $2 THEN 1 ELSE 0 END), 0), \
                        MIN(CASE WHEN username = $1 AND client = $2 THEN at_ms END), \
                        COALESCE(SUM(CASE WHEN client = $2 THEN 1 ELSE 0 END), 0), \
                        MIN(CASE WHEN client = $2 THEN at_ms END), \
                        COALESCE(SUM(CASE WHEN username = $1 THEN 1 ELSE 0 END), 0) \
                 FROM login_failures WHERE (username = $1 OR client = $2) AND at_ms > $3",
            )
            .bind(&username)
            .bind(client)
            .bind(since)
            .fetch_one(&self.pool)
            .await?;
        if pair >= MAX_FAILURES {
            return Ok(Err(LoginRefused::Locked { until_ms: pair_oldest.unwrap_or(now_ms) + FAILURE_WINDOW_MS }));
        }
        if from_client >= MAX_CLIENT_FAILURES {
            return Ok(Err(LoginRefused::Locked { until_ms: client_oldest.unwrap_or(now_ms) + FAILURE_WINDOW_MS }));
        }
        if for_user >= SLOW_AFTER {
            let wait = ((for_user - SLOW_AFTER + 1) * SLOW_STEP_MS).min(SLOW_MAX_MS);
            tokio::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
        }
        let row: Option<(i64, Option<String>)> =
            sqlx::query_as("SELECT id, password_hash FROM users WHERE username = $1 AND active = 1")
                .bind(&username)
                .fetch_optional(&self.pool)
                .await?;
        // An unknown user costs the same hashing as a known one, so the answer's timing does
        // not tell which usernames exist.
        let (id, stored) = match row {
            Some((id, Some(hash))) => (Some(id), hash),
            _ => (None, dummy_hash().to_string()),
        };
        let owned = password.to_string();
        let matches = hashing(move || password_matches(&owned, &stored)).await?;
        let matched = id.filter(|_| matches);
        let user_id = match matched {
            Some(id) => id,
            None => {
                let mut tx = self.write().await?;
                sqlx::query("INSERT INTO login_failures (username, client, at_ms) VALUES ($1, $2, $3)")
                    .bind(&username)
                    .bind(client)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM login_failures WHERE at_ms < $1")
                    .bind(now_ms - FAILURE_WINDOW_MS)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(Err(LoginRefused::Wrong));
            }
        };
        let token = new_token();
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf, created_ms, last_seen_ms, expires_ms) VALUES ($1, $2, $3, $4, $4, $5)",
        )
        .bind(hash_token(&token))
        .bind(user_id)
        .bind(new_token())
        .bind(now_ms)
        .bind(now_ms + LIFETIME_MS)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM sessions WHERE expires_ms < $1 OR last_seen_ms < $2")
            .bind(now_ms)
            .bind(now_ms - IDLE_MS)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Ok(token))
    }

    /// The live session a cookie names, touched (at most once a minute) to keep it alive.
    pub async fn session(&self, cookie: &str, now_ms: i64) -> Result<Option<Session>> {
        let id = hash_token(cookie);
        let row: Option<(i64, String, i64)> = sqlx::query_as(
            "SELECT s.user_id, s.csrf, s.last_seen_ms FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id_hash = $1 AND s.expires_ms > $2 AND s.last_seen_ms > $3 AND u.active = 1",
        )
        .bind(&id)
        .bind(now_ms)
        .bind(now_ms - IDLE_MS)
        .fetch_optional(&self.pool)
        .await?;
        let Some((user_id, csrf, last_seen)) = row else { return Ok(None) };
        if now_ms - last_seen > 60_000 {
            sqlx::query("UPDATE sessions SET last_seen_ms = $1 WHERE id_hash = $2")
                .bind(now_ms)
                .bind(&id)
                .execute(&self.pool)
                .await?;
        }
        Ok(Some(Session { user: self.user(user_id).await?, csrf }))
    }

    /// Ends a session.
    pub async fn log_out(&self, cookie: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(hash_token(cookie)).execute(&self.pool).await?;
        Ok(())
    }
}
