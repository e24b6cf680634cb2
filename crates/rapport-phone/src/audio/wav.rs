//! WAV-file audio backend: plays a file as the microphone and records what is heard, paced by the media task's clock.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use super::{AudioIo, SAMPLE_RATE};
use crate::error::PhoneError;

/// Plays `play` (any rate/channels, resampled to 8 kHz mono) and records to `record` (8 kHz mono 16-bit).
pub struct WavAudio {
    source: Vec<i16>,
    position: usize,
    looped: bool,
    writer: Option<hound::WavWriter<BufWriter<File>>>,
}

impl std::fmt::Debug for WavAudio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavAudio")
            .field("samples", &self.source.len())
            .field("position", &self.position)
            .field("recording", &self.writer.is_some())
            .finish()
    }
}

impl WavAudio {
    /// Open the files. Either may be absent (silence / discard).
    pub fn open(play: Option<&Path>, record: Option<&Path>) -> Result<Self, PhoneError> {
        let source = match play {
            Some(path) => read_wav_8k_mono(path)?,
            None => Vec::new(),
        };
        let writer = match record {
            Some(path) => Some(hound::WavWriter::create(path, spec())?),
            None => None,
        };
        Ok(WavAudio {
            source,
            position: 0,
            looped: false,
            writer,
        })
    }

    /// Play from memory instead of a file.
    pub fn from_samples(samples: Vec<i16>, record: Option<&Path>) -> Result<Self, PhoneError> {
        let mut me = WavAudio::open(None, record)?;
        me.source = samples;
        Ok(me)
    }

    /// Restart the file when it ends instead of falling silent.
    pub fn looping(mut self, looped: bool) -> Self {
        self.looped = looped;
        self
    }
}

fn spec() -> hound::WavSpec {
    hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

/// Read a WAV file as 8 kHz mono 16-bit samples (channels averaged, linear resampling).
pub fn read_wav_8k_mono(path: &Path) -> Result<Vec<i16>, PhoneError> {
    let mut reader = hound::WavReader::open(path)
        .map_err(|e| PhoneError::Audio(format!("{}: {e}", path.display())))?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let raw: Vec<f64> = match spec.sample_format {
        hound::SampleFormat::Int => {
            let scale = f64::from(1u32 << (spec.bits_per_sample.clamp(8, 32) - 1).min(31));
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| f64::from(v) / scale))
                .collect::<Result<_, _>>()?
        }
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .map(|s| s.map(f64::from))
            .collect::<Result<_, _>>()?,
    };
    let mono: Vec<f64> = raw
        .chunks(channels)
        .map(|c| c.iter().sum::<f64>() / c.len() as f64)
        .collect();
    Ok(resample(&mono, spec.sample_rate, SAMPLE_RATE)
        .into_iter()
        .map(|v| (v * 32767.0).clamp(-32768.0, 32767.0) as i16)
        .collect())
}

fn resample(input: &[f64], from: u32, to: u32) -> Vec<f64> {
    if from == to || from == 0 || input.is_empty() {
        return input.to_vec();
    }
    let ratio = f64::from(from) / f64::from(to);
    let n = (input.len() as f64 / ratio) as usize;
    (0..n)
        .map(|i| {
            let pos = i as f64 * ratio;
            let j = pos as usize;
            let frac = pos - j as f64;
            let a = input[j.min(input.len() - 1)];
            let b = input[(j + 1).min(input.len() - 1)];
            a + (b - a) * frac
        })
        .collect()
}

/// Write 8 kHz mono samples to a WAV file.
pub fn write_wav_8k_mono(path: &Path, samples: &[i16]) -> Result<(), PhoneError> {
    let mut w = hound::WavWriter::create(path, spec())?;
    for &s in samples {
        w.write_sample(s)?;
    }
    w.finalize()?;
    Ok(())
}

impl AudioIo for WavAudio {
    fn capture(&mut self, frame: &mut [i16]) -> bool {
        if self.looped && self.position >= self.source.len() && !self.source.is_empty() {
            self.position = 0;
        }
        let end = (self.position + frame.len()).min(self.source.len());
        let got = end.saturating_sub(self.position);
        frame[..got].copy_from_slice(&self.source[self.position..end]);
        frame[got..].fill(0);
        self.position = end;
        got > 0
    }

    fn play(&mut self, frame: &[i16]) {
        if let Some(w) = &mut self.writer {
            for &s in frame {
                if w.write_sample(s).is_err() {
                    break;
                }
            }
        }
    }

    fn close(&mut self) -> Result<(), PhoneError> {
        if let Some(w) = self.writer.take() {
            w.finalize()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::analysis::zero_crossing_frequency;
    use crate::audio::sine;

    #[test]
    fn plays_and_records_frames() {
        let dir = tempfile::tempdir().unwrap();
        let play = dir.path().join("in.wav");
        let rec = dir.path().join("out.wav");
        write_wav_8k_mono(&play, &sine(440.0, 0.05, 5000.0)).unwrap();
        let mut io = WavAudio::open(Some(&play), Some(&rec)).unwrap();
        let mut frame = [0i16; 160];
        let mut frames = 0;
        while io.capture(&mut frame) {
            io.play(&frame);
            frames += 1;
        }
        assert_eq!(frames, 3); // 400 samples = 2.5 frames
        io.close().unwrap();
        let back = read_wav_8k_mono(&rec).unwrap();
        assert_eq!(back.len(), 480);
        assert!((zero_crossing_frequency(&back[..400], 8000) - 440.0).abs() < 25.0);
    }

    #[test]
    fn resamples_other_rates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hi.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 16000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..16000 {
            let v = (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * f64::from(i) / 16000.0).sin())
                as i16;
            w.write_sample(v).unwrap();
            w.write_sample(v).unwrap();
        }
        w.finalize().unwrap();
        let s = read_wav_8k_mono(&path).unwrap();
        assert_eq!(s.len(), 8000);
        assert!((zero_crossing_frequency(&s, 8000) - 440.0).abs() < 5.0);
    }
}
