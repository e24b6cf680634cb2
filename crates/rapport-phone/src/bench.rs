//! Softphone benchmarks on loopback, each figure beside a baseline measured in the same run: dial-to-INVITE latency, mouth-to-ear delay through `sipp -rtp_echo`, tone SNR under packet loss (through a seeded lossy relay) and CPU per active call.

use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::PhoneConfig;
use crate::audio::analysis::goertzel_ratio;
use crate::audio::{AudioIo, SAMPLE_RATE, sine};
use crate::call::{AudioFactory, Phone};
use crate::state::{CallState, PhoneEvent};

/// One measured figure and its same-run baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct PhoneBenchRow {
    /// What was measured.
    pub name: String,
    /// The measured value.
    pub value: f64,
    /// Unit of `value` and `baseline`.
    pub unit: String,
    /// What the baseline is.
    pub baseline_name: String,
    /// The baseline, measured in the same run.
    pub baseline: f64,
    /// The target from the issue (free text).
    pub target: String,
}

/// How long and how often to measure.
#[derive(Debug, Clone, Copy)]
pub struct BenchConfig {
    /// Dials for the click-to-INVITE figure.
    pub dials: usize,
    /// Length of the connected call (and of the idle window) for the CPU figure, seconds.
    pub call_secs: f64,
    /// Length of the tone burst, seconds.
    pub tone_secs: f64,
}

impl BenchConfig {
    /// The full benchmark: 20 dials, a 5 s call, 6 s tone bursts (300 packets, so 5 % loss
    /// drops about 15 of them inside the measured window).
    pub const FULL: BenchConfig = BenchConfig {
        dials: 20,
        call_secs: 5.0,
        tone_secs: 6.0,
    };
}

/// 440 Hz: on a 400-sample Goertzel bin, and its period (18.2 samples) is not a whole number, so concealment cannot rebuild lost frames exactly.
const TONE_HZ: f64 = 440.0;
const LEAD_SILENCE_SECS: f64 = 0.5;
const ONSET_THRESHOLD: i16 = 2000;

/// Run every softphone benchmark with the full settings.
pub async fn run_bench() -> Result<Vec<PhoneBenchRow>> {
    run_bench_with(BenchConfig::FULL).await
}

/// Run every softphone benchmark with the given settings.
pub async fn run_bench_with(cfg: BenchConfig) -> Result<Vec<PhoneBenchRow>> {
    let mut rows = Vec::new();

    // 1. Click to INVITE on the wire.
    let (invite_us, invite_len) = dial_to_invite(cfg.dials).await.context("dial to INVITE")?;
    let raw_us = raw_udp_latency(cfg.dials.max(5), invite_len).await?;
    rows.push(row(
        "phone: dial command to INVITE on the wire (p50)",
        invite_us,
        "µs",
        &format!("raw UDP send→recv, {invite_len} B, loopback (p50)"),
        raw_us,
        "-",
    ));

    // 4 (baseline). CPU over an idle window with the phone started.
    let idle_cpu = {
        let (phone, _events) = start_phone(null_factory()).await?;
        let pct = cpu_percent_over(Duration::from_secs_f64(cfg.call_secs)).await?;
        let _ = phone.shutdown().await;
        pct
    };

    // 2 + 4. Direct call through sipp's RTP echo: onset delay and CPU.
    let direct = echo_call(None, cfg, cfg.call_secs)
        .await
        .context("direct sipp call")?;
    let rtt_ms = udp_echo_rtt_ms(20).await?;
    rows.push(row(
        "phone: mouth-to-ear via sipp rtp_echo (tone onset)",
        direct.delay_ms,
        "ms",
        "loopback UDP echo RTT (p50)",
        rtt_ms,
        "< 60 ms at 0 % loss",
    ));
    rows.push(row(
        "phone: CPU during a connected call",
        direct.cpu_pct.unwrap_or(0.0),
        "%core",
        "same process, phone idle",
        idle_cpu,
        "< 3 %",
    ));

    // 3. Tone SNR through the lossy relay.
    let tone_call_secs = LEAD_SILENCE_SECS + cfg.tone_secs + 0.6;
    let clean = echo_call(Some(0.0), cfg, tone_call_secs)
        .await
        .context("relay call, 0 % loss")?;
    if clean.tone_packets.1 != 0 {
        bail!(
            "the 0 % relay dropped {} tone packets",
            clean.tone_packets.1
        );
    }
    for loss in [0.05, 0.10] {
        let lossy = echo_call(Some(loss), cfg, tone_call_secs)
            .await
            .with_context(|| format!("relay call, {} % loss", loss * 100.0))?;
        let (tone_fwd, tone_lost) = lossy.tone_packets;
        // The point of the figure: the drops must land inside the tone, not in the silence around it.
        if tone_lost == 0 {
            bail!("{} % loss dropped no tone packet", loss * 100.0);
        }
        rows.push(row(
            &format!("phone: tone SNR at {:.0} % loss", loss * 100.0),
            lossy.snr_db,
            "dB",
            "tone SNR at 0 % loss, same relay",
            clean.snr_db,
            "-",
        ));
        rows.push(row(
            &format!("phone: tone packets dropped at {:.0} % loss", loss * 100.0),
            tone_lost as f64,
            "packets",
            "tone packets echoed (dropped + forwarded)",
            (tone_fwd + tone_lost) as f64,
            "-",
        ));
    }
    Ok(rows)
}

