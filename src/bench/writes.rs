//! `jixiao bench load`'s write phase: the demo county (`jixiao serve --demo`, 3,244 projects,
//! 74 departments) in its own server process, and `clients` concurrent clients signed in as the
//! departments, each reading its inbox and completing its department's open tasks (ex-ante
//! reports, target declarations, overall declarations) with the forms a diligent clerk would
//! send, for `seconds`. Each client paces itself so that its share of the open tasks lasts the
//! run (with at most one completion and one inbox read a second), and no two clients hold the
//! same task. Latency is measured per request, from sending it to the last byte of its answer.
//!
//! Afterwards, with the server's background work settled, the benchmark checks that every
//! completion the server accepted was applied exactly once: the task is completed, it has one
//! `task_completed` event, and its case input was applied once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::load::{Conn, figures, settled, start_server};
use crate::store::Store;
use crate::store::tasks::{TaskFilter, TaskScope};

/// One client's work: its token, and the tasks it completes, each with its form.
struct Client {
    token: String,
    tasks: Vec<(i64, Vec<u8>)>,
}

/// What the clients measured.
#[derive(Default)]
struct Measured {
    inbox_ms: Vec<f64>,
    inbox_errors: usize,
    complete_ms: Vec<f64>,
    complete_errors: usize,
    /// Tasks the server answered 200 for.
    completed: Vec<i64>,
    /// The first few unexpected answers, for the report.
    samples: Vec<String>,
}

pub async fn run(clients: usize, seconds: f64, shipped: &super::Shipped) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("jixiao.db").display());
    let t0 = Instant::now();
    // The demo is loaded before the server answers; then its cases find their first stages.
    let (_server, addr) = start_server(&["serve", "--demo"], dir.path(), &url, shipped, Duration::from_secs(600))?;
    let store = Store::open(&url).await?;
    let open_tasks =
        || TaskFilter { status: Some("open".into()), kind: Some("submission".into()), ..Default::default() };
    loop {
        let (_, open) = store.tasks(&TaskScope::All, &open_tasks(), 1, 0).await?;
        if open > 0 && store.pending_work_count().await? == 0 {
            break;
        }
        anyhow::ensure!(t0.elapsed() < Duration::from_secs(900), "the demo's cases did not settle");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let settle_s = t0.elapsed().as_secs_f64();

    // The departments' users, a token each, and every open submission with its form.
    let now = chrono::Utc::now().timestamp_millis();
    let users = store.users(10_000, 0).await?;
    let mut department_user: HashMap<i64, i64> = HashMap::new();
    for u in &users {
        if let (crate::workflow::Role::Department, Some(d)) = (u.role, u.department_id) {
            department_user.entry(d).or_insert(u.id);
        }
    }
    let (tasks, _) = store.tasks(&TaskScope::All, &open_tasks(), 100_000, 0).await?;
    let mut by_user: HashMap<i64, Vec<(i64, Vec<u8>)>> = HashMap::new();
    for t in &tasks {
        let Some(&user) = t.department_id.and_then(|d| department_user.get(&d)) else { continue };
        let form = crate::demo_setup::sample_form(&store, t).await?;
        by_user.entry(user).or_default().push((t.id, serde_json::to_vec(&form)?));
    }
    let mut tokens = HashMap::new();
    for &user in by_user.keys() {
        let token = format!("jx_bench_writer_{user:06}_0123456789abcdef");
        store.ensure_token(user, &token, "bench", now).await?;
        tokens.insert(user, token);
    }
    // Clients are spread over the users round-robin; a user's tasks are dealt out among its
    // clients, so no two clients complete the same task.
    let mut order: Vec<i64> = by_user.keys().copied().collect();
    order.sort_unstable();
    anyhow::ensure!(!order.is_empty(), "the demo has no open submissions");
    let mut work: Vec<Client> = (0..clients.max(1))
        .map(|i| Client { token: tokens[&order[i % order.len()]].clone(), tasks: Vec::new() })
        .collect();
    for (ui, user) in order.iter().enumerate() {
        let mine: Vec<usize> = (0..work.len()).filter(|i| i % order.len() == ui).collect();
        for (k, task) in by_user.remove(user).unwrap_or_default().into_iter().enumerate() {
            work[mine[k % mine.len()]].tasks.push(task);
        }
    }
    let offered: usize = work.iter().map(|c| c.tasks.len()).sum();
    println!(
        "demo county ready in {settle_s:.1} s: {offered} open submissions of {} departments, {} clients",
        order.len(),
        work.len()
    );

    let measured = Arc::new(Mutex::new(Measured::default()));
    let start = Instant::now() + Duration::from_millis(200);
    let deadline = start + Duration::from_secs_f64(seconds);
    tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            for (i, client) in work.iter().enumerate() {
                let (measured, addr) = (Arc::clone(&measured), addr.as_str());
                scope.spawn(move || drive_client(i, client, addr, start, deadline, seconds, &measured));
            }
        })
    });
    let m = Arc::try_unwrap(measured).map_err(|_| anyhow::anyhow!("a client is still running"))?;
    let m = m.into_inner().unwrap_or_else(|e| e.into_inner());
    let settle_after = settled(&url, Duration::from_secs(900)).await?;
    let check = applied_once(&store, &m.completed).await?;
    store.pool.close().await;
    let inbox = figures("inbox", m.inbox_ms.clone(), m.inbox_errors, m.inbox_ms.len(), seconds);
    let complete = figures("complete_task", m.complete_ms.clone(), m.complete_errors, m.complete_ms.len(), seconds);
    println!("{inbox}\n{complete}");
    for s in &m.samples {
        println!("unexpected answer: {s}");
    }
    Ok(json!({
        "clients": work.len(),
        "seconds": seconds,
        "demo_ready_s": (settle_s * 10.0).round() / 10.0,
        "open_submissions": offered,
        "completed": m.completed.len(),
        "settle_after_s": (settle_after * 10.0).round() / 10.0,
        "applied_exactly_once": check,
        "phases": [inbox, complete],
        "goal": "p99 <= 100 ms for both, every completion applied exactly once, 0 errors",
    }))
}

