//! Documents uploaded with a submission (the ex-ante assessment report): checked for size and
//! type by their content, stored in the database with their SHA-256, listed on the case and
//! recorded in its history.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Result, Store, StoreError};
use crate::domain::FieldError;

/// The largest document accepted (20 MiB).
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;

/// A stored document without its content.
#[derive(Debug, Clone, Serialize)]
pub struct FileMeta {
    pub id: i64,
    pub case_id: i64,
    pub task_id: i64,
    pub name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_by: i64,
    pub uploaded_ms: i64,
}

fn invalid(en: String, zh: String) -> StoreError {
    StoreError::Invalid { message: en.clone(), details: vec![FieldError::bilingual("file", en, zh)] }
}

/// The type of a document by its first bytes and its name's extension: PDF, OFD, Word or
/// Excel (the formats reports are written in). The extension alone is never trusted.
pub fn document_type(name: &str, bytes: &[u8]) -> std::result::Result<&'static str, (String, String)> {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    let zip = bytes.starts_with(b"PK\x03\x04");
    let ole = bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    let found = match ext.as_str() {
        "pdf" if bytes.starts_with(b"%PDF-") => Some("application/pdf"),
        "ofd" if zip => Some("application/ofd"),
        "docx" if zip => Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        "xlsx" if zip => Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        "doc" if ole => Some("application/msword"),
        "xls" if ole => Some("application/vnd.ms-excel"),
        _ => None,
    };
    found.ok_or_else(|| {
        (
            format!("'{name}' is not a PDF, OFD, Word or Excel document (checked by its content, not only its name)"),
            format!("“{name}”不是 PDF、OFD、Word 或 Excel 文件（按文件内容检查）"),
        )
    })
}

fn meta_from_row(r: &sqlx::any::AnyRow) -> Result<FileMeta> {
    Ok(FileMeta {
        id: r.try_get("id")?,
        case_id: r.try_get("case_id")?,
        task_id: r.try_get("task_id")?,
        name: r.try_get("name")?,
        content_type: r.try_get("content_type")?,
        size_bytes: r.try_get("size_bytes")?,
        sha256: r.try_get("sha256")?,
        uploaded_by: r.try_get("uploaded_by")?,
        uploaded_ms: r.try_get("uploaded_ms")?,
    })
}

impl Store {
    /// Stores a document for an open submission task of the case; refuses an empty, oversized
    /// or unrecognised file with the reason at the field `file`.
    pub async fn add_case_file(
        &self,
        task: &super::tasks::Task,
        name: &str,
        bytes: &[u8],
        user_id: i64,
        now_ms: i64,
    ) -> Result<FileMeta> {
        let name = name.rsplit(['/', '\\']).next().unwrap_or(name).trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(invalid("a file name of 1–200 characters".into(), "文件名应为 1–200 个字".into()));
        }
        if bytes.is_empty() {
            return Err(invalid(format!("'{name}' is empty"), format!("“{name}”是空文件")));
        }
        if bytes.len() > MAX_FILE_BYTES {
            return Err(invalid(
                format!("'{name}' is {} bytes; at most {MAX_FILE_BYTES} bytes (20 MiB)", bytes.len()),
                format!("“{name}”超过 20 MB 的上限"),
            ));
        }
        if task.status != "open" || task.kind != "submission" {
            return Err(StoreError::Conflict(format!("task {} is not an open submission", task.id)));
        }
        let content_type = document_type(name, bytes).map_err(|(en, zh)| invalid(en, zh))?;
        let sha = hex::encode(Sha256::digest(bytes));
        let mut tx = self.write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO case_files (case_id, task_id, name, content_type, size_bytes, sha256, content, uploaded_by, uploaded_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(task.case_id)
        .bind(task.id)
        .bind(name)
        .bind(content_type)
        .bind(bytes.len() as i64)
        .bind(&sha)
        .bind(bytes.to_vec())
        .bind(user_id)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?;
        super::cases::append_event(
            &mut tx,
            task.case_id,
            "file_uploaded",
            &serde_json::json!({"file_id": id, "task_id": task.id, "name": name, "size_bytes": bytes.len(), "sha256": sha}),
            Some(user_id),
            now_ms,
        )
        .await?;
        tx.commit().await?;
        self.case_file_meta(id).await
    }

    pub async fn case_file_meta(&self, id: i64) -> Result<FileMeta> {
        let row = sqlx::query(
            "SELECT id, case_id, task_id, name, content_type, size_bytes, sha256, uploaded_by, uploaded_ms FROM case_files WHERE id = $1",
        )
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no file {id}")))?;
        meta_from_row(&row)
    }

    /// A document's content.
    pub async fn case_file_content(&self, id: i64) -> Result<Vec<u8>> {
        sqlx::query_scalar("SELECT content FROM case_files WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no file {id}")))
    }

    /// The case's documents, oldest first.
    pub async fn case_files(&self, case_id: i64) -> Result<Vec<FileMeta>> {
        let rows = sqlx::query(
            "SELECT id, case_id, task_id, name, content_type, size_bytes, sha256, uploaded_by, uploaded_ms FROM case_files WHERE case_id = $1 ORDER BY id",
        )
            .bind(case_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(meta_from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_recognised_by_content_and_name() {
        assert_eq!(document_type("报告.pdf", b"%PDF-1.7 ...").unwrap(), "application/pdf");
        assert!(document_type("报告.DOCX", b"PK\x03\x04rest").unwrap().contains("wordprocessingml"));
        assert_eq!(
            document_type("old.doc", &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0]).unwrap(),
            "application/msword"
        );
        // A renamed executable, a PDF without its extension, a text file: refused, in both languages.
        for (name, bytes) in [("report.pdf", &b"MZ\x90\x00"[..]), ("report", b"%PDF-1.4"), ("a.txt", b"hello")] {
            let (en, zh) = document_type(name, bytes).unwrap_err();
            assert!(en.contains(name) && zh.contains("PDF"), "{en} / {zh}");
        }
    }
}
