//! `jixiao bench load`'s log-in flood: a server of its own; `/api/v1/me` driven at a steady rate
//! while it is quiet, then again while 32 clients, each from its own loopback address
//! (127.0.1.x), send log-ins with random usernames and wrong passwords as fast as they are
//! answered. Reports both latencies and their ratio, and what the flood was answered (401
//! wrong, 429 locked): password hashing waits its turn on the blocking pool, and an address
//! that keeps failing is locked without hashing, so other users' requests are not starved.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::load::{ADMIN_TOKEN, figures, start_server};
const FLOODERS: u8 = 32;

/// One request on a fresh connection from `local`; the whole answer.
async fn exchange(server: SocketAddr, local: IpAddr, request: &str) -> std::io::Result<String> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(local, 0))?;
    let mut stream = socket.connect(server).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// One wrong log-in from `local`: the form's page (its token), then the post. The status.
async fn wrong_log_in(server: SocketAddr, local: IpAddr, n: usize) -> std::io::Result<u16> {
    let page = exchange(server, local, "GET /login HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n").await?;
    let token = page
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: jx_login=").or_else(|| l.strip_prefix("Set-Cookie: jx_login=")))
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .to_string();
    let body = format!("username=nobody{n}&password=wrong-wrong-wrong&csrf={token}&next=%2F");
    let post = format!(
        "POST /login HTTP/1.1\r\nHost: bench\r\nConnection: close\r\nCookie: jx_login={token}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let answer = exchange(server, local, &post).await?;
    Ok(answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0))
}

pub async fn run(rate: u32, seconds: f64, shipped: &super::Shipped) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("jixiao.db").display());
    let (_server, addr) = start_server(&["serve"], dir.path(), &url, shipped, Duration::from_secs(120))?;
    let server: SocketAddr = addr.parse()?;
    let me = |_: &mut rand::rngs::StdRng| ("/api/v1/me".to_string(), Some(ADMIN_TOKEN));
    let measure = |label: &str| {
        let _ = tokio::task::block_in_place(|| super::load::drive(&addr, rate, 1.0, &me));
        let (lat, errors, sent) = tokio::task::block_in_place(|| super::load::drive(&addr, rate, seconds, &me));
        figures(label, lat, errors, sent, seconds)
    };
    let quiet = measure("me_quiet");
    println!("{quiet}");

    let stop = Arc::new(AtomicBool::new(false));
    let (wrong, locked, failed) =
        (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..FLOODERS {
        let local = IpAddr::V4(Ipv4Addr::new(127, 0, 1, i + 1));
        let (stop, wrong, locked, failed) = (stop.clone(), wrong.clone(), locked.clone(), failed.clone());
        flood.spawn(async move {
            let mut n = usize::from(i) * 1_000_000;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                match wrong_log_in(server, local, n).await {
                    Ok(401) => wrong.fetch_add(1, Ordering::Relaxed),
                    Ok(429) => locked.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        });
    }
    let flooded = measure("me_during_flood");
    stop.store(true, Ordering::Relaxed);
    while flood.join_next().await.is_some() {}
    println!("{flooded}");
    let ratio = |k: &str| {
        let (q, f) = (quiet[k].as_f64().unwrap_or(0.0), flooded[k].as_f64().unwrap_or(0.0));
        if q > 0.0 { (f / q * 100.0).round() / 100.0 } else { 0.0 }
    };
    Ok(json!({
        "rate_rps": rate, "seconds": seconds, "flooders": FLOODERS,
        "quiet": quiet, "during_flood": flooded,
        "p50_ratio": ratio("p50_ms"), "p99_ratio": ratio("p99_ms"),
        "flood_answers": {"wrong_401": wrong.load(Ordering::Relaxed), "locked_429": locked.load(Ordering::Relaxed), "other": failed.load(Ordering::Relaxed)},
    }))
}
