//! Mail: the outbox is written with the task it announces, delivered once over a real SMTP
//! conversation on loopback (temporary failures retried with backoff, permanent ones recorded),
//! or written as .eml files when no server is configured.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::helpers::*;

const ONE_STAGE: &str = r#"
id: self-only
version: 1
title: 单位自评
timezone: Asia/Shanghai
stages:
  - id: self_evaluation
    kind: self_evaluation
    title: 单位绩效自评
    submit: { by: department, form: self_evaluation, within: 20 workdays }
    scoring: mof_2020_10
"#;

/// A minimal SMTP server on loopback: it answers 451 to the first RCPT for an address
/// containing "later", 550 to any address containing "reject", and keeps every message.
#[derive(Clone, Default)]
struct Sink {
    messages: Arc<Mutex<Vec<(String, String)>>>,
    deferred: Arc<Mutex<bool>>,
}

impl Sink {
    async fn start() -> (Sink, u16) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sink = Sink::default();
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move { s.conversation(socket).await });
            }
        });
        (sink, port)
    }

    async fn conversation(&self, socket: tokio::net::TcpStream) {
        let (r, mut w) = socket.into_split();
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
    assert_eq!((sent["attempts"].as_i64(), sent["status"].as_str()), (Some(2), Some("sent")));
    assert!(sent["subject"].as_str().unwrap().starts_with("[jixiao] To do: M2023-2"), "{sent}");
    let messages = sink.messages.lock().unwrap().clone();
    assert_eq!(messages.len(), 2);
    let (_, data) = messages.iter().find(|(to, _)| to.contains("later")).unwrap();
    assert!(data.contains(&format!("Message-ID: {}", sent["message_id"].as_str().unwrap())), "{data}");

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
    assert_eq!(status("reminder", "d002"), ["sent", "sent"]);
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
