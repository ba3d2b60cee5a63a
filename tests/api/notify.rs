//! Mail: the outbox is written with the task it announces, delivered once over a real SMTP
//! conversation on loopback (temporary failures retried with backoff, permanent ones recorded),
//! or written as .eml files when no server is configured.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::helpers::*;

/// A minimal SMTP server on loopback: it answers 451 to the first RCPT for an address
/// containing "later", 550 to any address containing "reject", and keeps every message; while
/// `silent`, it takes a message and never says so.
#[derive(Clone, Default)]
struct Sink {
    messages: Arc<Mutex<Vec<(String, String)>>>,
    deferred: Arc<Mutex<bool>>,
    /// Keeps every message but never answers its DATA.
    silent: Arc<Mutex<bool>>,
}

impl Sink {
    async fn start() -> (Sink, u16) {
        Self::listen(None).await
    }

    /// A sink speaking TLS from the first byte (as on port 465), with the test CA's server
    /// certificate for 127.0.0.1.
    async fn start_tls() -> (Sink, u16) {
        use rustls_pki_types::pem::PemObject;
        let fixture = |name: &str| format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_file_iter(fixture("mail-server.pem"))
            .unwrap()
            .map(|c| c.unwrap())
            .collect();
        let key = rustls_pki_types::PrivateKeyDer::from_pem_file(fixture("mail-server.key")).unwrap();
        let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
            tokio_rustls::rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        Self::listen(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))).await
    }

    async fn listen(tls: Option<tokio_rustls::TlsAcceptor>) -> (Sink, u16) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sink = Sink::default();
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let s = s.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        // A client that refuses our certificate ends the handshake here.
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(socket).await {
                                s.conversation(stream).await
                            }
                        }
                        None => s.conversation(socket).await,
                    }
                });
            }
        });
        (sink, port)
    }

    async fn conversation<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(&self, socket: S) {
        let (r, mut w) = tokio::io::split(socket);
        let mut lines = BufReader::new(r).lines();
        let _ = w.write_all(b"220 sink ESMTP\r\n").await;
        let mut rcpt = String::new();
        while let Ok(Some(line)) = lines.next_line().await {
            let upper = line.to_ascii_uppercase();
            let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                b"250 sink\r\n"
            } else if upper.starts_with("MAIL FROM") || upper.starts_with("RSET") || upper.starts_with("NOOP") {
                b"250 OK\r\n"
            } else if upper.starts_with("RCPT TO") {
                rcpt = line.clone();
                if line.contains("reject") {
                    b"550 5.1.1 no such mailbox\r\n"
                } else if line.contains("later") && !std::mem::replace(&mut *self.deferred.lock().unwrap(), true) {
                    b"451 4.3.0 try again later\r\n"
                } else {
                    b"250 OK\r\n"
                }
            } else if upper.starts_with("DATA") {
                let _ = w.write_all(b"354 go ahead\r\n").await;
                let mut data = String::new();
                while let Ok(Some(l)) = lines.next_line().await {
                    if l == "." {
                        break;
                    }
                    data.push_str(&l);
                    data.push('\n');
                }
                self.messages.lock().unwrap().push((rcpt.clone(), data));
                if *self.silent.lock().unwrap() {
                    // The message is in, but its acceptance never reaches the sender.
                    std::future::pending::<()>().await;
                }
                b"250 queued\r\n"
            } else if upper.starts_with("QUIT") {
                let _ = w.write_all(b"221 bye\r\n").await;
                return;
            } else {
                b"502 not implemented\r\n"
            };
            if w.write_all(reply).await.is_err() {
                return;
            }
        }
    }

    fn count(&self) -> usize {
        self.messages.lock().unwrap().len()
    }
}

