//! Section `webhook` (issue 19): end to end from a change in Supabase to the new face on every
//! terminal. The service runs as in [`super::durable`] (child process, fresh database on the test
//! stack's PostgreSQL, the real store and job engine, default settings, read-back on); a Supabase
//! Database Webhook (`POST /api/hikvision/webhooks/supabase`, `x-webhook-secret`) announces a
//! changed `biometrie.foto_fata_url`, and the simulators are polled until each holds the new
//! picture byte for byte.
//!
//! Each change is a different employee: the child's directory is fixed when it starts, so every
//! employee's row already names the new picture and the terminals hold an old face of them (the
//! state right after HR saved the row); a different employee per change also keeps one change's
//! read-back and result recording out of the next one's way. Changes are sent one at a time,
//! each after the previous one is on every terminal and has settled, so each is measured alone.

use std::time::{Duration, Instant};

use bytes::Bytes;
use hikvision_simulator::SimulatedTerminal;
use hikvision_sync::demo::demo_picture;
use serde_json::json;

use super::BoxError;
use super::cells::Ctx;
use super::child::PersonSpec;
use super::durable::{Stage, admin_url, overrides};
use super::stats::{human, median, ms};

const SECRET: &str = "bench-webhook-secret";
const ENDPOINT: &str = "/api/hikvision/webhooks/supabase";
/// Terminals of the section.
const K: usize = 100;
/// Measured changes (one more, unmeasured, warms the connections and statements up).
const CHANGES: usize = 20;
/// How long one change may take before it counts as lost.
const GIVE_UP: Duration = Duration::from_secs(30);

/// One measured change.
struct Sample {
    /// The webhook's answer (202) arrived.
    answered: Duration,
    /// The first terminal holds the new face.
    first: Duration,
    /// The last of the K terminals holds it.
    last: Duration,
}

/// Runs the section.
pub async fn webhook(ctx: &mut Ctx) -> Result<(), BoxError> {
    let admin = admin_url(ctx)?;
    ctx.progress(format_args!(
        "webhook: K = {K}, {CHANGES} changes (+1 warm-up)\n"
    ));
    let mut persons = ctx.persons(CHANGES + 1);
    let mut pictures = Vec::with_capacity(persons.len());
    for p in &mut persons {
        let picture = Bytes::from(demo_picture(&format!("new/{}", p.employee_no)));
        p.photo = ctx
            .photos
            .put(&format!("e2e/{}.jpg", p.employee_no), picture.clone());
        pictures.push(picture);
    }
    let stage = Stage::start(ctx, &admin, K, &persons, &[("WEBHOOK_SECRET", SECRET)]).await?;
    let mut samples = Vec::new();
    let mut lost = 0usize;
    for (i, (person, picture)) in persons.iter().zip(&pictures).enumerate() {
        // Let the previous change's read-back and result recording settle.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        match change(ctx, &stage, person, picture).await? {
            Some(_) if i == 0 => {} // warm-up
            Some(sample) => samples.push(sample),
            None => lost += 1,
        }
    }
    stage.stop(&admin).await;
    report(ctx, &samples, lost);
    Ok(())
}

/// Sends the webhook for `person` and waits until every terminal holds `picture`; `None` when
/// that takes longer than [`GIVE_UP`].
async fn change(
    ctx: &Ctx,
    stage: &Stage,
    person: &PersonSpec,
    picture: &Bytes,
) -> Result<Option<Sample>, BoxError> {
    let event = json!({"type": "UPDATE", "table": "biometrie", "schema": "public",
        "record": {"angajat_id": person.id, "employee_no": person.employee_no,
            "foto_fata_url": person.photo},
        "old_record": {"angajat_id": person.id, "employee_no": person.employee_no,
            "foto_fata_url": format!("old/{}.jpg", person.employee_no)}});
    let url = format!("http://{}{ENDPOINT}", stage.service.addr);
    let started = Instant::now();
    let send = async {
        let response = ctx
            .http
            .post(&url)
            .header("x-webhook-secret", SECRET)
            .json(&event)
            .send()
            .await?;
        let status = response.status();
        let answered = started.elapsed();
        if status != reqwest::StatusCode::ACCEPTED {
            let body = response.text().await.unwrap_or_default();
            return Err::<_, BoxError>(format!("webhook: HTTP {status}: {body}").into());
        }
        Ok(answered)
    };
    let (answered, faces) = tokio::join!(
        send,
        on_every_terminal(&stage.fleet.sims, &person.employee_no, picture, started)
    );
    let answered = answered?;
    Ok(faces.map(|(first, last)| Sample {
        answered,
        first,
        last,
    }))
}

/// Polls `sims` every 2 ms until each holds `picture` (byte for byte) as `employee_no`'s face:
/// the times since `started` at which the first and the last did.
async fn on_every_terminal(
    sims: &[SimulatedTerminal],
    employee_no: &str,
    picture: &Bytes,
    started: Instant,
) -> Option<(Duration, Duration)> {
    let mut held = vec![false; sims.len()];
    let mut first = None;
    while started.elapsed() < GIVE_UP {
        for (sim, held) in sims.iter().zip(held.iter_mut()).filter(|(_, h)| !**h) {
            if sim.face(employee_no).is_some_and(|f| f.bytes == *picture) {
                *held = true;
                first.get_or_insert_with(|| started.elapsed());
            }
        }
        if held.iter().all(|&h| h) {
            return first.map(|f| (f, started.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    None
}

/// Which time of a sample a row of the report shows.
type Pick = fn(&Sample) -> Duration;

fn report(ctx: &Ctx, samples: &[Sample], lost: usize) {
    println!(
        "#### End to end: a Supabase webhook to the new face on {K} terminals, durable delivery on \
         PostgreSQL, L = {} ms, the service's default settings{}, read-back on\n",
        ctx.args.latency_ms,
        overrides(ctx)
    );
    println!(
        "{} changes (different employees, one at a time), {lost} not on every terminal within {} s. \
         With {} samples p99 is the maximum.\n",
        samples.len(),
        GIVE_UP.as_secs(),
        samples.len()
    );
    println!("| from the webhook request to | p50 | p99 (= max) | min |");
    println!("|---|---|---|---|");
    let rows: [(&str, Pick); 3] = [
        ("its 202 answer", |s| s.answered),
        ("the new face on the first terminal", |s| s.first),
        ("the new face on the last of the terminals", |s| s.last),
    ];
    for (what, pick) in rows {
        let values: Vec<Duration> = samples.iter().map(pick).collect();
        println!(
            "| {what} | {} | {} | {} |",
            human(median(&values)),
            human(values.iter().max().copied().unwrap_or_default()),
            human(values.iter().min().copied().unwrap_or_default()),
        );
    }
    let lasts: Vec<String> = samples.iter().map(|s| ms(s.last)).collect();
    println!(
        "\nEach change, to the last terminal (ms): {}.\n",
        lasts.join(", ")
    );
}
