//! Audio I/O behind the `AudioIo` trait (20 ms frames of 8 kHz mono PCM), pulled by the media clock; WAV files, silence, and (feature `cpal`) sound devices.

pub mod analysis;
#[cfg(feature = "cpal")]
pub mod cpal;
pub mod wav;

use crate::error::PhoneError;
pub use crate::jitter::FRAME_SAMPLES;

/// Sample rate of every frame exchanged with an `AudioIo`.
pub const SAMPLE_RATE: u32 = 8000;

/// A source and sink of audio frames. The media task calls `capture` and
/// `play` once per 20 ms tick of its clock, so backends need no clock of their own.
pub trait AudioIo: Send + 'static {
    /// Fill `frame` (`FRAME_SAMPLES` samples) with the next captured audio.
    /// Returns `false` once the source has nothing more (the frame is then silence).
    fn capture(&mut self, frame: &mut [i16]) -> bool;
    /// Play (or record) one frame of received audio.
    fn play(&mut self, frame: &[i16]);
    /// Flush and release the backend. Called once when the call's media stops.
    fn close(&mut self) -> Result<(), PhoneError> {
        Ok(())
    }
}

/// Sends silence and discards what it receives.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullAudio;

impl AudioIo for NullAudio {
    fn capture(&mut self, frame: &mut [i16]) -> bool {
        frame.fill(0);
        true
    }
    fn play(&mut self, _frame: &[i16]) {}
}

/// Generate `seconds` of a sine tone at `freq` Hz, 8 kHz, with the given peak amplitude.
pub fn sine(freq: f64, seconds: f64, amplitude: f64) -> Vec<i16> {
    let n = (seconds * f64::from(SAMPLE_RATE)) as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(SAMPLE_RATE);
            (amplitude * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
        })
        .collect()
}
