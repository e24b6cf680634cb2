//! Test harness for real loopback peers (sipp, kamailio, baresip): free ports, processes killed on drop, bounded waits, tone files and frequency checks.

#![allow(dead_code)]

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rapport_phone::audio::analysis::{goertzel_ratio, rms, zero_crossing_frequency};
use rapport_phone::audio::sine;
use rapport_phone::audio::wav::{read_wav_8k_mono, write_wav_8k_mono};

/// Ports handed out in this process, so parallel tests never share one.
static HANDED_OUT: Mutex<Vec<u16>> = Mutex::new(Vec::new());

/// A free UDP+TCP port on 127.0.0.1 whose successor is free too (RTP/RTCP pairs); even when `even`.
pub fn free_port_pair(even: bool) -> u16 {
    for _ in 0..500 {
        let Ok(sock) = UdpSocket::bind("127.0.0.1:0") else {
            continue;
        };
        let port = sock.local_addr().unwrap().port();
        if (even && port % 2 != 0) || port > 60000 {
            continue;
        }
        let ok = UdpSocket::bind(("127.0.0.1", port + 1)).is_ok()
            && TcpListener::bind(("127.0.0.1", port)).is_ok()
            && TcpListener::bind(("127.0.0.1", port + 1)).is_ok();
        let mut seen = HANDED_OUT.lock().unwrap();
        if ok && !seen.contains(&port) && !seen.contains(&(port + 1)) {
            seen.extend([port, port + 1]);
            return port;
        }
    }
    panic!("no free port pair");
}

/// A child process killed (and reaped) on drop.
pub struct Peer {
    pub name: &'static str,
    child: Child,
    pub log: PathBuf,
}

impl Peer {
    pub fn spawn(name: &'static str, cmd: &mut Command, log: PathBuf) -> Peer {
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e} (is it installed?)"));
        Peer { name, child, log }
    }

    /// Wait (bounded) for the process to exit by itself.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // SIGTERM first so daemons like kamailio take their worker processes down with them.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        if self.wait_exit(Duration::from_secs(3)).is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Wait until `cond` holds, polling, or panic after `limit`.
pub async fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Wait until a TCP port on 127.0.0.1 is listened on by someone else.
pub async fn wait_tcp_listening(port: u16, limit: Duration) {
    wait_for(&format!("tcp port {port}"), limit, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
}

/// Wait until a UDP port is bound by someone else.
pub async fn wait_udp_bound(port: u16, limit: Duration) {
    wait_for(&format!("udp port {port}"), limit, || {
        UdpSocket::bind(("127.0.0.1", port)).is_err()
    })
    .await;
}

/// Write a tone WAV (8 kHz mono).
pub fn tone_file(dir: &Path, name: &str, freq: f64, seconds: f64) -> PathBuf {
    let path = dir.join(name);
    write_wav_8k_mono(&path, &sine(freq, seconds, 8000.0)).unwrap();
    path
}

/// Measured properties of a recording.
#[derive(Debug)]
pub struct Tone {
    pub seconds: f64,
    pub rms: f64,
    pub zero_crossing_hz: f64,
    pub goertzel: f64,
}

/// Measure a WAV recording (any rate, resampled to 8 kHz), over its loud part only.
pub fn measure(path: &Path, expect_hz: f64) -> Tone {
    let samples =
        read_wav_8k_mono(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let loud: Vec<i16> = samples
        .chunks(160)
        .filter(|c| rms(c) > 500.0)
        .flatten()
        .copied()
        .collect();
    Tone {
        seconds: loud.len() as f64 / 8000.0,
        rms: rms(&loud),
        zero_crossing_hz: zero_crossing_frequency(&loud, 8000),
        // Per 50 ms block: phase jumps between blocks (PLC, DTMF gaps) must not cancel out.
        goertzel: {
            let blocks: Vec<f64> = loud
                .chunks_exact(400)
                .map(|b| goertzel_ratio(b, 8000, expect_hz))
                .collect();
            blocks.iter().sum::<f64>() / blocks.len().max(1) as f64
        },
    }
}

/// Assert that a recording carries `hz` for at least `min_seconds`.
pub fn assert_tone(path: &Path, hz: f64, min_seconds: f64) -> Tone {
    let t = measure(path, hz);
    assert!(
        t.seconds >= min_seconds,
        "{}: only {:.2}s of audio ({t:?})",
        path.display(),
        t.seconds
    );
    assert!(
        (t.zero_crossing_hz - hz).abs() < hz * 0.03,
        "{}: heard {:.1} Hz, want {hz} ({t:?})",
        path.display(),
        t.zero_crossing_hz
    );
    assert!(
        t.goertzel > 0.5,
        "{}: tone not dominant ({t:?})",
        path.display()
    );
    t
}

/// Start a sipp UAS on fresh ports: built-in `uas` with RTP echo, or a scenario file from tests/sipp.
pub fn sipp_uas(dir: &Path, scenario: Option<&str>, extra: &[&str]) -> (Peer, u16, u16) {
    let sip_port = free_port_pair(false);
    let media_port = free_port_pair(true);
    let mut cmd = Command::new("sipp");
    match scenario {
        Some(file) => cmd.arg("-sf").arg(scenario_path(dir, file)),
        None => cmd.args(["-sn", "uas", "-rtp_echo"]),
    };
    cmd.args([
        "-i",
        "127.0.0.1",
        "-p",
        &sip_port.to_string(),
        "-mp",
        &media_port.to_string(),
    ])
    .args(["-m", "1", "-nostdin", "-timeout", "30", "-timeout_error"])
    .args(extra)
    .current_dir(dir);
    let peer = Peer::spawn("sipp", &mut cmd, dir.join(format!("sipp-{sip_port}.log")));
    (peer, sip_port, media_port)
}

/// Start a sipp UAC running a scenario from tests/sipp (see `scenario_path`) against `target`.
pub fn sipp_uac(dir: &Path, scenario: &str, target: std::net::SocketAddr) -> Peer {
    let sip_port = free_port_pair(false);
    let media_port = free_port_pair(true);
    let mut cmd = Command::new("sipp");
    cmd.arg("-sf")
        .arg(scenario_path(dir, scenario))
        .arg(target.to_string())
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &sip_port.to_string(),
            "-mp",
            &media_port.to_string(),
        ])
        .args(["-m", "1", "-nostdin", "-timeout", "30", "-timeout_error"])
        .current_dir(dir);
    Peer::spawn(
        "sipp",
        &mut cmd,
        dir.join(format!("sipp-uac-{sip_port}.log")),
    )
}

