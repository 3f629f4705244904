//! What the `events` bench (issue 21) needs beyond the shared pieces: terminals that push their
//! access events to the service one at a time, back to back or at a set rate, in the firmware's
//! body (multipart, JSON part
//! `event_log`, a JPEG part), a simulated terminal with a long event log for the catch-up, and
//! the check that the table holds every event exactly once.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{FixedOffset, Utc};
use hikvision_isapi::wire::{AccessControllerEvent, EventNotification};
use hikvision_simulator::{self as simulator, Faults, SimulatedTerminal, TerminalConfig};

use crate::BoxError;

/// The multipart boundary of the pushes (firmware uses a fixed one).
const BOUNDARY: &str = "MIME_boundary";
/// The terminals' UTC offset in the pushed `dateTime` (kept as sent by the service).
const OFFSET_SECS: i32 = 2 * 3600;

/// One terminal's pushes: each answer's time and the moment it came, in push order.
#[derive(Debug, Default)]
pub(crate) struct Pushed {
    /// Events answered `stored` (serial numbers 1..=stored).
    pub(crate) stored: u64,
    /// Time from sending a push to its whole answer, per stored event.
    pub(crate) answers: Vec<Duration>,
    /// When each answer came, from the start of the run.
    pub(crate) done_at: Vec<Duration>,
    /// Open loop only: time from the moment each stored event was due (its place in the
    /// terminal's even schedule) to its whole answer: the answer time plus any wait for the
    /// previous answer (coordinated omission).
    pub(crate) from_schedule: Vec<Duration>,
    /// Pushes answered other than `200 stored` (each retried, as a terminal does).
    pub(crate) refused: u64,
    /// The first refusal, for the report.
    pub(crate) first_refusal: Option<String>,
}

/// A terminal pushing to the service: its device id, push URL, picture and its one keep-alive
/// connection.
pub(crate) struct Pusher {
    device_id: String,
    url: String,
    picture: Option<Bytes>,
    http: reqwest::Client,
}

/// When a terminal's events happen.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pace {
    /// Closed loop: the next event as soon as the previous push is answered.
    BackToBack,
    /// Open loop: an event every `every`, the first `phase` after the start; a push is still
    /// sent only after the previous answer (as firmware does), at once when it is late.
    Every { every: Duration, phase: Duration },
}

