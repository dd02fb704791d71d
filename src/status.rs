//! The operator's page (`GET /`) and its data (`GET /status.json`): what an
//! operator checks first — is every checksum database healthy, which policy
//! is in force, what was refused lately and why, how busy is it — on one
//! self-contained HTML page (no external assets, inline SVG chart).
//!
//! Recent activity is kept here, in memory and bounded: a per-minute ring of
//! request and refusal counts for the last hour and the last
//! [`RECENT_REFUSALS`] refusals.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// Refusals kept for the page.
pub(crate) const RECENT_REFUSALS: usize = 50;
/// Minutes of request/refusal counts kept for the chart.
pub(crate) const MINUTES: usize = 60;

/// Process start, for the uptime.
static STARTED: OnceLock<Instant> = OnceLock::new();
static ACTIVITY: Mutex<Activity> = Mutex::new(Activity::new());

/// Marks the process start (called once when serving starts).
pub(crate) fn start() {
    let _ = STARTED.get_or_init(Instant::now);
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// One refusal as shown on the page.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// Unix seconds.
    pub time: u64,
    /// Request path.
    pub path: String,
    /// HTTP status.
    pub status: u16,
    /// Metric label of the reason.
    pub reason: String,
    /// What the client was told.
    pub message: String,
}

/// Counts for one minute.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub(crate) struct Minute {
    /// Unix minute (seconds / 60).
    pub minute: u64,
    /// Requests answered.
    pub requests: u64,
    /// Of which refused.
    pub refusals: u64,
}

struct Activity {
    minutes: VecDeque<Minute>,
    refusals: VecDeque<Refusal>,
    hits: u64,
    misses: u64,
}

impl Activity {
    const fn new() -> Activity {
        Activity {
            minutes: VecDeque::new(),
            refusals: VecDeque::new(),
            hits: 0,
            misses: 0,
        }
    }

    fn minute(&mut self, now: u64) -> &mut Minute {
        let m = now / 60;
        if self.minutes.back().is_none_or(|b| b.minute != m) {
            self.minutes.push_back(Minute {
                minute: m,
                ..Minute::default()
            });
        }
        while self
            .minutes
            .front()
            .is_some_and(|f| f.minute.saturating_add(MINUTES as u64) <= m)
        {
            self.minutes.pop_front();
        }
        // Just pushed or already there.
        self.minutes
            .back_mut()
            .unwrap_or_else(|| unreachable!("a minute was pushed above"))
    }
}

fn activity() -> std::sync::MutexGuard<'static, Activity> {
    ACTIVITY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counts an answered request.
pub(crate) fn request() {
    let mut a = activity();
    let m = a.minute(unix_now());
    m.requests = m.requests.saturating_add(1);
}

/// Records a refusal (a failed check or a policy denial).
pub(crate) fn refused(path: &str, status: u16, reason: &str, message: &str) {
    let now = unix_now();
    let mut a = activity();
    let m = a.minute(now);
    m.refusals = m.refusals.saturating_add(1);
    if a.refusals.len() >= RECENT_REFUSALS {
        a.refusals.pop_front();
    }
    a.refusals.push_back(Refusal {
        time: now,
        path: path.to_owned(),
        status,
        reason: reason.to_owned(),
        message: message.trim_end().to_owned(),
    });
}

/// One upstream (by origin) as the page shows it.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub(crate) struct UpstreamHealth {
    /// `scheme://host:port`.
    pub origin: String,
    /// Answers with a body (200).
    pub ok: u64,
    /// 404/410 answers (the go command's probes make many; not a fault).
    pub not_found: u64,
    /// Failures: connection, timeout, other statuses.
    pub errors: u64,
    /// Milliseconds to the last answer's head.
    pub last_ms: u64,
    /// Unix seconds of the last 200 or 404/410.
    pub last_answer: Option<u64>,
    /// Unix seconds and text of the last failure.
    pub last_error: Option<(u64, String)>,
}

/// Origins tracked; more than a proxy list ever names.
const MAX_UPSTREAMS: usize = 32;

static UPSTREAMS: Mutex<Vec<UpstreamHealth>> = Mutex::new(Vec::new());