/// A scenario from tests/sipp; `name?K=V&K=V` substitutes `@K@` placeholders into a temp copy.
fn scenario_path(dir: &Path, spec: &str) -> PathBuf {
    let (file, subst) = spec.split_once('?').unwrap_or((spec, ""));
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(file);
    if subst.is_empty() {
        return source;
    }
    let mut text = std::fs::read_to_string(&source).unwrap();
    for pair in subst.split('&') {
        let (k, v) = pair.split_once('=').unwrap();
        text = text.replace(&format!("@{k}@"), v);
    }
    let mut hash = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(&text, &mut hash);
    let out = dir.join(format!("{:016x}-{file}", std::hash::Hasher::finish(&hash)));
    std::fs::write(&out, text).unwrap();
    out
}

/// Start kamailio as registrar/proxy (digest auth via auth_db over db_text, record-route) on a fresh port.
pub fn kamailio(dir: &Path, users: &[(&str, &str)]) -> (Peer, u16) {
    let port = free_port_pair(false);
    (kamailio_on(dir, users, port, None, "kamailio.log"), port)
}

/// A server certificate for kamailio's TLS listener, signed by a throwaway CA.
pub struct TlsFiles {
    /// The CA certificate (PEM) clients must trust.
    pub ca: PathBuf,
    /// The server certificate (PEM), for `IP:127.0.0.1`.
    pub cert: PathBuf,
    /// The server's private key (PEM).
    pub key: PathBuf,
}