fn row(
    name: &str,
    value: f64,
    unit: &str,
    baseline_name: &str,
    baseline: f64,
    target: &str,
) -> PhoneBenchRow {
    PhoneBenchRow {
        name: name.into(),
        value,
        unit: unit.into(),
        baseline_name: baseline_name.into(),
        baseline,
        target: target.into(),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn start_phone(audio: AudioFactory) -> Result<(Phone, mpsc::UnboundedReceiver<PhoneEvent>)> {
    let config = PhoneConfig {
        bind: Some(loopback()),
        ring_timeout_secs: 5,
        ..PhoneConfig::default()
    };
    Ok(Phone::start(config, audio).await?)
}

fn null_factory() -> AudioFactory {
    Arc::new(|| Ok(Box::new(crate::audio::NullAudio) as Box<dyn AudioIo>))
}

async fn wait_state(
    events: &mut mpsc::UnboundedReceiver<PhoneEvent>,
    limit: Duration,
    mut pred: impl FnMut(CallState) -> bool,
) -> Result<CallState> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(PhoneEvent::Call(s))) if pred(s) => return Ok(s),
            Ok(Some(_)) => {}
            Ok(None) => bail!("phone event stream closed"),
            Err(_) => bail!("timed out waiting for a call state"),
        }
    }
}

// ---------------------------------------------------------------- 1. dial → INVITE

/// A plain UDP socket plays the callee: timestamps each new INVITE and refuses it with 486.
/// Returns the p50 in µs and the INVITE's size.
async fn dial_to_invite(dials: usize) -> Result<(f64, usize)> {
    let callee = UdpSocket::bind(loopback()).await?;
    let port = callee.local_addr()?.port();
    let (tx, mut arrivals) = mpsc::unbounded_channel::<(Instant, usize)>();
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        let mut seen: Vec<String> = Vec::new();
        while let Ok((n, from)) = callee.recv_from(&mut buf).await {
            let at = Instant::now();
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if !text.starts_with("INVITE ") {
                continue;
            }
            let call_id = header(&text, &["call-id", "i"]).unwrap_or_default();
            if !seen.contains(&call_id) {
                seen.push(call_id);
                let _ = tx.send((at, n));
            }
            let _ = callee.send_to(busy_response(&text).as_bytes(), from).await;
        }
    });
    let result = async {
        let (phone, mut events) = start_phone(null_factory()).await?;
        let target = format!("sip:bench@127.0.0.1:{port}");
        let mut samples = Vec::with_capacity(dials);
        let mut size = 0;
        for _ in 0..dials {
            let t0 = Instant::now();
            phone.dial(&target).await?;
            let (at, n) = tokio::time::timeout(Duration::from_secs(5), arrivals.recv())
                .await
                .context("no INVITE arrived")?
                .ok_or_else(|| anyhow!("callee stopped"))?;
            samples.push(at.duration_since(t0).as_secs_f64() * 1e6);
            size = n;
            wait_state(&mut events, Duration::from_secs(10), |s| {
                matches!(s, CallState::Ended(_))
            })
            .await?;
        }
        let _ = phone.shutdown().await;
        Ok::<_, anyhow::Error>((median(samples), size))
    }
    .await;
    task.abort();
    result
}