/// Records one upstream answer: `Ok(found)` (200, or 404/410 when false)
/// or the failure's text.
pub(crate) fn upstream(origin: &str, result: Result<bool, String>, ms: u64) {
    let now = unix_now();
    let mut all = UPSTREAMS.lock().unwrap_or_else(|e| e.into_inner());
    let i = match all.iter().position(|u| u.origin == origin) {
        Some(i) => i,
        None if all.len() < MAX_UPSTREAMS => {
            all.push(UpstreamHealth {
                origin: origin.to_owned(),
                ..UpstreamHealth::default()
            });
            all.len().saturating_sub(1)
        }
        None => return,
    };
    let Some(u) = all.get_mut(i) else { return };
    u.last_ms = ms;
    match result {
        Ok(true) => {
            u.ok = u.ok.saturating_add(1);
            u.last_answer = Some(now);
        }
        Ok(false) => {
            u.not_found = u.not_found.saturating_add(1);
            u.last_answer = Some(now);
        }
        Err(e) => {
            u.errors = u.errors.saturating_add(1);
            u.last_error = Some((now, e));
        }
    }
}

/// Every upstream seen since start.
pub(crate) fn upstreams() -> Vec<UpstreamHealth> {
    UPSTREAMS.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Counts a cache lookup for the hit rate.
pub(crate) fn cache(hit: bool) {
    let mut a = activity();
    if hit {
        a.hits = a.hits.saturating_add(1);
    } else {
        a.misses = a.misses.saturating_add(1);
    }
}

/// One checksum database as the page shows it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct SumdbStatus {
    /// Name (`sum.golang.org`).
    pub name: String,
    /// Size of the trusted tree.
    pub tree_size: u64,
    /// Seconds since the trusted head was last confirmed against the
    /// database; `None`: not since start.
    pub head_age_secs: Option<u64>,
    /// The fork report, if a fork was detected.
    pub fork: Option<String>,
}

/// The policy in force.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct PolicyStatus {
    /// Where it came from (file path or the embedded default).
    pub origin: String,
    /// Unix seconds when it was put in force.
    pub loaded_at: u64,
    /// Rules (deny, allow, private).
    pub rules: usize,
    /// The last rejected reload, if the latest attempt failed.
    pub last_reload_error: Option<String>,
}

/// Everything on the page.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Status {
    /// goward's version.
    pub version: &'static str,
    /// The commit it was built from.
    pub commit: &'static str,
    /// Seconds since start.
    pub uptime_secs: u64,
    /// Checksum databases, the one that proves modules first.
    pub sumdbs: Vec<SumdbStatus>,
    /// The policy in force.
    pub policy: PolicyStatus,
    /// Upstream proxies (credentials redacted).
    pub upstream: String,
    /// Each upstream origin asked since start, with its answers and failures.
    pub upstreams: Vec<UpstreamHealth>,
    /// Artifacts known to this process (served or proven since start).
    pub artifacts_in_memory: u64,
    /// Cache hits since start.
    pub cache_hits: u64,
    /// Cache misses since start.
    pub cache_misses: u64,
    /// Request and refusal counts per minute, oldest first, last hour.
    pub minutes: Vec<Minute>,
    /// Most recent refusals, newest first.
    pub recent_refusals: Vec<Refusal>,
}

/// The activity part of [`Status`]: (cache hits, misses, minutes, refusals).
pub(crate) fn snapshot() -> (u64, u64, Vec<Minute>, Vec<Refusal>) {
    let now = unix_now();
    let mut a = activity();
    // Drop minutes older than an hour even when idle.
    let _ = a.minute(now);
    (
        a.hits,
        a.misses,
        a.minutes.iter().copied().collect(),
        a.refusals.iter().rev().cloned().collect(),
    )
}

