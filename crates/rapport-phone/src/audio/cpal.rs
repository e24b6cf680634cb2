//! Sound-device audio backend (feature `cpal`): default input/output devices on a dedicated thread, exchanged with the 20 ms media clock through bounded 8 kHz sample queues.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};

use super::{AudioIo, SAMPLE_RATE};
use crate::error::PhoneError;

/// At most this much audio (in 8 kHz samples) waits in either direction; older samples are dropped.
const MAX_QUEUE: usize = 8000 / 5;

type Queue = Arc<Mutex<VecDeque<i16>>>;

/// Microphone and speaker through cpal. The streams live on their own thread
/// (cpal streams are not `Send` everywhere); dropping this stops them.
pub struct CpalAudio {
    mic: Queue,
    speaker: Queue,
    stop: Option<mpsc::Sender<()>>,
    /// Whether the microphone queue holds enough slack to hand out whole frames.
    mic_primed: bool,
}

/// Captured audio waits until this many samples (40 ms) are queued before frames are handed
/// out, and again after an underrun, so device periods that do not line up with our 20 ms
/// frames never produce frames that are half audio, half zeros.
const MIC_PRIME: usize = 2 * super::FRAME_SAMPLES;

impl std::fmt::Debug for CpalAudio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CpalAudio")
    }
}

impl CpalAudio {
    /// Open the default input and output devices.
    pub fn open_default() -> Result<Self, PhoneError> {
        let mic: Queue = Arc::default();
        let speaker: Queue = Arc::default();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), PhoneError>>();
        let (m, s) = (mic.clone(), speaker.clone());
        std::thread::Builder::new()
            .name("rapport-audio".into())
            .spawn(move || match start_streams(m, s) {
                Ok(streams) => {
                    let _ = ready_tx.send(Ok(()));
                    let _ = stop_rx.recv();
                    drop(streams);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(|e| PhoneError::Audio(e.to_string()))?;
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .map_err(|_| PhoneError::Audio("audio device did not start".into()))??;
        Ok(CpalAudio {
            mic,
            speaker,
            stop: Some(stop_tx),
            mic_primed: false,
        })
    }
}

fn audio_err(e: impl std::fmt::Display) -> PhoneError {
    PhoneError::Audio(e.to_string())
}

fn start_streams(mic: Queue, speaker: Queue) -> Result<(cpal::Stream, cpal::Stream), PhoneError> {
    let host = cpal::default_host();
    let input = host
        .default_input_device()
        .ok_or_else(|| audio_err("no input device"))?;
    let output = host
        .default_output_device()
        .ok_or_else(|| audio_err("no output device"))?;
    let in_cfg: cpal::StreamConfig = input.default_input_config().map_err(audio_err)?.into();
    let out_cfg: cpal::StreamConfig = output.default_output_config().map_err(audio_err)?.into();

    let in_rate = in_cfg.sample_rate;
    let in_channels = usize::from(in_cfg.channels.max(1));
    let mut phase = 0u32;
    let capture = input
        .build_input_stream::<f32, _, _>(
            in_cfg,
            move |data: &[f32], _| {
                let mut q = mic.lock().unwrap_or_else(|p| p.into_inner());
                for frame in data.chunks(in_channels) {
                    // Decimate to 8 kHz by keeping one averaged frame per 8 kHz period.
                    phase += SAMPLE_RATE;
                    if phase >= in_rate {
                        phase -= in_rate;
                        let v = frame.iter().sum::<f32>() / frame.len() as f32;
                        q.push_back((v.clamp(-1.0, 1.0) * 32767.0) as i16);
                    }
                }
                let excess = q.len().saturating_sub(MAX_QUEUE);
                q.drain(..excess);
            },
            |e| tracing::warn!(error = %e, "audio input error"),
            None,
        )
        .map_err(audio_err)?;

    let out_rate = out_cfg.sample_rate;
    let out_channels = usize::from(out_cfg.channels.max(1));
    let mut out_phase = 0u32;
    let mut current = 0.0f32;
    let playback = output
        .build_output_stream::<f32, _, _>(
            out_cfg,
            move |data: &mut [f32], _| {
                let mut q = speaker.lock().unwrap_or_else(|p| p.into_inner());
                for frame in data.chunks_mut(out_channels) {
                    // Hold each 8 kHz sample for out_rate/8000 device frames.
                    out_phase += SAMPLE_RATE;
                    if out_phase >= out_rate {
                        out_phase -= out_rate;
                        current = q.pop_front().map_or(0.0, |s| f32::from(s) / 32768.0);
                    }
                    frame.fill(current);
                }
            },
            |e| tracing::warn!(error = %e, "audio output error"),
            None,
        )
        .map_err(audio_err)?;
    capture.play().map_err(audio_err)?;
    playback.play().map_err(audio_err)?;
    Ok((capture, playback))
}

impl AudioIo for CpalAudio {
    fn capture(&mut self, frame: &mut [i16]) -> bool {
        let mut q = self.mic.lock().unwrap_or_else(|p| p.into_inner());
        let need = if self.mic_primed {
            frame.len()
        } else {
            MIC_PRIME.max(frame.len())
        };
        if q.len() < need {
            // Underrun (or still priming): a whole frame of silence, then build up slack again.
            self.mic_primed = false;
            frame.fill(0);
            return true;
        }
        self.mic_primed = true;
        let n = frame.len();
        for (s, v) in frame.iter_mut().zip(q.drain(..n)) {
            *s = v;
        }
        true
    }

    fn play(&mut self, frame: &[i16]) {
        let mut q = self.speaker.lock().unwrap_or_else(|p| p.into_inner());
        q.extend(frame.iter().copied());
        let excess = q.len().saturating_sub(MAX_QUEUE);
        q.drain(..excess);
    }

    fn close(&mut self) -> Result<(), PhoneError> {
        self.stop.take();
        Ok(())
    }
}

impl Drop for CpalAudio {
    fn drop(&mut self) {
        self.stop.take();
    }
}