/// One client: every `period` seconds, its inbox and then its next task; an inbox read alone
/// once its tasks are done.
fn drive_client(
    i: usize,
    client: &Client,
    addr: &str,
    start: Instant,
    deadline: Instant,
    seconds: f64,
    measured: &Mutex<Measured>,
) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(i as u64);
    let period = (seconds / (client.tasks.len() as f64 + 1.0)).clamp(1.0, seconds);
    // Clients start spread over the first period, not all at once.
    let mut due = start + Duration::from_secs_f64(rng.random_range(0.0..period));
    let mut next_task = client.tasks.iter();
    let mut conn = Conn::open(addr).ok();
    let token = Some(client.token.as_str());
    while due < deadline {
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let t = Instant::now();
        let ok = matches!(conn.as_mut().map(|c| c.get("/api/v1/inbox?limit=20", token)), Some(Ok(200)));
        let inbox_ms = t.elapsed().as_secs_f64() * 1000.0;
        if !ok {
            conn = Conn::open(addr).ok();
        }
        let mut done = None;
        if let Some((task, form)) = next_task.next() {
            let t = Instant::now();
            let answer = conn.as_mut().map(|c| c.post(&format!("/api/v1/tasks/{task}/complete"), token, form));
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            let status = match &answer {
                Some(Ok(s)) => *s,
                _ => 0,
            };
            let sample = (status != 200).then(|| {
                let body =
                    conn.as_ref().map(|c| String::from_utf8_lossy(c.body()).chars().take(300).collect::<String>());
                format!("task {task}: {status} {}", body.unwrap_or_default())
            });
            if status == 0 {
                conn = Conn::open(addr).ok();
            }
            done = Some((*task, ms, sample));
        }
        let mut m = measured.lock().unwrap_or_else(|e| e.into_inner());
        m.inbox_ms.push(inbox_ms);
        if !ok {
            m.inbox_errors += 1;
        }
        if let Some((task, ms, sample)) = done {
            m.complete_ms.push(ms);
            match sample {
                None => m.completed.push(task),
                Some(s) => {
                    m.complete_errors += 1;
                    if m.samples.len() < 5 {
                        m.samples.push(s);
                    }
                }
            }
        }
        drop(m);
        due += Duration::from_secs_f64(period);
    }
}

/// Every accepted completion, applied exactly once: the task completed, one `task_completed`
/// event naming it, every case input applied.
async fn applied_once(store: &Store, completed: &[i64]) -> anyhow::Result<Value> {
    let mut events: HashMap<i64, usize> = HashMap::new();
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT data FROM events WHERE kind = 'task_completed'").fetch_all(&store.pool).await?;
    for data in rows {
        let v: Value = serde_json::from_str(&data)?;
        if let Some(id) = v["task_id"].as_i64() {
            *events.entry(id).or_default() += 1;
        }
    }
    let mut not_completed = 0usize;
    let mut wrong_events = 0usize;
    for &id in completed {
        if store.task(id).await?.status != "completed" {
            not_completed += 1;
        }
        if events.get(&id).copied().unwrap_or(0) != 1 {
            wrong_events += 1;
        }
    }
    let unapplied: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM case_inputs WHERE applied_ms IS NULL").fetch_one(&store.pool).await?;
    let ok = not_completed == 0 && wrong_events == 0 && unapplied == 0;
    Ok(json!({
        "ok": ok, "checked": completed.len(), "not_completed": not_completed,
        "without_exactly_one_event": wrong_events, "inputs_unapplied": unapplied,
    }))
}