/// Seconds since [`start`].
pub(crate) fn uptime_secs() -> u64 {
    STARTED.get().map_or(0, |s| s.elapsed().as_secs())
}

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn duration(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

/// The inline SVG chart: one bar per minute of the last hour, requests in
/// grey, refusals in red on top, scaled to the busiest minute.
fn chart(minutes: &[Minute], now_minute: u64) -> String {
    const W: u64 = 600;
    const H: u64 = 120;
    let bar = W / MINUTES as u64;
    let max = minutes.iter().map(|m| m.requests).max().unwrap_or(0).max(1);
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{}" role="img" aria-label="requests and refusals per minute, last hour"><rect width="{W}" height="{H}" fill="#f6f6f6"/>"##,
        H + 16
    );
    for m in minutes {
        let age = now_minute.saturating_sub(m.minute);
        if age >= MINUTES as u64 {
            continue;
        }
        let x = W.saturating_sub((age + 1) * bar);
        let h = |n: u64| (n.min(max) * H).div_ceil(max);
        let (hr, hx) = (h(m.requests), h(m.refusals));
        let _ = write!(
            svg,
            r##"<rect class="req" x="{x}" y="{}" width="{}" height="{hr}" fill="#8a8f98"><title>{} requests, {} refused</title></rect>"##,
            H - hr,
            bar.saturating_sub(1),
            m.requests,
            m.refusals
        );
        if hx > 0 {
            let _ = write!(
                svg,
                r##"<rect class="ref" x="{x}" y="{}" width="{}" height="{hx}" fill="#c0392b"/>"##,
                H - hx,
                bar.saturating_sub(1)
            );
        }
    }
    let _ = write!(
        svg,
        r##"<text x="0" y="{}" font-size="11">60 min ago</text><text x="{}" y="{}" font-size="11" text-anchor="end">now · peak {max}/min</text></svg>"##,
        H + 13,
        W,
        H + 13
    );
    svg
}