/// Generate a throwaway CA (`name`-ca.pem) and a server certificate for 127.0.0.1 it signed, with the openssl CLI.
pub fn make_tls_files(dir: &Path, name: &str) -> TlsFiles {
    let p = |f: &str| dir.join(format!("{name}-{f}"));
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("running openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let s = |p: &PathBuf| p.to_str().unwrap().to_owned();
    let (ca, ca_key, cert, key, csr, ext) = (
        p("ca.pem"),
        p("ca.key"),
        p("server.pem"),
        p("server.key"),
        p("server.csr"),
        p("ext.cnf"),
    );
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut args = vec!["req", "-x509", "-days", "2", "-subj"];
    let ca_subject = format!("/CN=Rapport test CA {name}");
    args.push(&ca_subject);
    args.extend(ec);
    let (ca_key_s, ca_s) = (s(&ca_key), s(&ca));
    args.extend(["-keyout", &ca_key_s, "-out", &ca_s]);
    run(&args);
    let (key_s, csr_s) = (s(&key), s(&csr));
    let mut args = vec!["req", "-subj", "/CN=127.0.0.1"];
    args.extend(ec);
    args.extend(["-keyout", &key_s, "-out", &csr_s]);
    run(&args);
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let (cert_s, ext_s) = (s(&cert), s(&ext));
    run(&[
        "x509",
        "-req",
        "-days",
        "2",
        "-in",
        &csr_s,
        "-CA",
        &ca_s,
        "-CAkey",
        &ca_key_s,
        "-CAcreateserial",
        "-extfile",
        &ext_s,
        "-out",
        &cert_s,
    ]);
    TlsFiles { ca, cert, key }
}

/// Start kamailio on `port` (UDP and TCP), plus a TLS listener on `tls` (port, certificate) when given.
/// Restartable on the same port with the same `dir`; `log_name` keeps each run's log apart.
pub fn kamailio_on(
    dir: &Path,
    users: &[(&str, &str)],
    port: u16,
    tls: Option<(u16, &TlsFiles)>,
    log_name: &str,
) -> Peer {
    let db = dir.join("db");
    std::fs::create_dir_all(&db).unwrap();
    std::fs::write(
        db.join("version"),
        "id(int,auto) table_name(string) table_version(int) \n0:subscriber:7\n0:location:9\n",
    )
    .unwrap();
    let mut subscriber = String::from(
        "id(int,auto) username(string) domain(string) password(string) ha1(string) ha1b(string) \n",
    );
    for (i, (user, password)) in users.iter().enumerate() {
        subscriber.push_str(&format!(
            "{}:{user}:127.0.0.1:{password}:unused:unused\n",
            i + 1
        ));
    }
    std::fs::write(db.join("subscriber"), subscriber).unwrap();
    let tls_cfg = match tls {
        Some((tls_port, files)) => {
            let tls_file = dir.join("tls.cfg");
            std::fs::write(
                &tls_file,
                format!(
                    "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\n\
                     require_certificate = no\nprivate_key = {}\ncertificate = {}\n\n\
                     [client:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n",
                    files.key.display(),
                    files.cert.display()
                ),
            )
            .unwrap();
            format!(
                "enable_tls=yes\nlisten=tls:127.0.0.1:{tls_port}\n\
                 loadmodule \"/usr/lib/x86_64-linux-gnu/kamailio/modules/tls.so\"\n\
                 modparam(\"tls\", \"config\", \"{}\")\n",
                tls_file.display()
            )
        }
        None => String::new(),
    };
    let cfg = KAMAILIO_CFG
        .replace("@PORT@", &port.to_string())
        .replace("@DB@", db.to_str().unwrap())
        .replace("@TLS@", &tls_cfg);
    let cfg_path = dir.join("kamailio.cfg");
    std::fs::write(&cfg_path, cfg).unwrap();
    let run = dir.join("run");
    std::fs::create_dir_all(&run).unwrap();
    let mut cmd = Command::new("kamailio");
    cmd.args(["-DD", "-E", "-m", "32", "-M", "8", "-f"])
        .arg(&cfg_path)
        .arg("-Y")
        .arg(&run);
    Peer::spawn("kamailio", &mut cmd, dir.join(log_name))
}

const KAMAILIO_CFG: &str = r#"#!KAMAILIO
debug=2
log_stderror=yes
children=2
tcp_children=1
auto_aliases=no
listen=udp:127.0.0.1:@PORT@
listen=tcp:127.0.0.1:@PORT@
@TLS@
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "db_text.so"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("usrloc", "db_mode", 0)
modparam("auth_db", "db_url", "text://@DB@")
modparam("auth_db", "calculate_ha1", yes)
modparam("auth_db", "password_column", "password")
modparam("auth_db", "load_credentials", "")
modparam("rr", "enable_full_lr", 1)
# Short lifetimes for the refresh tests (the default floor is 60 s).
modparam("registrar", "min_expires", 5)

request_route {
    xlog("L_INFO", "$rm $ru from $si:$sp over $pr
");
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    if (has_totag()) {
        if (loose_route()) {
            t_relay();
            exit;
        }
        if (is_method("ACK")) {
            if (t_check_trans()) {
                t_relay();
            }
            exit;
        }
        sl_send_reply("404", "Not here");
        exit;
    }
    if (is_method("CANCEL")) {
        if (t_check_trans()) {
            t_relay();
        }
        exit;
    }
    t_check_trans();
    if (is_method("REGISTER")) {
        if (!auth_check("$fd", "subscriber", "1")) {
            auth_challenge("$fd", "0");
            exit;
        }
        if (!save("location")) {
            sl_reply_error();
        } else {
            xlog("L_INFO", "SAVED $fu over $pr from $si:$sp
");
        }
        exit;
    }
    if (is_method("INVITE")) {
        if (!auth_check("$fd", "subscriber", "1")) {
            auth_challenge("$fd", "0");
            exit;
        }
        consume_credentials();
        record_route();
    }
    if (!lookup("location")) {
        sl_send_reply("404", "Not Found");
        exit;
    }
    t_relay();
}
"#;

/// Wait (bounded) for an event matching `pred`, returning it.
pub async fn expect_event(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<rapport_phone::PhoneEvent>,
    limit: Duration,
    mut pred: impl FnMut(&rapport_phone::PhoneEvent) -> bool,
) -> rapport_phone::PhoneEvent {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(e)) if pred(&e) => return e,
            Ok(Some(_)) => {}
            Ok(None) => panic!("phone event stream closed"),
            Err(_) => panic!("timed out waiting for a phone event"),
        }
    }
}