/// The value of the first header named one of `names` (case-insensitive, compact forms allowed).
fn header(msg: &str, names: &[&str]) -> Option<String> {
    headers(msg, names).into_iter().next()
}

fn headers(msg: &str, names: &[&str]) -> Vec<String> {
    msg.split("\r\n")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            let (name, value) = l.split_once(':')?;
            let name = name.trim().to_ascii_lowercase();
            names
                .contains(&name.as_str())
                .then(|| value.trim().to_owned())
        })
        .collect()
}

fn busy_response(invite: &str) -> String {
    let mut out = String::from("SIP/2.0 486 Busy Here\r\n");
    for via in headers(invite, &["via", "v"]) {
        out.push_str(&format!("Via: {via}\r\n"));
    }
    let get = |n: &[&str]| header(invite, n).unwrap_or_default();
    out.push_str(&format!("From: {}\r\n", get(&["from", "f"])));
    out.push_str(&format!("To: {};tag=bench486\r\n", get(&["to", "t"])));
    out.push_str(&format!("Call-ID: {}\r\n", get(&["call-id", "i"])));
    out.push_str(&format!("CSeq: {}\r\n", get(&["cseq"])));
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}

/// p50 of a raw UDP datagram of `size` bytes from one loopback socket to another, in µs.
async fn raw_udp_latency(n: usize, size: usize) -> Result<f64> {
    let a = UdpSocket::bind(loopback()).await?;
    let b = UdpSocket::bind(loopback()).await?;
    let to = b.local_addr()?;
    let payload = vec![b'x'; size];
    let mut buf = vec![0u8; size + 16];
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        a.send_to(&payload, to).await?;
        tokio::time::timeout(Duration::from_secs(2), b.recv_from(&mut buf)).await??;
        samples.push(t0.elapsed().as_secs_f64() * 1e6);
    }
    Ok(median(samples))
}

/// p50 round trip through a tokio UDP echo task on loopback, in ms.
async fn udp_echo_rtt_ms(n: usize) -> Result<f64> {
    let echo = UdpSocket::bind(loopback()).await?;
    let to = echo.local_addr()?;
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 256];
        while let Ok((k, from)) = echo.recv_from(&mut buf).await {
            let _ = echo.send_to(&buf[..k], from).await;
        }
    });
    let sock = UdpSocket::bind(loopback()).await?;
    let mut buf = [0u8; 256];
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        sock.send_to(&[0u8; 172], to).await?;
        tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf)).await??;
        samples.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    task.abort();
    Ok(median(samples))
}

// ---------------------------------------------------------------- 2/3/4. calls through sipp

/// Plays silence then a tone burst as the microphone and records what is heard, in lockstep (one frame each per media tick).
struct ProbeAudio {
    source: Arc<Vec<i16>>,
    position: usize,
    recorded: Arc<Mutex<Vec<i16>>>,
}

impl AudioIo for ProbeAudio {
    fn capture(&mut self, frame: &mut [i16]) -> bool {
        frame.fill(0);
        let end = (self.position + frame.len()).min(self.source.len());
        if self.position < end {
            frame[..end - self.position].copy_from_slice(&self.source[self.position..end]);
        }
        self.position += frame.len();
        true
    }
    fn play(&mut self, frame: &[i16]) {
        if let Ok(mut r) = self.recorded.lock() {
            r.extend_from_slice(frame);
        }
    }
}

struct CallResult {
    delay_ms: f64,
    snr_db: f64,
    cpu_pct: Option<f64>,
    /// Echoed packets carrying the tone: (forwarded, dropped) by the relay.
    tone_packets: (u64, u64),
}

