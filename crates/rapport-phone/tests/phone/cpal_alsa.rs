//! The cpal backend on a real ALSA stack without a sound card: a test-local `~/.asoundrc` makes the default device a `file` plugin over the `null` PCM, so our 440 Hz tone played through `CpalAudio` lands in a file and an `infile` 600 Hz tone comes back as captured audio. The null PCM has no clock (it free-runs, ~70x real time), so both files are FIFOs served in real time by threads, which act as the sound card's clock. Runs in a child process (ALSA reads its config once per process, from `$HOME`).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rapport_phone::audio::analysis::{goertzel_ratio, rms};
use rapport_phone::audio::cpal::CpalAudio;
use rapport_phone::audio::{AudioIo, FRAME_SAMPLES, sine};

/// The device rate the `plug` layer converts to on both sides of the file plugins.
const DEVICE_RATE: u32 = 48_000;
const CHILD_ENV: &str = "RAPPORT_ALSA_TEST_DIR";
const PLAY_HZ: f64 = 440.0;
/// alsa-lib's file plugin fills each capture period with a single `read()` of the infile and
/// leaves the rest of the period as it was when the read comes up short (as reads from a FIFO
/// do). 600 Hz is a whole number of cycles in every 240-frame (5 ms) piece at 48 kHz, so such
/// stale or short pieces still join up without a phase jump and only our own path is measured.
const CAPTURE_HZ: f64 = 600.0;

fn asoundrc(dir: &Path) -> String {
    format!(
        r#"pcm.!default {{
  type asym
  playback.pcm "rapport_out"
  capture.pcm "rapport_in"
}}
pcm.rapport_out {{
  type plug
  slave {{ pcm "rapport_out_file" format S16_LE rate {DEVICE_RATE} channels 1 }}
}}
pcm.rapport_out_file {{
  type file
  slave.pcm "null"
  file "{dir}/speaker.fifo"
  format "raw"
}}
pcm.rapport_in {{
  type plug
  slave {{ pcm "rapport_in_file" format S16_LE rate {DEVICE_RATE} channels 1 }}
}}
pcm.rapport_in_file {{
  type file
  slave.pcm "null"
  file "/dev/null"
  infile "{dir}/mic.fifo"
  format "raw"
}}
"#,
        dir = dir.display()
    )
}

fn write_raw(path: &Path, samples: &[i16]) {
    let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

fn read_raw(path: &Path) -> Vec<i16> {
    std::fs::read(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// Feed the microphone FIFO in real time, 10 ms at a time, reopening it whenever ALSA
/// reopens the device: the null PCM has no clock, so this writer is the capture clock.
fn feed_microphone(fifo: std::path::PathBuf, stop: std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::io::Write;
    use std::sync::atomic::Ordering;
    let chunk = DEVICE_RATE as usize / 100;
    let mut phase = 0usize;
    while !stop.load(Ordering::Relaxed) {
        // Blocks until ALSA opens the FIFO for reading.
        let Ok(mut w) = std::fs::OpenOptions::new().write(true).open(&fifo) else {
            return;
        };
        let start = Instant::now();
        let mut sent = 0u64;
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let bytes: Vec<u8> = (phase..phase + chunk)
                .flat_map(|i| {
                    let t = i as f64 / f64::from(DEVICE_RATE);
                    let v = (10000.0 * (2.0 * std::f64::consts::PI * CAPTURE_HZ * t).sin()) as i16;
                    v.to_le_bytes()
                })
                .collect();
            if w.write_all(&bytes).is_err() {
                break; // the reader closed: ALSA reopens the device
            }
            phase += chunk;
            sent += 10;
            std::thread::sleep(
                (start + Duration::from_millis(sent)).saturating_duration_since(Instant::now()),
            );
        }
    }
}

/// Drain the speaker FIFO in real time into `out` (reopening with the device), so playback
/// is paced like a sound card instead of free-running on the clockless null PCM.
fn drain_speaker(
    fifo: std::path::PathBuf,
    out: std::path::PathBuf,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering;
    let mut sink = std::fs::File::create(out).unwrap();
    let chunk = DEVICE_RATE as usize / 100 * 2;
    let mut buf = vec![0u8; chunk];
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut r) = std::fs::File::open(&fifo) else {
            return;
        };
        let start = Instant::now();
        let mut taken = 0u64;
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => sink.write_all(&buf[..n]).unwrap(),
            }
            taken += 10;
            std::thread::sleep(
                (start + Duration::from_millis(taken)).saturating_duration_since(Instant::now()),
            );
        }
    }
}