impl Pusher {
    /// A terminal pushing to `url` as `device_id`, with `picture` in each push.
    pub(crate) fn new(
        device_id: String,
        url: String,
        picture: Option<Bytes>,
    ) -> Result<Self, BoxError> {
        // One keep-alive connection per terminal.
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(1)
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            device_id,
            url,
            picture,
            http,
        })
    }

    /// Opens the terminal's connection before the clock starts (`GET health`, the same host):
    /// terminals keep theirs open, so the run measures pushes, not connection set-up.
    pub(crate) async fn connect(&self, health: &str) -> Result<(), BoxError> {
        self.http.get(health).send().await?.error_for_status()?;
        Ok(())
    }

    /// Pushes serial numbers 1, 2, ... one at a time (each after the previous answer, as a
    /// terminal does) at `pace` until `until`; an answer other than `200 stored` is retried.
    pub(crate) async fn run(
        self,
        started: Instant,
        until: Instant,
        pace: Pace,
    ) -> Result<Pushed, BoxError> {
        let http = &self.http;
        let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
        let mut out = Pushed::default();
        let mut serial = 1i64;
        loop {
            // When this event happens (open loop): the terminal pushes it then, or at once if
            // it is still waiting for the previous answer.
            let due = match pace {
                Pace::BackToBack => None,
                Pace::Every { every, phase } => {
                    let k = u32::try_from(serial - 1).unwrap_or(u32::MAX);
                    Some(started + phase + every * k)
                }
            };
            // A terminal that fell behind stops with the others: its backlog shows in
            // `from_schedule`.
            if due.is_some_and(|d| d >= until) || Instant::now() >= until {
                break;
            }
            if let Some(due) = due {
                tokio::time::sleep_until(due.into()).await;
            }
            let push = http
                .post(&self.url)
                .header(reqwest::header::CONTENT_TYPE, &content_type)
                .body(self.body(serial)?);
            let sent = Instant::now();
            let answer = push.send().await;
            let verdict = match answer {
                Ok(r) => {
                    let status = r.status();
                    let text = r.text().await.unwrap_or_default();
                    if status.is_success() && text.contains("\"stored\"") {
                        None
                    } else {
                        Some(format!("{status} {text}"))
                    }
                }
                Err(e) => Some(e.to_string()),
            };
            match verdict {
                None => {
                    out.answers.push(sent.elapsed());
                    if let Some(due) = due {
                        out.from_schedule.push(due.elapsed());
                    }
                    out.done_at.push(started.elapsed());
                    out.stored += 1;
                    serial += 1;
                }
                Some(why) => {
                    out.refused += 1;
                    out.first_refusal.get_or_insert(why);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        Ok(out)
    }

    /// The push of event `serial` as the firmware sends it: `multipart/form-data` with the JSON
    /// envelope in the part `event_log` and the event's picture in a JPEG part.
    fn body(&self, serial: i64) -> Result<Vec<u8>, BoxError> {
        let offset = FixedOffset::east_opt(OFFSET_SECS).ok_or("offset")?;
        let now = Utc::now().with_timezone(&offset);
        // Mostly granted faces, every tenth refused.
        let (minor, employee) = if serial % 10 == 0 {
            (76, None)
        } else {
            (75, Some((1000 + serial % 200).to_string()))
        };
        let note = EventNotification {
            ip_address: "127.0.0.1".into(),
            date_time: now.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
            event_type: "AccessControllerEvent".into(),
            access_controller_event: Some(AccessControllerEvent {
                device_name: format!("Bench {}", self.device_id),
                major_event_type: 5,
                sub_event_type: minor,
                serial_no: serial,
                front_serial_no: (serial > 1).then_some(serial - 1),
                current_event: true,
                employee_no_string: employee,
                name: None,
                door_no: Some(1),
                current_verify_mode: Some("face".into()),
                attendance_status: None,
            }),
        };
        let mut body = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"event_log\"\r\n\
             Content-Type: application/json\r\nContent-Length: "
        )
        .into_bytes();
        let json = serde_json::to_vec(&note)?;
        body.extend_from_slice(format!("{}\r\n\r\n", json.len()).as_bytes());
        body.extend_from_slice(&json);
        if let Some(picture) = &self.picture {
            body.extend_from_slice(
                format!(
                    "\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"Picture\"; \
                     filename=\"Picture.jpg\"\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
                    picture.len()
                )
                .as_bytes(),
            );
            body.extend_from_slice(picture);
        }
        body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
        Ok(body)
    }
}

/// One simulated terminal whose log holds `events` access events (serial numbers 1..=events:
/// mostly door and lock events, every fourth an unknown face), each answered call taking
/// `latency_ms`.
pub(crate) async fn terminal_with_log(
    events: usize,
    latency_ms: u64,
) -> Result<SimulatedTerminal, BoxError> {
    let config = TerminalConfig {
        name: "Events terminal".into(),
        event_capacity: events.max(TerminalConfig::default().event_capacity),
        faults: Faults {
            latency_ms,
            ..Faults::default()
        },
        ..TerminalConfig::default()
    };
    let sim = simulator::spawn(config, SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    for i in 0..events {
        match i % 4 {
            0 => {
                sim.present_face(&(5000 + i % 300).to_string(), 1);
            }
            n => {
                sim.door_event(1, [21, 23, 24][n - 1]);
            }
        }
    }
    Ok(sim)
}

/// What the table holds for one terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Held {
    pub(crate) rows: i64,
    pub(crate) distinct: i64,
    pub(crate) min: i64,
    pub(crate) max: i64,
    pub(crate) live: i64,
}

/// Per device id, what `hikvision_sync.access_event` holds (on the database of `url`).
pub(crate) async fn held(url: &str) -> Result<std::collections::BTreeMap<String, Held>, BoxError> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(connection);
    let rows = client
        .query(
            "select device_id, count(*), count(distinct (epoch, serial_no)), min(serial_no),
                    max(serial_no), count(*) filter (where live)
             from hikvision_sync.access_event group by device_id",
            &[],
        )
        .await?;
    drop(client);
    let _ = driver.await;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get(0)?,
                Held {
                    rows: r.try_get(1)?,
                    distinct: r.try_get(2)?,
                    min: r.try_get(3)?,
                    max: r.try_get(4)?,
                    live: r.try_get(5)?,
                },
            ))
        })
        .collect()
}

/// The transactions that wrote the rows of `hikvision_sync.access_event` (on the database of
/// `url`): rows written by one transaction share their `xmin`, so with the group commit this is
/// the number of batches that stored something.
pub(crate) async fn writing_transactions(url: &str) -> Result<i64, BoxError> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(connection);
    let n = client
        .query_one(
            "select count(distinct xmin::text) from hikvision_sync.access_event",
            &[],
        )
        .await?
        .try_get(0)?;
    drop(client);
    let _ = driver.await;
    Ok(n)
}

/// The rows of `hikvision_sync.access_event` (on the database of `url`).
pub(crate) async fn count_rows(url: &str) -> Result<i64, BoxError> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(connection);
    let n = client
        .query_one("select count(*) from hikvision_sync.access_event", &[])
        .await?
        .try_get(0)?;
    drop(client);
    let _ = driver.await;
    Ok(n)
}

/// What is wrong with `held` for a terminal that had events 1..=`expected` stored, with
/// `live` of them live; `None` when it holds each exactly once.
pub(crate) fn exactly_once(
    device_id: &str,
    held: Option<&Held>,
    expected: i64,
    live: i64,
) -> Option<String> {
    let want = Held {
        rows: expected,
        distinct: expected,
        min: 1,
        max: expected,
        live,
    };
    match held {
        None if expected == 0 => None,
        Some(h) if *h == want => None,
        other => Some(format!(
            "{device_id}: the table holds {other:?}, expected {want:?}"
        )),
    }
}