/// One call to `sipp -sn uas -rtp_echo` (through the lossy relay when `loss` is given) lasting `call_secs`.
async fn echo_call(loss: Option<f64>, cfg: BenchConfig, call_secs: f64) -> Result<CallResult> {
    let sipp = Sipp::start()?;
    sipp.wait_bound(Duration::from_secs(5)).await?;
    let sipp_sip = SocketAddr::from(([127, 0, 0, 1], sipp.sip_port));
    let (target, relay) = match loss {
        Some(p) => {
            let relay = Relay::start(sipp_sip, sipp.media_port, p, 0x5EED_0000_0000_0001).await?;
            (relay.sip_addr, Some(relay))
        }
        None => (sipp_sip, None),
    };

    let mut source = vec![0i16; (LEAD_SILENCE_SECS * f64::from(SAMPLE_RATE)) as usize];
    source.extend(sine(TONE_HZ, cfg.tone_secs, 8000.0));
    let source = Arc::new(source);
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let factory: AudioFactory = {
        let (source, recorded) = (source.clone(), recorded.clone());
        Arc::new(move || {
            Ok(Box::new(ProbeAudio {
                source: source.clone(),
                position: 0,
                recorded: recorded.clone(),
            }) as Box<dyn AudioIo>)
        })
    };
    let (phone, mut events) = start_phone(factory).await?;
    phone.dial(&format!("sip:service@{target}")).await?;
    wait_state(&mut events, Duration::from_secs(10), |s| {
        matches!(s, CallState::Connected | CallState::Ended(_))
    })
    .await
    .and_then(|s| match s {
        CallState::Connected => Ok(()),
        other => Err(anyhow!("call {other}")),
    })?;
    let cpu_pct = if loss.is_none() {
        Some(cpu_percent_over(Duration::from_secs_f64(call_secs)).await?)
    } else {
        tokio::time::sleep(Duration::from_secs_f64(call_secs)).await;
        None
    };
    phone.hangup().await?;
    let _ = wait_state(&mut events, Duration::from_secs(5), |s| {
        matches!(s, CallState::Ended(_))
    })
    .await;
    let _ = phone.shutdown().await;
    let mut tone_packets = (0, 0);
    if let Some(r) = &relay {
        let get = |i: usize| r.counts[i].load(Ordering::Relaxed);
        let (fwd, lost) = (get(0), get(1));
        if fwd == 0 {
            bail!("the relay carried no RTP (SDP not rewritten?)");
        }
        tone_packets = (get(2), get(3));
        tracing::debug!(fwd, lost, ?tone_packets, "lossy relay");
    }
    drop(relay);
    drop(sipp);

    let recorded = recorded.lock().map_err(|_| anyhow!("poisoned"))?.clone();
    let sent_onset = onset(&source).ok_or_else(|| anyhow!("no onset in the source"))?;
    let heard_onset = onset(&recorded).ok_or_else(|| anyhow!("the tone never came back"))?;
    let delay_ms = (heard_onset as f64 - sent_onset as f64) * 1000.0 / f64::from(SAMPLE_RATE);
    let snr_db = tone_snr_db(&recorded, heard_onset, cfg.tone_secs);
    Ok(CallResult {
        delay_ms,
        snr_db,
        cpu_pct,
        tone_packets,
    })
}

/// Index of the first sample whose magnitude crosses the onset threshold.
fn onset(samples: &[i16]) -> Option<usize> {
    samples
        .iter()
        .position(|s| s.unsigned_abs() > ONSET_THRESHOLD.unsigned_abs())
}

