//! Bearer-token authentication and the role checks every handler makes.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::app::Runtime;
use crate::store::people::User;
use crate::workflow::Role;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller(pub User);

/// The token of an `Authorization: Bearer …` header, if the request has a plausible one.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 200)
}

impl FromRequestParts<Arc<Runtime>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, rt: &Arc<Runtime>) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        let user = rt.store.user_by_token(token).await?.ok_or_else(ApiError::unauthorized)?;
        Ok(Caller(user))
    }
}

impl Caller {
    pub fn require(&self, roles: &[Role], what: &str) -> Result<(), ApiError> {
        if roles.contains(&self.0.role) { Ok(()) } else { Err(ApiError::forbidden(what)) }
    }

    pub fn is_bureau(&self) -> bool {
        matches!(self.0.role, Role::Admin | Role::Finance)
    }

    /// Whether the caller sees a department's own records: the bureau does, and the
    /// department's users do.
    pub fn sees_department(&self, department_id: i64) -> bool {
        self.is_bureau() || (self.0.role == Role::Department && self.0.department_id == Some(department_id))
    }

    pub fn id(&self) -> i64 {
        self.0.id
    }
}