/// The child: drive `CpalAudio` like the media clock does, one 20 ms frame per tick.
fn child(dir: &Path) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let feeder = {
        let (fifo, stop) = (dir.join("mic.fifo"), stop.clone());
        std::thread::spawn(move || feed_microphone(fifo, stop))
    };
    let drain = {
        let (fifo, out, stop) = (
            dir.join("speaker.fifo"),
            dir.join("played.raw"),
            stop.clone(),
        );
        std::thread::spawn(move || drain_speaker(fifo, out, stop))
    };
    let mut audio = CpalAudio::open_default().expect("opening the default ALSA devices");
    let tone = sine(PLAY_HZ, 1.0, 12000.0);
    let mut captured = Vec::new();
    let mut frame = vec![0i16; FRAME_SAMPLES];
    let start = Instant::now();
    // 1 s of tone, then 1.5 s of silence while the pipe and ALSA buffers (~0.7 s) drain.
    let tone_frames = tone.len() / FRAME_SAMPLES;
    for i in 0..tone_frames + 75 {
        if let Some(out) = tone.chunks_exact(FRAME_SAMPLES).nth(i) {
            audio.play(out);
        }
        assert!(audio.capture(&mut frame));
        if i < tone_frames {
            captured.extend_from_slice(&frame);
        }
        let next = start + Duration::from_millis(20 * (i as u64 + 1));
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    audio.close().unwrap();
    drop(audio);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    write_raw(&dir.join("captured-8k.raw"), &captured);
    // The threads may sit in open(), read() or write(); the process exit ends them.
    drop((feeder, drain));
}

#[test]
fn the_cpal_backend_plays_and_captures_through_alsa_file_plugins() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child(Path::new(&dir));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".asoundrc"), asoundrc(dir.path())).unwrap();
    // What the "microphone" hears (600 Hz at the device rate) comes through a FIFO in real time.
    let fifo = dir.path().join("mic.fifo");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .arg(dir.path().join("speaker.fifo"))
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo failed");
    let started = Instant::now();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "cpal_alsa::the_cpal_backend_plays_and_captures_through_alsa_file_plugins",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .env("HOME", dir.path())
        .env_remove("ALSA_CONFIG_PATH")
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        out.status.success(),
        "child failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let played = read_raw(&dir.path().join("played.raw"));
    let captured = read_raw(&dir.path().join("captured-8k.raw"));
    // Measured within the non-silent runs: playback starts with the silence cpal wrote before
    // our first frame, and capture with the 40 ms priming.
    let out = measure_runs(&played, DEVICE_RATE, PLAY_HZ, 480);
    let cap = measure_runs(&captured, 8000, CAPTURE_HZ, 80);
    eprintln!(
        "child ran {elapsed:?}; played.raw holds {:.1} s of device time; played {out:?}; captured {cap:?}",
        played.len() as f64 / f64::from(DEVICE_RATE),
    );
    // All of the 1 s tone came out, at its pitch, without gaps or clicks...
    assert!(out.seconds > 0.95, "played only {out:?}");
    assert!((out.hz - PLAY_HZ).abs() < PLAY_HZ * 0.02, "played {out:?}");
    assert!(out.goertzel > 0.9, "played {out:?}");
    // ...and the microphone's tone arrived in our 8 kHz frames.
    assert!(cap.seconds > 0.8, "captured only {cap:?}");
    assert!(
        (cap.hz - CAPTURE_HZ).abs() < CAPTURE_HZ * 0.02,
        "captured {cap:?}"
    );
    assert!(cap.goertzel > 0.8, "captured {cap:?}");
}

/// Tone measured over the non-silent runs of a recording.
#[derive(Debug)]
struct Runs {
    /// Total length of the runs.
    seconds: f64,
    /// Zero crossings inside runs over their total length.
    hz: f64,
    /// Mean Goertzel ratio of the expected frequency per 50 ms block (a phase jump from a
    /// scheduling hiccup on a loaded machine costs one block, not the whole run).
    goertzel: f64,
}

/// Split at stretches of 8+ zero samples, keep runs of at least `min_len` samples.
fn measure_runs(samples: &[i16], rate: u32, hz: f64, min_len: usize) -> Runs {
    let mut runs: Vec<&[i16]> = Vec::new();
    let (mut start, mut zeros) = (None, 0usize);
    for (i, &s) in samples.iter().enumerate() {
        if s == 0 {
            zeros += 1;
            if zeros == 8
                && let Some(st) = start.take()
            {
                runs.push(&samples[st..i + 1 - 8]);
            }
        } else {
            zeros = 0;
            start.get_or_insert(i);
        }
    }
    if let Some(st) = start {
        runs.push(&samples[st..]);
    }
    runs.retain(|r| r.len() >= min_len && rms(r) > 2000.0);
    let total: usize = runs.iter().map(|r| r.len()).sum();
    let crossings: usize = runs
        .iter()
        .map(|r| r.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count())
        .sum();
    let seconds = total as f64 / f64::from(rate);
    Runs {
        seconds,
        hz: if total == 0 {
            0.0
        } else {
            crossings as f64 / 2.0 / seconds
        },
        goertzel: runs
            .iter()
            .map(|r| goertzel_ratio(r, rate, hz))
            .sum::<f64>()
            / runs.len().max(1) as f64,
    }
}