/// SNR of the tone over its burst (minus 0.1 s at each edge): Goertzel power at the tone vs the rest, per 50 ms block.
fn tone_snr_db(recorded: &[i16], onset: usize, tone_secs: f64) -> f64 {
    let rate = f64::from(SAMPLE_RATE);
    let start = onset + (0.1 * rate) as usize;
    let end = (onset + ((tone_secs - 0.1) * rate) as usize).min(recorded.len());
    if end <= start {
        return f64::NAN;
    }
    let blocks: Vec<f64> = recorded[start..end]
        .chunks_exact(400)
        .map(|b| goertzel_ratio(b, SAMPLE_RATE, TONE_HZ).clamp(1e-9, 1.0 - 1e-9))
        .collect();
    let r = blocks.iter().sum::<f64>() / blocks.len().max(1) as f64;
    10.0 * (r / (1.0 - r)).log10()
}

/// Process CPU (utime+stime from /proc/self/stat) over `window`, in % of one core.
async fn cpu_percent_over(window: Duration) -> Result<f64> {
    let (c0, t0) = (cpu_ticks()?, Instant::now());
    tokio::time::sleep(window).await;
    let (c1, wall) = (cpu_ticks()?, t0.elapsed());
    // USER_HZ is 100 on every Linux ABI we run on.
    Ok((c1 - c0) as f64 / 100.0 / wall.as_secs_f64() * 100.0)
}

fn cpu_ticks() -> Result<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .ok_or_else(|| anyhow!("short /proc/self/stat"))?
            .parse::<u64>()
            .map_err(Into::into)
    };
    Ok(get(11)? + get(12)?)
}

/// `sipp -sn uas -rtp_echo` on fresh loopback ports, killed on drop.
struct Sipp {
    child: Child,
    sip_port: u16,
    media_port: u16,
}

impl Sipp {
    fn start() -> Result<Sipp> {
        let sip_port = free_port(false)?;
        let media_port = free_port(true)?;
        let child = Command::new("sipp")
            .args(["-sn", "uas", "-rtp_echo", "-i", "127.0.0.1", "-p"])
            .arg(sip_port.to_string())
            .arg("-mp")
            .arg(media_port.to_string())
            .args(["-m", "1", "-nostdin", "-timeout", "30", "-timeout_error"])
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting sipp (is it installed?)")?;
        Ok(Sipp {
            child,
            sip_port,
            media_port,
        })
    }