/// The text of a one-part mail, its transfer encoding (base64 or quoted-printable) undone.
fn mail_body(eml: &str) -> String {
    let (head, body) = eml.split_once("\r\n\r\n").unwrap_or_else(|| eml.split_once("\n\n").expect("headers and body"));
    let encoding = head.lines().find_map(|l| l.strip_prefix("Content-Transfer-Encoding: ")).unwrap_or("7bit").trim();
    let bytes: Vec<u8> = match encoding {
        "base64" => {
            let digits: Vec<u8> = body
                .bytes()
                .filter_map(|b| match b {
                    b'A'..=b'Z' => Some(b - b'A'),
                    b'a'..=b'z' => Some(b - b'a' + 26),
                    b'0'..=b'9' => Some(b - b'0' + 52),
                    b'+' => Some(62),
                    b'/' => Some(63),
                    _ => None,
                })
                .collect();
            digits
                .chunks(4)
                .flat_map(|c| {
                    let n = c.iter().fold(0u32, |acc, d| (acc << 6) | u32::from(*d)) << (6 * (4 - c.len()));
                    let b = n.to_be_bytes();
                    b[1..c.len()].to_vec()
                })
                .collect()
        }
        "quoted-printable" => {
            let mut out = Vec::new();
            let joined = body.replace("=\r\n", "").replace("=\n", "");
            let mut it = joined.bytes();
            while let Some(b) = it.next() {
                if b == b'=' {
                    let hex: String =
                        [it.next().unwrap_or(b'0'), it.next().unwrap_or(b'0')].iter().map(|&c| c as char).collect();
                    out.push(u8::from_str_radix(&hex, 16).expect("a quoted-printable escape"));
                } else {
                    out.push(b);
                }
            }
            out
        }
        _ => body.as_bytes().to_vec(),
    };
    String::from_utf8(bytes).expect("a UTF-8 body")
}

async fn outbox(app: &TestApp) -> Value {
    app.ok_get("/api/v1/outbox", ADMIN_TOKEN).await
}