/// The operator's page.
pub(crate) fn html(s: &Status) -> String {
    let now = unix_now();
    let mut p = String::new();
    let _ = write!(
        p,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>goward</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:70em;color:#222}}
table{{border-collapse:collapse;margin:.5em 0 1.5em}}td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}}
.ok{{color:#1e7b34}}.bad{{color:#c0392b;font-weight:bold}}code{{font-size:12px}}</style></head><body>
<h1>goward {} <small>({})</small></h1><p>Up {}. <a href="/status.json">status.json</a> · <a href="/metrics">metrics</a></p>"#,
        esc(s.version),
        esc(s.commit),
        duration(s.uptime_secs)
    );
    p.push_str("<h2>Checksum databases</h2><table id=\"sumdbs\"><tr><th>name</th><th>trusted tree size</th><th>head confirmed</th><th>status</th></tr>");
    for db in &s.sumdbs {
        let age = db.head_age_secs.map_or_else(
            || "not since start".to_owned(),
            |a| format!("{} ago", duration(a)),
        );
        let state = match &db.fork {
            Some(r) => format!(r#"<span class="bad">FORK DETECTED: {}</span>"#, esc(r)),
            None => r#"<span class="ok">ok</span>"#.to_owned(),
        };
        let _ = write!(
            p,
            "<tr><td>{}</td><td>{}</td><td>{age}</td><td>{state}</td></tr>",
            esc(&db.name),
            db.tree_size
        );
    }
    p.push_str("</table>");
    let reload = match &s.policy.last_reload_error {
        Some(e) => format!(
            r#"<span class="bad">last reload rejected</span><pre>{}</pre>"#,
            esc(e)
        ),
        None => r#"<span class="ok">ok</span>"#.to_owned(),
    };
    let _ = write!(
        p,
        "<h2>Policy</h2><table id=\"policy\"><tr><th>file</th><td><code>{}</code></td></tr><tr><th>in force since</th><td>{} ago</td></tr><tr><th>rules</th><td>{}</td></tr><tr><th>reload</th><td>{reload}</td></tr></table>",
        esc(&s.policy.origin),
        duration(now.saturating_sub(s.policy.loaded_at)),
        s.policy.rules
    );
    let lookups = s.cache_hits.saturating_add(s.cache_misses);
    let rate = if lookups == 0 {
        "–".to_owned()
    } else {
        format!("{:.1} %", s.cache_hits as f64 * 100.0 / lookups as f64)
    };
    let _ = write!(
        p,
        "<h2>Cache and upstream</h2><table id=\"cache\"><tr><th>artifacts served or proven since start</th><td>{}</td></tr><tr><th>hit rate</th><td>{rate} ({} hits, {} misses)</td></tr><tr><th>upstream</th><td><code>{}</code></td></tr></table>",
        s.artifacts_in_memory,
        s.cache_hits,
        s.cache_misses,
        esc(&s.upstream)
    );
    p.push_str("<h2>Upstreams</h2>");
    if s.upstreams.is_empty() {
        p.push_str("<p id=\"upstreams\">None asked since start.</p>");
    } else {
        p.push_str("<table id=\"upstreams\"><tr><th>upstream</th><th>answers</th><th>not found</th><th>failures</th><th>last answer</th><th>last failure</th></tr>");
        for u in &s.upstreams {
            let last = u.last_answer.map_or_else(
                || "never".to_owned(),
                |t| format!("{} ago ({} ms)", duration(now.saturating_sub(t)), u.last_ms),
            );
            let failure = match &u.last_error {
                Some((t, e)) => format!(
                    r#"<span class="bad">{} ago</span>: {}"#,
                    duration(now.saturating_sub(*t)),
                    esc(e)
                ),
                None => r#"<span class="ok">none</span>"#.to_owned(),
            };
            let _ = write!(
                p,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{last}</td><td>{failure}</td></tr>",
                esc(&u.origin),
                u.ok,
                u.not_found,
                u.errors
            );
        }
        p.push_str("</table>");
    }
    let _ = write!(
        p,
        "<h2>Requests and refusals, last hour</h2>{}",
        chart(&s.minutes, now / 60)
    );
    p.push_str("<h2>Recent refusals</h2>");
    if s.recent_refusals.is_empty() {
        p.push_str("<p id=\"refusals\">None since start.</p>");
    } else {
        p.push_str("<table id=\"refusals\"><tr><th>when</th><th>path</th><th>status</th><th>reason</th><th>message</th></tr>");
        for r in &s.recent_refusals {
            let _ = write!(
                p,
                "<tr><td>{} ago</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                duration(now.saturating_sub(r.time)),
                esc(&r.path),
                r.status,
                esc(&r.reason),
                esc(&r.message)
            );
        }
        p.push_str("</table>");
    }
    p.push_str("</body></html>\n");
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_roll_over_and_keep_one_hour() {
        let mut a = Activity::new();
        for m in 0..(MINUTES as u64 + 10) {
            a.minute(m * 60).requests += 1;
        }
        assert_eq!(a.minutes.len(), MINUTES);
        assert_eq!(a.minutes.front().map(|m| m.minute), Some(10));
        a.minute((MINUTES as u64 + 9) * 60 + 59).requests += 1;
        assert_eq!(a.minutes.back().map(|m| m.requests), Some(2));
    }

    #[test]
    fn page_escapes_what_clients_control() {
        let s = Status {
            version: "0.1.0",
            commit: "abc",
            uptime_secs: 5,
            sumdbs: vec![SumdbStatus {
                name: "sum.golang.org".into(),
                tree_size: 7,
                head_age_secs: Some(3),
                fork: None,
            }],
            policy: PolicyStatus {
                origin: "<embedded default policy>".into(),
                loaded_at: unix_now(),
                rules: 2,
                last_reload_error: None,
            },
            upstream: "https://proxy.golang.org".into(),
            upstreams: vec![UpstreamHealth {
                origin: "https://proxy.golang.org".into(),
                ok: 3,
                not_found: 1,
                errors: 1,
                last_ms: 42,
                last_answer: Some(1),
                last_error: Some((2, "connection refused <x>".into())),
            }],
            artifacts_in_memory: 1,
            cache_hits: 3,
            cache_misses: 1,
            minutes: vec![Minute {
                minute: unix_now() / 60,
                requests: 4,
                refusals: 1,
            }],
            recent_refusals: vec![Refusal {
                time: unix_now(),
                path: "/<script>alert(1)</script>/@v/list".into(),
                status: 403,
                reason: "policy_denied".into(),
                message: "goward: denied \"x\"".into(),
            }],
        };
        let page = html(&s);
        assert!(!page.contains("<script>"), "{page}");
        assert!(
            page.contains("/&lt;script&gt;alert(1)&lt;/script&gt;/@v/list"),
            "{page}"
        );
        assert!(page.contains("&lt;embedded default policy&gt;"), "{page}");
        assert!(page.contains("75.0 %"), "{page}");
        assert_eq!(page.matches("class=\"ref\"").count(), 1, "{page}");
        assert!(
            page.contains(
                "<td><code>https://proxy.golang.org</code></td><td>3</td><td>1</td><td>1</td>"
            ),
            "{page}"
        );
        assert!(page.contains("connection refused &lt;x&gt;"), "{page}");
    }

    #[test]
    fn upstream_health_counts_answers_and_failures_per_origin() {
        let o = "http://upstream-health.test:1";
        upstream(o, Ok(true), 5);
        upstream(o, Ok(false), 6);
        upstream(o, Err("timed out".into()), 7);
        let u = upstreams().into_iter().find(|u| u.origin == o).unwrap();
        assert_eq!((u.ok, u.not_found, u.errors, u.last_ms), (1, 1, 1, 7));
        assert_eq!(u.last_error.map(|(_, e)| e).as_deref(), Some("timed out"));
    }
}