    async fn wait_bound(&self, limit: Duration) -> Result<()> {
        let start = Instant::now();
        while StdUdpSocket::bind(("127.0.0.1", self.sip_port)).is_ok() {
            if start.elapsed() > limit {
                bail!("sipp did not bind port {}", self.sip_port);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free UDP port on loopback whose successor is free too; even when `even`.
fn free_port(even: bool) -> Result<u16> {
    for _ in 0..500 {
        let Ok(sock) = StdUdpSocket::bind("127.0.0.1:0") else {
            continue;
        };
        let port = sock.local_addr()?.port();
        if (even && port % 2 != 0) || port > 60000 {
            continue;
        }
        if StdUdpSocket::bind(("127.0.0.1", port + 1)).is_ok() {
            return Ok(port);
        }
    }
    Err(anyhow!("no free port pair"))
}

// ---------------------------------------------------------------- lossy relay

/// Forwards SIP between the phone and sipp (pointing sipp's SDP at our RTP socket) and RTP both ways,
/// dropping a fraction `loss` of the echoed packets (sipp → phone) by a seeded PRNG.
struct Relay {
    sip_addr: SocketAddr,
    /// Echoed RTP packets (forwarded, dropped), then those of them carrying the tone (forwarded, dropped).
    counts: Arc<[AtomicU64; 4]>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Relay {
    async fn start(sipp_sip: SocketAddr, sipp_media: u16, loss: f64, seed: u64) -> Result<Relay> {
        let sip = Arc::new(UdpSocket::bind(loopback()).await?);
        let rtp = Arc::new(UdpSocket::bind(loopback()).await?);
        let sip_addr = sip.local_addr()?;
        let rtp_port = rtp.local_addr()?.port();
        let sip_task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            let mut phone: Option<SocketAddr> = None;
            while let Ok((n, from)) = sip.recv_from(&mut buf).await {
                if from == sipp_sip {
                    let text = String::from_utf8_lossy(&buf[..n]);
                    let out = rewrite_sdp_port(&text, sipp_media, rtp_port);
                    if let Some(p) = phone {
                        let _ = sip.send_to(out.as_bytes(), p).await;
                    }
                } else {
                    phone = Some(from);
                    let _ = sip.send_to(&buf[..n], sipp_sip).await;
                }
            }
        });
        let sipp_rtp = SocketAddr::from(([127, 0, 0, 1], sipp_media));
        let counts = Arc::new([
            AtomicU64::new(0),
            AtomicU64::new(0),
            AtomicU64::new(0),
            AtomicU64::new(0),
        ]);
        let counted = counts.clone();
        let rtp_task = tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            let mut phone: Option<SocketAddr> = None;
            let mut rng = seed.max(1);
            while let Ok((n, from)) = rtp.recv_from(&mut buf).await {
                if from == sipp_rtp {
                    // xorshift64: deterministic drops for a given seed.
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let dropped = ((rng >> 11) as f64 / (1u64 << 53) as f64) < loss;
                    counted[usize::from(dropped)].fetch_add(1, Ordering::Relaxed);
                    if carries_tone(&buf[..n]) {
                        counted[2 + usize::from(dropped)].fetch_add(1, Ordering::Relaxed);
                    }
                    if let (false, Some(p)) = (dropped, phone) {
                        let _ = rtp.send_to(&buf[..n], p).await;
                    }
                } else {
                    phone = Some(from);
                    let _ = rtp.send_to(&buf[..n], sipp_rtp).await;
                }
            }
        });
        Ok(Relay {
            sip_addr,
            counts,
            tasks: vec![sip_task, rtp_task],
        })
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Whether an RTP packet's G.711 payload is loud (part of the tone burst, not the silence around it).
fn carries_tone(packet: &[u8]) -> bool {
    let Ok(rtp) = crate::rtp::RtpPacket::parse(packet) else {
        return false;
    };
    let Some(codec) = crate::g711::Codec::from_payload_type(rtp.payload_type) else {
        return false;
    };
    let mut pcm = Vec::with_capacity(rtp.payload.len());
    codec.decode(rtp.payload, &mut pcm);
    crate::audio::analysis::rms(&pcm) > f64::from(ONSET_THRESHOLD)
}

/// Point `m=audio <from>` at `to` and fix Content-Length accordingly.
fn rewrite_sdp_port(msg: &str, from: u16, to: u16) -> String {
    let Some((head, body)) = msg.split_once("\r\n\r\n") else {
        return msg.to_owned();
    };
    let needle = format!("m=audio {from} ");
    if !body.contains(&needle) {
        return msg.to_owned();
    }
    let body = body.replace(&needle, &format!("m=audio {to} "));
    let head: Vec<String> = head
        .split("\r\n")
        .map(|l| {
            let lower = l.to_ascii_lowercase();
            if lower.starts_with("content-length:") || lower.starts_with("l:") {
                format!("Content-Length: {}", body.len())
            } else {
                l.to_owned()
            }
        })
        .collect();
    format!("{}\r\n\r\n{body}", head.join("\r\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bench_runs_shortened() {
        let rows = run_bench_with(BenchConfig {
            dials: 3,
            // 2 s so the CPU figure spans a few 10 ms clock ticks.
            call_secs: 2.0,
            // 150 tone packets: enough for the seeded 5 % drops to hit the tone.
            tone_secs: 3.0,
        })
        .await
        .expect("bench");
        for r in &rows {
            eprintln!("{r:?}");
            assert!(r.value.is_finite() && r.value > 0.0, "{r:?}");
            assert!(r.baseline.is_finite() && r.baseline >= 0.0, "{r:?}");
        }
        assert_eq!(rows.len(), 7);
    }

    #[test]
    fn sdp_rewrite_fixes_length() {
        let msg = "SIP/2.0 200 OK\r\nContent-Length: 20\r\n\r\nm=audio 6000 RTP/AVP\r\n";
        let out = rewrite_sdp_port(msg, 6000, 40000);
        assert!(out.contains("m=audio 40000 RTP/AVP"));
        assert!(out.contains("Content-Length: 23"));
    }
}