/// Waits until `pred` holds on the outbox listing.
async fn wait_outbox(app: &TestApp, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = outbox(app).await;
        if pred(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "outbox never reached: {what}\n{v:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn count(v: &Value, status: &str) -> i64 {
    v["counts"][status].as_i64().unwrap_or(0)
}

async fn start_cycle(app: &TestApp, c: &County, codes: &[(&str, usize)]) {
    app.ok("/api/v1/workflows", ADMIN_TOKEN, json!({"source": ONE_STAGE})).await;
    for (code, d) in codes {
        app.ok("/api/v1/projects", &c.dept_tokens[*d], project(code, &c.dept_codes[*d], "1000000", false)).await;
    }
    let codes: Vec<&str> = codes.iter().map(|(c, _)| *c).collect();
    app.ok(
        "/api/v1/cycles",
        &c.finance_tokens[0],
        json!({"workflow_id": "self-only", "fiscal_year": 2023, "project_codes": codes}),
    )
    .await;
}

#[tokio::test]
async fn without_a_server_mail_is_written_as_files_and_listed() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    start_cycle(&app, &c, &[("M2023-1", 0)]).await;
    let v = wait_outbox(&app, "one mail sent", |v| count(v, "sent") == 1).await;
    let row = &v["items"][0];
    assert_eq!(row["kind"], "task_assigned");
    assert_eq!(row["to_addr"], "县卫生健康局绩效员 <d001@u.example.cn>");
    let subject = row["subject"].as_str().unwrap();
    assert!(subject.contains("M2023-1") && subject.contains("单位绩效自评"), "{subject}");
    let id = row["id"].as_i64().unwrap();
    let file = app.dir.path().join("mail").join(format!("{id:08}.eml"));
    let eml = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert!(eml.contains(&format!("Message-ID: {}", row["message_id"].as_str().unwrap())), "{eml}");
    assert!(eml.contains("To: "), "{eml}");
    let (s, _) = app.get("/api/v1/outbox", &c.dept_tokens[0]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn mail_goes_over_smtp_once_retrying_temporary_failures() {
    let (sink, port) = Sink::start().await;
    let app = TestApp::spawn_with(&[("JIXIAO_SMTP_URL", format!("smtp://127.0.0.1:{port}"))]).await;
    let c = county(&app).await;
    // Department 2 has two more users: one whose server defers, one whose address is refused.
    let (_, depts) = app.get("/api/v1/departments", ADMIN_TOKEN).await;
    assert!(depts["items"].as_array().is_some());
    for (name, email) in [("later", "later@u.example.cn"), ("reject", "reject@u.example.cn")] {
        app.ok(
            "/api/v1/admin/users",
            ADMIN_TOKEN,
            json!({"username": name, "display_name": name, "role": "department", "department_code": "D002", "email": email, "language": "en"}),
        )
        .await;
    }
    start_cycle(&app, &c, &[("M2023-2", 1)]).await;
    // d002 is delivered, reject is refused for good, later is deferred.
    let v = wait_outbox(&app, "first attempts", |v| {
        count(v, "sent") == 1 && count(v, "failed") == 1 && count(v, "queued") == 1
    })
    .await;
    let by_to = |v: &Value, needle: &str| {
        v["items"].as_array().unwrap().iter().find(|r| r["to_addr"].as_str().unwrap().contains(needle)).unwrap().clone()
    };
    let refused = by_to(&v, "reject");
    assert_eq!(refused["status"], "failed");
    assert!(refused["last_error"].as_str().unwrap().contains("no such mailbox"), "{refused}");
    let deferred = by_to(&v, "later");
    assert_eq!((deferred["attempts"].as_i64(), deferred["status"].as_str()), (Some(1), Some("queued")));
    assert!(deferred["last_error"].as_str().unwrap().contains("try again later"), "{deferred}");
    assert_eq!(sink.count(), 1);

    // A minute later (the first backoff) it goes through, in English as its user prefers.
    app.set_time(deferred["next_attempt_ms"].as_i64().unwrap() + 1);
    let v = wait_outbox(&app, "retried", |v| count(v, "sent") == 2).await;
    let sent = by_to(&v, "later");
    assert_eq!((sent["attempts"].as_i64(), sent["status"].as_str()), (Some(2), Some("sent")), "{v:#}");
    assert!(sent["subject"].as_str().unwrap().starts_with("[jixiao] To do: M2023-2"), "{sent}");
    let messages = sink.messages.lock().unwrap().clone();
    assert_eq!(messages.len(), 2);
    let (_, data) = messages.iter().find(|(to, _)| to.contains("later")).unwrap();
    assert!(data.contains(&format!("Message-ID: {}", sent["message_id"].as_str().unwrap())), "{data}");
    // Each body in its reader's language, with the deadline in the workflow's time zone.
    let english = mail_body(data);
    assert!(english.contains("Dear later,") && english.contains("A new task is waiting for you"), "{english}");
    assert!(english.contains("(Asia/Shanghai)") && english.contains("/tasks/"), "{english}");
    assert!(!english.contains("/api/v1/"), "mail links open pages, not the API: {english}");
    let (_, data) = messages.iter().find(|(to, _)| to.contains("d002")).unwrap();
    let chinese = mail_body(data);
    assert!(chinese.contains("您有一项新的待办事项") && chinese.contains("项目：M2023-2"), "{chinese}");

    // A restart sends nothing again.
    let app = app.restart().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let v = outbox(&app).await;
    assert_eq!((count(&v, "sent"), count(&v, "failed")), (2, 1), "{v}");
    assert_eq!(sink.count(), 2, "no mail is sent twice");
}

#[tokio::test]
async fn reminders_reach_only_open_tasks_and_overdue_ones_escalate() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    app.ok(
        "/api/v1/admin/users",
        ADMIN_TOKEN,
        json!({"username": "bureau", "display_name": "县财政局绩效股", "role": "finance", "email": "bureau@czj.example.cn"}),
    )
    .await;
    let wf = ONE_STAGE.replace("self-only", "reminded").replace(
        "    scoring: mof_2020_10\n",
        "    scoring: mof_2020_10\n    remind: [-3 workdays, -1 workday]\n    escalate: 2 workdays\n",
    );
    app.ok("/api/v1/workflows", ADMIN_TOKEN, json!({"source": wf})).await;
    for (code, d) in [("R2023-1", 0), ("R2023-2", 1)] {
        app.ok("/api/v1/projects", &c.dept_tokens[d], project(code, &c.dept_codes[d], "1000000", false)).await;
    }
    app.ok(
        "/api/v1/cycles",
        &c.finance_tokens[0],
        json!({"workflow_id": "reminded", "fiscal_year": 2023, "project_codes": ["R2023-1", "R2023-2"]}),
    )
    .await;
    // Each task: assigned now; two reminders, the overdue notice and the bureau's escalation
    // wait for their time.
    let v = wait_outbox(&app, "assignments sent", |v| count(v, "sent") == 2 && count(v, "queued") == 8).await;
    let rows = v["items"].as_array().unwrap().clone();
    let of = |kind: &str, to: &str| {
        rows.iter().filter(|r| r["kind"] == kind && r["to_addr"].as_str().unwrap().contains(to)).count()
    };
    assert_eq!((of("reminder", "d001"), of("overdue", "d002"), of("escalation", "bureau")), (2, 1, 2), "{v:#}");
    let latest = rows.iter().map(|r| r["next_attempt_ms"].as_i64().unwrap()).max().unwrap();

    // Department 1 finishes its task; department 2 does not.
    let (_, cases) = app.get("/api/v1/cases?limit=10", ADMIN_TOKEN).await;
    let case1 = cases["items"].as_array().unwrap().iter().find(|x| x["project_code"] == "R2023-1").unwrap()["id"]
        .as_i64()
        .unwrap();
    let view = app.wait_case(case1, "submission open", |v| v["phase"] == "awaiting_submission").await;
    let body = json!({"executed": "1000000", "items": [
        {"index": 0, "value": "95"}, {"index": 1, "value": "90"}, {"index": 2, "value": "100"},
        {"index": 3, "value": {"level": "达成", "share": "0.9"}}, {"index": 4, "value": "93"}]});
    let (s, v) = app
        .post(&format!("/api/v1/tasks/{}/complete", open_task(&view, "submission")["id"]), &c.dept_tokens[0], body)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // Past every notice's time: department 2 gets its reminders and the overdue notice and the
    // bureau the escalation; department 1's notices are dropped.
    app.set_time(latest + 60_000);
    let v = wait_outbox(&app, "notices handled", |v| count(v, "queued") == 0 && count(v, "sending") == 0).await;
    let rows = v["items"].as_array().unwrap().clone();
    let status = |kind: &str, to: &str| -> Vec<String> {
        rows.iter()
            .filter(|r| r["kind"] == kind && r["to_addr"].as_str().unwrap().contains(to))
            .map(|r| r["status"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(status("reminder", "d002"), ["sent", "sent"], "{v:#}");
    assert_eq!(status("overdue", "d002"), ["sent"]);
    assert_eq!(status("reminder", "d001"), ["cancelled", "cancelled"]);
    assert_eq!(status("overdue", "d001"), ["cancelled"]);
    let mut escalations = status("escalation", "bureau");
    escalations.sort();
    assert_eq!(escalations, ["cancelled", "sent"]);
    let sent = count(&v, "sent");
    let app = app.restart().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(count(&outbox(&app).await, "sent"), sent, "nothing is sent twice across a restart");
}

#[tokio::test]
async fn the_head_is_told_before_the_bureau_and_a_digest_user_gets_one_mail_a_day() {
    let app = TestApp::spawn().await;
    // 07:00, before the day's digest time: the clerk who turns the digest on below gets the
    // first one on the morning this test moves to, whenever the mailer first looks.
    app.set_time(start_ms() - 2 * 3_600_000);
    let c = county(&app).await;
    app.ok(
        "/api/v1/admin/users",
        ADMIN_TOKEN,
        json!({"username": "bureau", "display_name": "县财政局绩效股", "role": "finance", "email": "bureau@czj.example.cn"}),
    )
    .await;
    // Department 1 has a head with an account; department 2 has none.
    let head = json!({"username": "head1", "display_name": "卫健局局长", "role": "department", "department_code": "D001",
                      "email": "head@u.example.cn", "department_head": true});
    app.ok("/api/v1/admin/users", ADMIN_TOKEN, head).await;
    let (s, v) = app
        .post(
            "/api/v1/admin/users",
            ADMIN_TOKEN,
            json!({"username": "x", "display_name": "x", "role": "expert", "department_head": true,
                   "expert": {"sectors": ["health"]}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "only department users can be heads: {v}");
    // Department 2's clerk takes the daily digest.
    let (s, me) = app.call(Method::PATCH, "/api/v1/me", Some(&c.dept_tokens[1]), Some(json!({"digest": true}))).await;
    assert_eq!((s, &me["digest"]), (StatusCode::OK, &json!(true)), "{me}");
    let (s, v) = app.call(Method::PATCH, "/api/v1/me", Some(&c.dept_tokens[1]), Some(json!({"language": "fr"}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");

    let wf = ONE_STAGE
        .replace("self-only", "escalated")
        .replace("    scoring: mof_2020_10\n", "    scoring: mof_2020_10\n    escalate: 2 workdays\n");
    app.ok("/api/v1/workflows", ADMIN_TOKEN, json!({"source": wf})).await;
    for (code, d) in [("E2023-1", 0), ("E2023-2", 1)] {
        app.ok("/api/v1/projects", &c.dept_tokens[d], project(code, &c.dept_codes[d], "1000000", false)).await;
    }
    app.ok(
        "/api/v1/cycles",
        &c.finance_tokens[0],
        json!({"workflow_id": "escalated", "fiscal_year": 2023, "project_codes": ["E2023-1", "E2023-2"]}),
    )
    .await;
    // Department 1: its clerk and its head are told of the task; department 2's clerk's mail
    // is kept for the digest.
    let v = wait_outbox(&app, "assignments handled", |v| count(v, "sent") == 2 && count(v, "digested") == 1).await;
    let rows = v["items"].as_array().unwrap().clone();
    let case_of = |to: &str| {
        rows.iter()
            .find(|r| r["kind"] == "task_assigned" && r["to_addr"].as_str().unwrap().contains(to))
            .and_then(|r| r["case_id"].as_i64())
            .unwrap()
    };
    let (case1, case2) = (case_of("d001@"), case_of("d002@"));
    let at = |kind: &str, to: &str, case: i64| -> Vec<i64> {
        let mut t: Vec<i64> = rows
            .iter()
            .filter(|r| r["kind"] == kind && r["to_addr"].as_str().unwrap().contains(to) && r["case_id"] == case)
            .map(|r| r["next_attempt_ms"].as_i64().unwrap())
            .collect();
        t.sort();
        t
    };
    // Project 1 escalates to its head first and to the bureau two working days later; project
    // 2, with no head to tell, escalates to the bureau at the head's time.
    let head_at = at("escalation", "head@", case1);
    let bureau_1 = at("escalation", "bureau@", case1);
    let bureau_2 = at("escalation", "bureau@", case2);
    assert_eq!((head_at.len(), bureau_1.len(), bureau_2.len()), (1, 1, 1), "{v:#}");
    assert!(bureau_1[0] > head_at[0], "the bureau is told after the head");
    assert_eq!(bureau_2[0], head_at[0], "without a head the bureau is told at the head's time");
    let overdue_at = at("overdue", "d001@", case1)[0];
    assert!(head_at[0] > overdue_at);

    // Past every notice, on the morning after (the digest goes out at 08:00): nothing goes to
    // department 2's clerk but the digest.
    let morning = bureau_1[0] + 9 * 3_600_000;
    app.set_time(morning);
    let v = wait_outbox(&app, "notices and the digest handled", |v| {
        count(v, "queued") == 0
            && count(v, "sending") == 0
            && v["items"].as_array().unwrap().iter().any(|r| r["kind"] == "digest")
    })
    .await;
    let rows = v["items"].as_array().unwrap().clone();
    let to_d002: Vec<(&str, &str)> = rows
        .iter()
        .filter(|r| r["to_addr"].as_str().unwrap().contains("d002@"))
        .map(|r| (r["kind"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    let mut kinds = to_d002.clone();
    kinds.sort();
    assert_eq!(kinds, [("digest", "sent"), ("overdue", "digested"), ("task_assigned", "digested")], "{v:#}");
    let digest = rows.iter().find(|r| r["kind"] == "digest").unwrap();
    let subject = digest["subject"].as_str().unwrap();
    assert!(subject.contains("待办 1 项，逾期 1 项"), "{subject}");
    let eml =
        std::fs::read_to_string(app.dir.path().join("mail").join(format!("{:08}.eml", digest["id"].as_i64().unwrap())))
            .unwrap();
    let eml = mail_body(&eml);
    assert!(eml.contains("【已逾期】"), "{eml}");
    assert!(eml.contains("E2023-2"), "the digest lists the open task: {eml}");
    assert!(!eml.contains("E2023-1"), "and only the recipient's own: {eml}");
    for (to, status) in [("head@", "sent"), ("bureau@", "sent")] {
        assert!(
            rows.iter()
                .filter(|r| r["kind"] == "escalation" && r["to_addr"].as_str().unwrap().contains(to))
                .all(|r| r["status"] == status),
            "{v:#}"
        );
    }

    // One digest a day: a restart queues no second one; the next day brings the next.
    let app = app.restart().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let digests = |v: &Value| v["items"].as_array().unwrap().iter().filter(|r| r["kind"] == "digest").count();
    assert_eq!(digests(&outbox(&app).await), 1);
    app.set_time(morning + 86_400_000);
    wait_outbox(&app, "the next day's digest", |v| digests(v) == 2 && count(v, "queued") == 0).await;
}

/// The known outcome of a crash after the server took a message but before the outbox row was
/// marked sent: the row stays claimed, is left alone while the claim is fresh, and after ten
/// minutes is sent again with the same Message-ID, so the receiver can recognise the copy.
/// Delivery is at least once, never silently lost.
#[tokio::test]
async fn a_crash_between_sending_and_marking_sent_resends_with_the_same_message_id() {
    let (sink, port) = Sink::start().await;
    *sink.silent.lock().unwrap() = true;
    let app = TestApp::spawn_with(&[("JIXIAO_SMTP_URL", format!("smtp://127.0.0.1:{port}"))]).await;
    let c = county(&app).await;
    start_cycle(&app, &c, &[("C2023-1", 0)]).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while sink.count() < 1 {
        assert!(Instant::now() < deadline, "the message never reached the server");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The process dies while waiting for the server's answer.
    let app = app.crash().await;
    *sink.silent.lock().unwrap() = false;
    let v = outbox(&app).await;
    assert_eq!((count(&v, "sending"), count(&v, "sent")), (1, 0), "{v:#}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.count(), 1, "a fresh claim is left to its mailer");

    app.set_time(start_ms() + 10 * 60_000 + 1_000);
    let v = wait_outbox(&app, "the stale claim sent", |v| count(v, "sent") == 1).await;
    let rows = v["items"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "one mail: {v:#}");
    let messages = sink.messages.lock().unwrap().clone();
    assert_eq!(messages.len(), 2, "sent again");
    let id = format!("Message-ID: {}", rows[0]["message_id"].as_str().unwrap());
    assert!(messages.iter().all(|(_, data)| data.contains(&id)), "both copies carry {id}");
}

/// Over TLS, the server's certificate is checked: refused when signed by a CA jixiao does not
/// know (the mail waits for another attempt, with the reason), accepted with `smtp_ca_file`.
#[tokio::test]
async fn mail_goes_over_tls_to_a_server_with_a_private_ca() {
    let (sink, port) = Sink::start_tls().await;
    let app = TestApp::spawn_with(&[("JIXIAO_SMTP_URL", format!("smtps://127.0.0.1:{port}"))]).await;
    let c = county(&app).await;
    start_cycle(&app, &c, &[("T2023-1", 0)]).await;
    let v =
        wait_outbox(&app, "an attempt refused", |v| count(v, "queued") == 1 && v["items"][0]["attempts"] == 1).await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1, "one mail: {v:#}");
    let error = v["items"][0]["last_error"].as_str().unwrap().to_string();
    assert!(error.to_lowercase().contains("certificate"), "{error}");
    assert_eq!((count(&v, "queued"), sink.count()), (1, 0));

    let ca = format!("{}/tests/fixtures/mail-ca.pem", env!("CARGO_MANIFEST_DIR"));
    let mut app = app;
    app.stop().await;
    let app = TestApp::spawn_in(
        Arc::clone(&app.dir),
        Arc::new(app.env.iter().cloned().chain([("JIXIAO_SMTP_CA_FILE".to_string(), ca)]).collect()),
        Arc::clone(&app.clock),
    )
    .await;
    app.set_time(v["items"][0]["next_attempt_ms"].as_i64().unwrap() + 1);
    let v = wait_outbox(&app, "sent over TLS", |v| count(v, "sent") == 1).await;
    assert_eq!(sink.count(), 1);
    let (_, data) = sink.messages.lock().unwrap()[0].clone();
    let sent = v["items"].as_array().unwrap().iter().find(|r| r["status"] == "sent").expect("the sent row");
    assert!(data.contains(sent["message_id"].as_str().unwrap()), "{data}\n{v:#}");
}