/// A WAV-backed audio factory for `Phone::start`.
pub fn wav_factory(play: Option<PathBuf>, record: Option<PathBuf>) -> rapport_phone::AudioFactory {
    std::sync::Arc::new(move || {
        let io = rapport_phone::audio::wav::WavAudio::open(play.as_deref(), record.as_deref())?;
        Ok(Box::new(io) as Box<dyn rapport_phone::audio::AudioIo>)
    })
}

/// A baresip user agent on fresh ports: auto-answer, `aufile` plays `play`, `sndfile` records into `dir/rec`.
/// Returns the peer, its SIP port and its `cons` UDP console port.
pub fn baresip(dir: &Path, play: &Path, answer_mode: &str) -> (Peer, u16, u16) {
    let sip_port = free_port_pair(false);
    let cons_port = free_port_pair(false);
    let conf = dir.join("baresip");
    let rec = dir.join("rec");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::create_dir_all(&rec).unwrap();
    let config = format!(
        "poll_method epoll\nsip_listen 127.0.0.1:{sip_port}\nnet_interface 127.0.0.1\n\
         audio_player aubridge,bridge\naudio_source aufile,{play}\naudio_alert aubridge,alert\n\
         module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule aufile.so\nmodule aubridge.so\nmodule sndfile.so\n\
         module_app account.so\nmodule_app menu.so\nmodule cons.so\ncons_listen 127.0.0.1:{cons_port}\n\
         snd_path {rec}\nrtp_ports 20000-40000\n",
        play = play.display(),
        rec = rec.display(),
    );
    std::fs::write(conf.join("config"), config).unwrap();
    std::fs::write(
        conf.join("accounts"),
        format!("<sip:baresip@127.0.0.1:{sip_port}>;regint=0;answermode={answer_mode}\n"),
    )
    .unwrap();
    let mut cmd = Command::new("baresip");
    cmd.arg("-f").arg(&conf).arg("-v");
    let peer = Peer::spawn("baresip", &mut cmd, dir.join("baresip.log"));
    (peer, sip_port, cons_port)
}

/// Send a command line to baresip's UDP console (`cons` module).
pub fn baresip_command(cons_port: u16, line: &str) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.send_to(format!("{line}\n").as_bytes(), ("127.0.0.1", cons_port))
        .unwrap();
}

/// The sndfile recordings baresip made: (what it decoded = heard from us, what it encoded = sent to us).
pub fn baresip_recordings(dir: &Path) -> (Option<PathBuf>, Option<PathBuf>) {
    let mut dec = None;
    let mut enc = None;
    for entry in std::fs::read_dir(dir.join("rec"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with("-dec.wav") {
            dec = Some(entry.path());
        } else if name.ends_with("-enc.wav") {
            enc = Some(entry.path());
        }
    }
    (dec, enc)
}

/// Send raw key presses (no newline) to baresip's console, e.g. a DTMF digit during a call.
pub fn baresip_command_raw(cons_port: u16, keys: &str) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.send_to(keys.as_bytes(), ("127.0.0.1", cons_port))
        .unwrap();
}
